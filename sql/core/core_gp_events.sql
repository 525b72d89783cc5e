-- one row per coded GP journal entry (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_patient_rows('gp_events')
),

final as (
    select
        patient_id,
        event_date__date as event_date,
        raw.trimmed(snomed_code) as snomed_code,
        cast(raw.blank_to_null(numeric_value) as double) as numeric_value,
    from accepted
)

select
    patient_id,
    event_date,
    snomed_code,
    numeric_value,
from final
