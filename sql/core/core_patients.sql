-- one row per registered patient (latest snapshot; accepted rows only, typed and normalised)
with

file_loads as (
    select load_id
    from audit.loads
    where snapshot_id = $snapshot_id and file = 'gp_patients'
),

landed as (
    select *
    from raw.gp_patients
    where _load_id in (select load_id from file_loads)
),

excluded as (
    select load_id, row_number
    from quarantine.rejected_rows
    where load_id in (select load_id from file_loads)
    union all
    select load_id, row_number
    from quarantine.duplicate_rows
    where load_id in (select load_id from file_loads)
),

accepted as (
    select landed.*
    from landed
    anti join excluded
        on landed._load_id = excluded.load_id and landed._row_number = excluded.row_number
),

pseudonyms as (
    select
        nhs_number,
        patient_id(nhs_number) as patient_id,
    from (select distinct raw.nhs_digits(nhs_number) as nhs_number from accepted)
),

final as (
    select
        pseudonyms.patient_id,
        cast(date_trunc('month', raw.parse_date(accepted.date_of_birth)) as date) as birth_month,
        trim(accepted.sex) as sex,
        raw.blank_to_null(accepted.ethnic_category) as ethnic_category,
        upper(raw.blank_to_null(accepted.lsoa_code)) as lsoa_code,
        upper(trim(accepted.practice_code)) as practice_code,
        raw.parse_date(accepted.registration_start_date) as registration_start_date,
        raw.parse_date(accepted.registration_end_date) as registration_end_date,
        raw.parse_date(accepted.date_of_death) as date_of_death,
    from accepted
    inner join pseudonyms
        on raw.nhs_digits(accepted.nhs_number) = pseudonyms.nhs_number
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
