-- one row per adult social care package active at $as_of, for the patients in $patient_ids
with

patients as (
    select distinct unnest(cast($patient_ids as varchar[])) as patient_id
),

social_care as (
    select * from core.core_social_care_services
),

active as (
    select social_care.*
    from social_care
    inner join patients on social_care.patient_id = patients.patient_id
    where social_care.start_date <= $as_of
        and (social_care.end_date is null or social_care.end_date > $as_of)
),

labelled as (
    select patient_id, 'social_care_hours_per_week' as feature, start_date, service_type, planned_hours_per_week
    from active
    union all
    select patient_id, 'has_home_care', start_date, service_type, planned_hours_per_week
    from active where service_type = 'home_care'
    union all
    select patient_id, 'has_care_home_placement', start_date, service_type, planned_hours_per_week
    from active where service_type in ('residential_care', 'nursing_care')
),

final as (
    select
        patient_id,
        feature,
        'social_care_services' as source,
        start_date as event_date,
        -- no clinical code: the team or service is named in the term
        cast(null as varchar) as code,
        -- "Home care, 7.5 hours a week" (hours to one decimal, whole ones without it)
        upper(left(service_type, 1)) || replace(substr(service_type, 2), '_', ' ')
        || coalesce(
            ', '
            || regexp_replace(cast(round(planned_hours_per_week, 1) as varchar), '\.0$', '')
            || ' hours a week',
            ''
        ) as term,
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
