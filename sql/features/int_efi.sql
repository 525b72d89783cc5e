-- one row per patient per index date (keyed by int_cohort.cohort_id): electronic Frailty Index (Clegg 2016), deficit count, category and one 0/1 column per deficit
-- The deficits are declared once, in features/codelists/efi_deficits.csv (and so in features/dictionary.py): each
-- `{{ efi_deficits: ... }}` line is written once per deficit (`{{ efi_coded_deficits: ... }}`: all but polypharmacy)
-- when the model is built (features.dictionary.efi_select_lists, foundation.warehouse.fill_select_lists).
with

cohort as (
    select cohort_id, patient_id, index_date from features.int_cohort
),

first_code_dates as (
    select * from features.int_efi_first_codes
),

value_deficits as (
    select * from features.int_efi_value_deficits
),

medicines as (
    select * from features.int_medicines
),

deficits as (
    select * from ref.efi_deficits
),

-- code-based deficits: one row per patient, the first recorded date of each deficit
first_codes as (
    select
        patient_id,
        {{ efi_coded_deficits: min(first_recorded_date) filter (where deficit_slug = '{slug}') as {column} }}
    from first_code_dates
    group by patient_id
),

-- value-rule deficits: one row per patient and date
value_flags as (
    select
        patient_id,
        index_date,
        {{ efi_coded_deficits: bool_or(deficit_slug = '{slug}') as {column} }}
    from value_deficits
    group by patient_id, index_date
),

-- a deficit is present at D when a code was recorded on or before D or its value rule holds;
-- polypharmacy: 5 or more distinct medicines in the 12 months up to D
deficit_flags as (
    select
        cohort.cohort_id,
        {{ efi_coded_deficits: (coalesce(first_codes.{column} <= cohort.index_date, false) or coalesce(value_flags.{column}, false))::integer as {column} }}
        (coalesce(medicines.n_distinct_medicines_12m, 0) >= 5)::integer as efi_polypharmacy,
    from cohort
    left join first_codes on cohort.patient_id = first_codes.patient_id
    left join value_flags
        on cohort.patient_id = value_flags.patient_id
        and cohort.index_date = value_flags.index_date
    left join medicines on cohort.cohort_id = medicines.cohort_id
),

counted as (
    select
        *,
        cast(list_sum([
            {{ efi_deficits: {column} }}
        ]) as integer) as efi_deficit_count,
    from deficit_flags
),

n_deficits as (
    select count(*) as n_deficits from deficits
),

final as (
    select
        counted.*,
        counted.efi_deficit_count / n_deficits.n_deficits as efi,
        case
            when counted.efi_deficit_count / n_deficits.n_deficits <= 0.12 then 'fit'
            when counted.efi_deficit_count / n_deficits.n_deficits <= 0.24 then 'mild'
            when counted.efi_deficit_count / n_deficits.n_deficits <= 0.36 then 'moderate'
            else 'severe'
        end as efi_category,
    from counted
    cross join n_deficits
)

select
    cohort_id,
    efi_deficit_count,
    efi,
    efi_category,
    {{ efi_deficits: {column} }}
from final
