-- one row per patient per index date of the training cohort (rows of features.feat_training_patients aged
-- 65+ or housebound, as feat_training_sample selects them): the training outcome
-- outcome = an emergency admission (contract methods 21-28, 2A-2D: core is_emergency) or death
-- (core_patients.date_of_death: the GP's date or a hospital death, discharge destination 79, whichever
-- is earlier) in (index_date, index_date + $horizon_days]; used only for training and evaluation,
-- never as a feature.
-- Younger people who are not housebound (~80% of feat_training_patients) are left out: no step reads
-- their outcome, and the joins to spells over 12 index dates are the cost of this model.
with

patients as (
    select
        patient_id,
        index_date,
    from features.feat_training_patients
    where age >= 65 or housebound
),

core_patients as (
    select
        patient_id,
        date_of_death,
    from core.core_patients
),

spells as (
    select
        patient_id,
        admission_date,
        discharge_date,
        is_emergency,
    from core.core_acute_spells
),

first_emergency_admissions as (
    select
        patients.patient_id,
        patients.index_date,
        min(spells.admission_date) as first_emergency_admission_date,
    from patients
    inner join spells
        on spells.patient_id = patients.patient_id
        and spells.is_emergency
        and spells.admission_date > patients.index_date
        and spells.admission_date <= patients.index_date + cast($horizon_days as integer)
    group by patients.patient_id, patients.index_date
),

recorded_deaths as (
    select
        patients.patient_id,
        patients.index_date,
        core_patients.date_of_death,
    from patients
    inner join core_patients
        on core_patients.patient_id = patients.patient_id
        and core_patients.date_of_death > patients.index_date
        and core_patients.date_of_death <= patients.index_date + cast($horizon_days as integer)
),

joined as (
    select
        patients.patient_id,
        patients.index_date,
        first_emergency_admissions.first_emergency_admission_date,
        recorded_deaths.date_of_death as death_date,
    from patients
    left join first_emergency_admissions
        on first_emergency_admissions.patient_id = patients.patient_id
        and first_emergency_admissions.index_date = patients.index_date
    left join recorded_deaths
        on recorded_deaths.patient_id = patients.patient_id
        and recorded_deaths.index_date = patients.index_date
),

final as (
    select
        patient_id,
        index_date,
        least(first_emergency_admission_date, death_date) is not null as outcome,
        least(first_emergency_admission_date, death_date) as outcome_date,
        case
            when first_emergency_admission_date is not null
                and (death_date is null or first_emergency_admission_date <= death_date)
                then 'emergency_admission'
            when death_date is not null then 'death'
        end as outcome_type,
        first_emergency_admission_date,
        death_date,
    from joined
)

select
    patient_id,
    index_date,
    outcome,
    outcome_date,
    outcome_type,
    first_emergency_admission_date,
    death_date,
from final
