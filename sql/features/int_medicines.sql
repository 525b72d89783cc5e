-- one row per patient per index date (keyed by int_cohort.cohort_id): distinct medicines (BNF chemical substance) issued in the 12 months up to the index date
with

cohort as (
    select cohort_id, patient_id, index_date from features.int_cohort
),

index_dates as (
    select
        index_date,
        cast(index_date - interval 12 month as date) as start_12m,
    from features.feat_index_dates
),

medications as (
    select * from core.core_gp_medications
),

-- Only issues inside some index date's 12 months can count: an older issue is never in a
-- window, and dropping it changes no later issue's `lead` (that looks forward only).
issue_days as (
    select distinct
        patient_id,
        bnf_chemical_substance,
        issue_date,
    from medications
    where bnf_chemical_substance is not null
        and issue_date > (select min(start_12m) from index_dates)
),

-- a substance counts at D when its latest issue on or before D is in (D - 12 months, D]:
-- each issue is "the latest" from its date until the next issue of the same substance, so
-- one substance matches a date at most once and a plain count is a distinct count
issue_periods as (
    select
        patient_id,
        bnf_chemical_substance,
        issue_date,
        -- an upper bound for the join (13 months is past any 12-month window end)
        least(
            coalesce(
                lead(issue_date) over (
                    partition by patient_id, bnf_chemical_substance order by issue_date
                ),
                cast(issue_date + interval 13 month as date)
            ),
            cast(issue_date + interval 13 month as date)
        ) as latest_until,
    from issue_days
),

medicines_at_date as (
    select
        issue_periods.patient_id,
        index_dates.index_date,
        count(*) as n_distinct_medicines_12m,
    from issue_periods
    inner join index_dates
        on issue_periods.issue_date <= index_dates.index_date
        and issue_periods.issue_date > index_dates.start_12m
        and issue_periods.latest_until > index_dates.index_date
    group by issue_periods.patient_id, index_dates.index_date
),

final as (
    select
        cohort.cohort_id,
        coalesce(medicines_at_date.n_distinct_medicines_12m, 0) as n_distinct_medicines_12m,
    from cohort
    left join medicines_at_date
        on cohort.patient_id = medicines_at_date.patient_id
        and cohort.index_date = medicines_at_date.index_date
)

select
    cohort_id,
    n_distinct_medicines_12m,
from final
