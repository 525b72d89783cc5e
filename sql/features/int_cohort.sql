-- one row per patient per index date: patients alive and registered at the index date, with demographics
-- (with $training_candidates_only, only those aged 65+ at the date or with any housebound or care home record)
with

index_dates as (
    select
        index_date,
        row_number() over (order by index_date) as date_number,
    from features.feat_index_dates
),

patients as (
    select
        *,
        row_number() over () as patient_number,
    from core.core_patients
),

practices as (
    select * from core.core_practices
),

lsoa_imd as (
    select * from core.core_lsoa_imd
),

ethnic_groups as (
    select * from ref.ethnic_groups
),

-- people with a housebound or care home record at any date: with the ages, a superset of the
-- training cohort (aged 65+ or housebound; int_circumstances decides who is housebound at D)
housebound_candidates as (
    select patient_id from core.core_gp_events
    where snomed_code in (
        select code from ref.snomed_misc where category in ('housebound', 'care_home_residence')
    )
    union
    select patient_id from core.core_ae_attendances
    where accommodation_status_snomed in (
        select code from ref.snomed_misc where category = 'care_home_residence'
    )
),

-- registered at D: started on or before D, not ended on or before D; alive at D: no death on
-- or before D (core's date of death: the GP's, or a hospital spell discharged to 79 if earlier)
registered as (
    select
        -- a compact key for the joins of the feature models: unique per patient and date
        patients.patient_number * 100000 + index_dates.date_number as cohort_id,
        patients.patient_id,
        index_dates.index_date,
        patients.birth_month,
        patients.sex,
        patients.ethnic_category,
        patients.lsoa_code,
        patients.practice_code,
    from patients
    cross join index_dates
    where patients.registration_start_date <= index_dates.index_date
        and (
            patients.registration_end_date is null
            or patients.registration_end_date > index_dates.index_date
        )
        and (patients.date_of_death is null or patients.date_of_death > index_dates.index_date)
        and patients.birth_month <= index_dates.index_date
        -- $training_candidates_only: only people who may be in the training cohort
        and (
            not $training_candidates_only
            or datesub('year', patients.birth_month, index_dates.index_date) >= 65
            or patients.patient_id in (select patient_id from housebound_candidates)
        )
),

final as (
    select
        registered.cohort_id,
        registered.patient_id,
        registered.index_date,
        registered.practice_code,
        practices.neighbourhood_code,
        practices.practice_name,
        datesub('year', registered.birth_month, registered.index_date) as age,
        registered.sex,
        (registered.sex = '2')::integer as sex_female,
        coalesce(ethnic_groups.ethnic_group, 'Not known') as ethnic_group,
        lsoa_imd.imd_decile,
    from registered
    left join practices on registered.practice_code = practices.practice_code
    left join lsoa_imd on registered.lsoa_code = lsoa_imd.lsoa_code
    left join ethnic_groups on registered.ethnic_category = ethnic_groups.ethnic_category
)

select
    cohort_id,
    patient_id,
    index_date,
    practice_code,
    neighbourhood_code,
    practice_name,
    age,
    sex,
    sex_female,
    ethnic_group,
    imd_decile,
from final
