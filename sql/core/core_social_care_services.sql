-- one row per adult social care service package (latest snapshot; accepted rows only, typed and normalised)
with

accepted as (
    select * from raw.accepted_patient_rows('social_care_services')
),

final as (
    select
        patient_id,
        raw.trimmed(service_type) as service_type,
        start_date__date as start_date,
        end_date__date as end_date,
        cast(raw.blank_to_null(planned_hours_per_week) as double) as planned_hours_per_week,
    from accepted
)

select
    patient_id,
    service_type,
    start_date,
    end_date,
    planned_hours_per_week,
from final
