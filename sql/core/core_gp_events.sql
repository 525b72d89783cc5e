-- one row per coded GP journal entry (latest snapshot; accepted rows only, typed and normalised)
with

file_loads as (
    select load_id
    from audit.loads
    where snapshot_id = $snapshot_id and file = 'gp_events'
),

landed as (
    select *
    from raw.gp_events
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
        raw.parse_date(accepted.event_date) as event_date,
        trim(accepted.snomed_code) as snomed_code,
        cast(raw.blank_to_null(accepted.numeric_value) as double) as numeric_value,
    from accepted
    inner join pseudonyms
        on raw.nhs_digits(accepted.nhs_number) = pseudonyms.nhs_number
)

select
    patient_id,
    event_date,
    snomed_code,
    numeric_value,
from final
