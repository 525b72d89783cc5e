-- one row per patient per index date (keyed by int_cohort.cohort_id): adult social care packages active at the index date
with

cohort as (
    select cohort_id, patient_id, index_date from features.int_cohort
),

index_dates as (
    select index_date from features.feat_index_dates
),

social_care as (
    select * from core.core_social_care_services
),

-- active at D: started on or before D, not ended on or before D
active_services as (
    select
        social_care.patient_id,
        index_dates.index_date,
        sum(coalesce(social_care.planned_hours_per_week, 0)) as social_care_hours_per_week,
        bool_or(social_care.service_type = 'home_care') as has_home_care,
        bool_or(
            social_care.service_type in ('residential_care', 'nursing_care')
        ) as has_care_home_placement,
    from social_care
    inner join index_dates
        on social_care.start_date <= index_dates.index_date
        and (social_care.end_date is null or social_care.end_date > index_dates.index_date)
    group by social_care.patient_id, index_dates.index_date
),

final as (
    select
        cohort.cohort_id,
        coalesce(active_services.social_care_hours_per_week, 0) as social_care_hours_per_week,
        coalesce(active_services.has_home_care, false) as has_home_care,
        coalesce(active_services.has_care_home_placement, false) as has_care_home_placement,
    from cohort
    left join active_services
        on cohort.patient_id = active_services.patient_id
        and cohort.index_date = active_services.index_date
)

select
    cohort_id,
    social_care_hours_per_week,
    has_home_care,
    has_care_home_placement,
from final
