-- one row per patient per index date with any HFRS category (keyed by int_cohort.cohort_id; absent = 0): Hospital Frailty Risk Score (Gilbert 2018) over spells admitted in the lookback up to the index date
with

cohort as (
    select cohort_id, patient_id, index_date from features.int_cohort
),

index_dates as (
    select
        index_date,
        cast(index_date - to_years(cast($hfrs_lookback_years as integer)) as date) as lookback_start,
    from features.feat_index_dates
),

diagnoses as (
    select * from core.core_acute_diagnoses
),

hfrs_weights as (
    select * from ref.hfrs_icd10_weights
),

-- every diagnosis position of every spell, reduced to distinct (patient, category, admission date)
category_admissions as (
    select distinct
        diagnoses.patient_id,
        diagnoses.admission_date,
        hfrs_weights.icd10_3char,
        cast(hfrs_weights.weight as decimal(6, 1)) as weight,
    from diagnoses
    inner join hfrs_weights on diagnoses.icd10_3char = hfrs_weights.icd10_3char
),

-- each category once per patient per index date, from spells admitted in (D - lookback, D]
categories_in_window as (
    select distinct
        category_admissions.patient_id,
        index_dates.index_date,
        category_admissions.icd10_3char,
        category_admissions.weight,
    from category_admissions
    inner join index_dates
        on category_admissions.admission_date > index_dates.lookback_start
        and category_admissions.admission_date <= index_dates.index_date
),

scores as (
    select
        patient_id,
        index_date,
        sum(weight) as hfrs,
        count(*) as n_hfrs_categories,
    from categories_in_window
    group by patient_id, index_date
),

final as (
    select
        cohort.cohort_id,
        cast(scores.hfrs as double) as hfrs,
        case
            when scores.hfrs < 5 then 'low'
            when scores.hfrs <= 15 then 'intermediate'
            else 'high'
        end as hfrs_band,
        scores.n_hfrs_categories,
    from cohort
    inner join scores
        on cohort.patient_id = scores.patient_id
        and cohort.index_date = scores.index_date
)

select
    cohort_id,
    hfrs,
    hfrs_band,
    n_hfrs_categories,
from final
