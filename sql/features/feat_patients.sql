-- one row per patient per index date, for every patient alive and registered at the index date: every feature of features/dictionary.py
-- The feature columns are declared once, in features/dictionary.py: `{{ feature_sources }}` (each feature from its
-- model's CTE, `int_efi` -> `efi.<name>`) and `{{ feature_columns }}` are filled from it when the model is built
-- (features.dictionary.select_lists, foundation.warehouse.fill_select_lists).
with

cohort as (
    select * from features.int_cohort
),

circumstances as (
    select * from features.int_circumstances
),

efi as (
    select * from features.int_efi
),

int_hfrs as (
    select * from features.int_hfrs
),

acute_use as (
    select * from features.int_acute_use
),

urgent_care as (
    select * from features.int_urgent_care
),

community_use as (
    select * from features.int_community_use
),

social_care as (
    select * from features.int_social_care
),

medicines as (
    select * from features.int_medicines
),

-- HFRS rows exist only for patients with a category in the lookback: absent = 0
hfrs as (
    select
        cohort.cohort_id,
        coalesce(int_hfrs.hfrs, 0) as hfrs,
        coalesce(int_hfrs.hfrs_band, 'low') as hfrs_band,
        coalesce(int_hfrs.n_hfrs_categories, 0) as n_hfrs_categories,
    from cohort
    left join int_hfrs on cohort.cohort_id = int_hfrs.cohort_id
),

final as (
    select
        cohort.patient_id,
        cohort.index_date,
        cohort.practice_code,
        cohort.neighbourhood_code,
        cohort.practice_name,
        circumstances.caseload_team,
        {{ feature_sources }}
    from cohort
    inner join circumstances on cohort.cohort_id = circumstances.cohort_id
    inner join efi on cohort.cohort_id = efi.cohort_id
    inner join hfrs on cohort.cohort_id = hfrs.cohort_id
    inner join acute_use on cohort.cohort_id = acute_use.cohort_id
    inner join urgent_care on cohort.cohort_id = urgent_care.cohort_id
    inner join community_use on cohort.cohort_id = community_use.cohort_id
    inner join social_care on cohort.cohort_id = social_care.cohort_id
    inner join medicines on cohort.cohort_id = medicines.cohort_id
)

select
    {{ feature_columns }}
from final
