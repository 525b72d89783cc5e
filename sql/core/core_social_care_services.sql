-- one row per adult social care service package (latest snapshot; accepted rows only, typed and normalised)
with

file_loads as (
    select load_id
    from audit.loads
    where snapshot_id = $snapshot_id and file = 'social_care_services'
),

landed as (
    select *
    from raw.social_care_services
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
        trim(accepted.service_type) as service_type,
        raw.parse_date(accepted.start_date) as start_date,
        raw.parse_date(accepted.end_date) as end_date,
        cast(raw.blank_to_null(accepted.planned_hours_per_week) as double)
            as planned_hours_per_week,
    from accepted
    inner join pseudonyms
        on raw.nhs_digits(accepted.nhs_number) = pseudonyms.nhs_number
)

select
    patient_id,
    service_type,
    start_date,
    end_date,
    planned_hours_per_week,
from final
