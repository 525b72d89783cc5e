-- one row per patient per index date (keyed by int_cohort.cohort_id): hospital use (emergency and elective admissions, bed days, recency) up to the index date
with

cohort as (
    select cohort_id, patient_id, index_date from features.int_cohort
),

index_dates as (
    select
        index_date,
        index_date - 30 as start_30d,
        index_date - 90 as start_90d,
        index_date - 180 as start_180d,
        index_date - 365 as start_365d,
    from features.feat_index_dates
),

acute_spells as (
    select * from core.core_acute_spells
),

-- spells admitted in (D - 365 days, D]; a discharge after D is not known at D
spells_in_year as (
    select
        acute_spells.patient_id,
        index_dates.index_date,
        acute_spells.is_emergency,
        acute_spells.is_elective,
        acute_spells.admission_date > index_dates.start_30d as in_30d,
        acute_spells.admission_date > index_dates.start_90d as in_90d,
        acute_spells.admission_date > index_dates.start_180d as in_180d,
        least(coalesce(acute_spells.discharge_date, index_dates.index_date), index_dates.index_date)
        - acute_spells.admission_date as bed_days,
    from acute_spells
    inner join index_dates
        on acute_spells.admission_date > index_dates.start_365d
        and acute_spells.admission_date <= index_dates.index_date
),

year_counts as (
    select
        patient_id,
        index_date,
        count(*) filter (where is_emergency and in_30d) as n_emergency_admissions_30d,
        count(*) filter (where is_emergency and in_90d) as n_emergency_admissions_90d,
        count(*) filter (
            where is_emergency and in_180d and not in_90d
        ) as n_emergency_admissions_prev_90d,
        count(*) filter (where is_emergency) as n_emergency_admissions_365d,
        coalesce(sum(bed_days) filter (where is_emergency), 0) as emergency_bed_days_365d,
        count(*) filter (where is_elective) as n_elective_admissions_365d,
    from spells_in_year
    group by patient_id, index_date
),

-- the last emergency discharge on or before D
last_discharges as (
    select
        acute_spells.patient_id,
        index_dates.index_date,
        max(acute_spells.discharge_date) as last_emergency_discharge_date,
    from acute_spells
    inner join index_dates on acute_spells.discharge_date <= index_dates.index_date
    where acute_spells.is_emergency
    group by acute_spells.patient_id, index_dates.index_date
),

final as (
    select
        cohort.cohort_id,
        coalesce(year_counts.n_emergency_admissions_30d, 0) as n_emergency_admissions_30d,
        coalesce(year_counts.n_emergency_admissions_90d, 0) as n_emergency_admissions_90d,
        coalesce(year_counts.n_emergency_admissions_prev_90d, 0) as n_emergency_admissions_prev_90d,
        coalesce(year_counts.n_emergency_admissions_365d, 0) as n_emergency_admissions_365d,
        cast(coalesce(year_counts.emergency_bed_days_365d, 0) as integer) as emergency_bed_days_365d,
        coalesce(year_counts.n_elective_admissions_365d, 0) as n_elective_admissions_365d,
        cohort.index_date - last_discharges.last_emergency_discharge_date
            as days_since_last_emergency_discharge,
    from cohort
    left join year_counts
        on cohort.patient_id = year_counts.patient_id
        and cohort.index_date = year_counts.index_date
    left join last_discharges
        on cohort.patient_id = last_discharges.patient_id
        and cohort.index_date = last_discharges.index_date
)

select
    cohort_id,
    n_emergency_admissions_30d,
    n_emergency_admissions_90d,
    n_emergency_admissions_prev_90d,
    n_emergency_admissions_365d,
    emergency_bed_days_365d,
    n_elective_admissions_365d,
    days_since_last_emergency_discharge,
from final
