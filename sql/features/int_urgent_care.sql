-- one row per patient per index date (keyed by int_cohort.cohort_id): unplanned A&E attendances and GP-recorded falls up to the index date
with

cohort as (
    select cohort_id, patient_id, index_date from features.int_cohort
),

index_dates as (
    select
        index_date,
        index_date - 90 as start_90d,
        index_date - 180 as start_180d,
        index_date - 365 as start_365d,
    from features.feat_index_dates
),

ae_attendances as (
    select * from core.core_ae_attendances
),

gp_events as (
    select * from core.core_gp_events
),

misc_codes as (
    select * from ref.snomed_misc
),

-- unplanned: arrival not recorded as planned; in (D - 365 days, D]
unplanned_attendances as (
    select
        ae_attendances.patient_id,
        index_dates.index_date,
        count(*) filter (
            where ae_attendances.arrival_date > index_dates.start_90d
        ) as n_ae_unplanned_90d,
        count(*) filter (
            where ae_attendances.arrival_date > index_dates.start_180d
            and ae_attendances.arrival_date <= index_dates.start_90d
        ) as n_ae_unplanned_prev_90d,
        count(*) as n_ae_unplanned_365d,
    from ae_attendances
    inner join index_dates
        on ae_attendances.arrival_date > index_dates.start_365d
        and ae_attendances.arrival_date <= index_dates.index_date
    where ae_attendances.is_planned is not true
    group by ae_attendances.patient_id, index_dates.index_date
),

-- falls: distinct days with a falls code in the GP record in (D - 365 days, D]
fall_days as (
    select distinct
        gp_events.patient_id,
        gp_events.event_date,
    from gp_events
    inner join misc_codes on gp_events.snomed_code = misc_codes.code
    where misc_codes.category = 'falls'
),

falls as (
    select
        fall_days.patient_id,
        index_dates.index_date,
        count(*) as n_falls_365d,
    from fall_days
    inner join index_dates
        on fall_days.event_date > index_dates.start_365d
        and fall_days.event_date <= index_dates.index_date
    group by fall_days.patient_id, index_dates.index_date
),

final as (
    select
        cohort.cohort_id,
        coalesce(unplanned_attendances.n_ae_unplanned_90d, 0) as n_ae_unplanned_90d,
        coalesce(unplanned_attendances.n_ae_unplanned_prev_90d, 0) as n_ae_unplanned_prev_90d,
        coalesce(unplanned_attendances.n_ae_unplanned_365d, 0) as n_ae_unplanned_365d,
        coalesce(falls.n_falls_365d, 0) as n_falls_365d,
    from cohort
    left join unplanned_attendances
        on cohort.patient_id = unplanned_attendances.patient_id
        and cohort.index_date = unplanned_attendances.index_date
    left join falls
        on cohort.patient_id = falls.patient_id
        and cohort.index_date = falls.index_date
)

select
    cohort_id,
    n_ae_unplanned_90d,
    n_ae_unplanned_prev_90d,
    n_ae_unplanned_365d,
    n_falls_365d,
from final
