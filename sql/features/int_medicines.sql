-- one row per patient per index date: distinct medicines (BNF chemical substance) issued in the 12 months up to the index date
with

cohort as (
    select patient_id, index_date from features.int_cohort
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

-- issues in (D - 12 months, D]
medicines_in_window as (
    select
        medications.patient_id,
        index_dates.index_date,
        count(distinct medications.bnf_chemical_substance) as n_distinct_medicines_12m,
    from medications
    inner join index_dates
        on medications.issue_date > index_dates.start_12m
        and medications.issue_date <= index_dates.index_date
    where medications.bnf_chemical_substance is not null
    group by medications.patient_id, index_dates.index_date
),

final as (
    select
        cohort.patient_id,
        cohort.index_date,
        coalesce(medicines_in_window.n_distinct_medicines_12m, 0) as n_distinct_medicines_12m,
    from cohort
    left join medicines_in_window
        on cohort.patient_id = medicines_in_window.patient_id
        and cohort.index_date = medicines_in_window.index_date
)

select
    patient_id,
    index_date,
    n_distinct_medicines_12m,
from final
