-- one row per registered patient (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_patient_rows($snapshot_id, 'gp_patients')
),

final as (
    select
        patient_id,
        cast(date_trunc('month', raw.parse_date(date_of_birth)) as date) as birth_month,
        trim(sex) as sex,
        raw.blank_to_null(ethnic_category) as ethnic_category,
        upper(raw.blank_to_null(lsoa_code)) as lsoa_code,
        upper(trim(practice_code)) as practice_code,
        raw.parse_date(registration_start_date) as registration_start_date,
        raw.parse_date(registration_end_date) as registration_end_date,
        raw.parse_date(date_of_death) as date_of_death,
    from accepted
)

select
    patient_id,
    birth_month,
    sex,
    ethnic_category,
    lsoa_code,
    practice_code,
    registration_start_date,
    registration_end_date,
    date_of_death,
from final
