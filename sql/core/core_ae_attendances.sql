-- one row per emergency care attendance (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_patient_rows('ae_attendances')
),

parsed as (
    select * replace (arrival_datetime__datetime as arrival_datetime)
    from accepted
),

final as (
    select
        raw.trimmed(attendance_id) as attendance_id,
        patient_id,
        arrival_datetime,
        cast(arrival_datetime as date) as arrival_date,
        raw.blank_to_null(department_type) as department_type,
        raw.parse_boolean(arrival_planned) as is_planned,
        raw.blank_to_null(chief_complaint_snomed) as chief_complaint_snomed,
        raw.blank_to_null(accommodation_status_snomed) as accommodation_status_snomed,
        raw.parse_boolean(admitted) as is_admitted,
    from parsed
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
