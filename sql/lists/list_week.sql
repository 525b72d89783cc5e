-- one row per listed patient in the publication at $as_of: rank within the neighbourhood and change since its previous list
-- The published columns are declared once, in reports/columns.py: `{{ list_sources }}` (each column's expression) and
-- `{{ list_columns }}` are filled from it when the model is built (reports.columns.week_select_lists,
-- foundation.warehouse.fill_select_lists).
with

scores as (
    select * from scores.scores
),

cohort as (
    select * from scores.score_cohort
),

patients as (
    select * from features.feat_patients
),

history as (
    select * from lists.list_entries
),

current_scores as (
    select * from scores where as_of = $as_of
),

listed as (
    select * from cohort where as_of = $as_of and is_listed
),

ranked as (
    select
        listed.neighbourhood_code,
        listed.practice_code,
        current_scores.patient_id,
        current_scores.risk_score,
        current_scores.raw_score,
        current_scores.risk_tier,
        current_scores.model_version,
        row_number() over (
            partition by listed.neighbourhood_code
            order by current_scores.risk_score desc, current_scores.patient_id
        ) as rank,
    from current_scores
    inner join listed on listed.patient_id = current_scores.patient_id
),

previous_publication as (
    select neighbourhood_code, max(as_of) as previous_as_of,
    from history
    where as_of < $as_of
    group by neighbourhood_code
),

previous_entries as (
    select history.neighbourhood_code, history.patient_id, history.rank as previous_rank,
    from history
    inner join previous_publication
        on previous_publication.neighbourhood_code = history.neighbourhood_code
        and previous_publication.previous_as_of = history.as_of
),

compared as (
    select
        ranked.patient_id,
        case
            when previous_entries.patient_id is null then 'new'
            when ranked.rank < previous_entries.previous_rank then 'up'
            when ranked.rank > previous_entries.previous_rank then 'down'
            else 'same'
        end as change,
        previous_entries.previous_rank,
        previous_publication.previous_as_of,
    from ranked
    left join previous_publication
        on previous_publication.neighbourhood_code = ranked.neighbourhood_code
    left join previous_entries
        on previous_entries.neighbourhood_code = ranked.neighbourhood_code
        and previous_entries.patient_id = ranked.patient_id
),

final as (
    select
        cast($as_of as date) as as_of,
        ranked.neighbourhood_code,
        ranked.patient_id,
        ranked.raw_score,
        compared.previous_rank,
        compared.previous_as_of,
        {{ list_sources }}
    from ranked
    inner join compared on compared.patient_id = ranked.patient_id
    left join patients
        on patients.patient_id = ranked.patient_id
        and patients.index_date = $as_of
)

select
    {{ list_columns }}
from final
order by neighbourhood_code, rank
