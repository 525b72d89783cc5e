-- one row per emergency care attendance (latest snapshot; accepted rows only, typed and normalised)
with

file_loads as (
    select load_id
    from audit.loads
    where snapshot_id = $snapshot_id and file = 'ae_attendances'
),

landed as (
    select *
    from raw.ae_attendances
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
        trim(accepted.attendance_id) as attendance_id,
        pseudonyms.patient_id,
        raw.parse_datetime(accepted.arrival_datetime) as arrival_datetime,
        cast(raw.parse_datetime(accepted.arrival_datetime) as date) as arrival_date,
        raw.blank_to_null(accepted.department_type) as department_type,
        raw.parse_boolean(accepted.arrival_planned) as is_planned,
        raw.blank_to_null(accepted.chief_complaint_snomed) as chief_complaint_snomed,
        raw.blank_to_null(accepted.accommodation_status_snomed) as accommodation_status_snomed,
        raw.parse_boolean(accepted.admitted) as is_admitted,
    from accepted
    inner join pseudonyms
        on raw.nhs_digits(accepted.nhs_number) = pseudonyms.nhs_number
)

select
    attendance_id,
    patient_id,
    arrival_datetime,
    arrival_date,
    department_type,
    is_planned,
    chief_complaint_snomed,
    accommodation_status_snomed,
    is_admitted,
from final
