-- one row per hospital spell per feature it counts towards at $as_of, for the patients in $patient_ids
with

patients as (
    select distinct unnest(cast($patient_ids as varchar[])) as patient_id
),

acute_spells as (
    select * from core.core_acute_spells
),

spells as (
    select
        acute_spells.*,
        cast($as_of as date) - acute_spells.admission_date as days_before,
        -- the kind of admission in words; features/terms.py adds the primary diagnosis's
        -- ICD-10 description ("Emergency admission: J18.9 Pneumonia, unspecified")
        case
            when acute_spells.is_emergency then 'Emergency admission'
            when acute_spells.is_elective then 'Elective admission'
            when left(acute_spells.admission_method, 1) = '3' then 'Maternity admission'
            else 'Admission'
        end as term,
    from acute_spells
    inner join patients on acute_spells.patient_id = patients.patient_id
    where acute_spells.admission_date <= $as_of
),

labelled as (
    select patient_id, 'n_emergency_admissions_30d' as feature, admission_date as event_date, primary_diagnosis, term
    from spells where is_emergency and days_before < 30
    union all
    select patient_id, 'n_emergency_admissions_90d', admission_date, primary_diagnosis, term
    from spells where is_emergency and days_before < 90
    union all
    select patient_id, 'n_emergency_admissions_prev_90d', admission_date, primary_diagnosis, term
    from spells where is_emergency and days_before >= 90 and days_before < 180
    union all
    select patient_id, 'n_emergency_admissions_365d', admission_date, primary_diagnosis, term
    from spells where is_emergency and days_before < 365
    union all
    select patient_id, 'emergency_bed_days_365d', admission_date, primary_diagnosis, term
    from spells where is_emergency and days_before < 365
    union all
    select patient_id, 'n_elective_admissions_365d', admission_date, primary_diagnosis, term
    from spells where is_elective and days_before < 365
    union all
    select patient_id, 'days_since_last_emergency_discharge', discharge_date, primary_diagnosis, term
    from spells where is_emergency and discharge_date <= $as_of
    union all
    select patient_id, 'in_hospital', admission_date, primary_diagnosis, term
    from spells
    where (is_emergency or is_elective) and (discharge_date is null or discharge_date > $as_of)
),

final as (
    select
        patient_id,
        feature,
        'acute_spells' as source,
        event_date,
        primary_diagnosis as code,
        term,
    from labelled
)

select
    patient_id,
    cast($as_of as date) as index_date,
    feature,
    source,
    event_date,
    code,
    term,
from final
