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
    select * from scores.score_cohort
),

history as (
    select * from lists.list_entries
),

review_outcomes as (
    select * from lists.list_review_outcomes
),

current_scores as (
    select * from scores where as_of = $as_of
),

-- The team reported them died or moved away on an earlier list: off every later list until
-- the records agree (then the records keep them off). Shown in list_left_week.
reported_gone as (
    select distinct patient_id
    from review_outcomes
    where review_outcome in ('died', 'moved_away')
        and publication_as_of < $as_of
),

listed as (
    select cohort.*,
    from cohort
    anti join reported_gone on reported_gone.patient_id = cohort.patient_id
    where cohort.as_of = $as_of and cohort.is_listed
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
    select
        history.neighbourhood_code,
        history.patient_id,
        history.rank as previous_rank,
        history.risk_score as previous_risk_score,
        history.risk_tier as previous_risk_tier,
    from history
    inner join previous_publication
        on previous_publication.neighbourhood_code = history.neighbourhood_code
        and previous_publication.previous_as_of = history.as_of
),

-- the score move as the lists show it: both scores rounded to 4 decimals first
moved as (
    select
        ranked.patient_id,
        previous_entries.patient_id is not null as was_listed,
        round(round(ranked.risk_score, 4) - round(previous_entries.previous_risk_score, 4), 4)
            as score_change,
        list_position(['low', 'moderate', 'high', 'very_high'], ranked.risk_tier)
        - list_position(['low', 'moderate', 'high', 'very_high'], previous_entries.previous_risk_tier)
            as tier_steps,
        previous_entries.previous_rank,
        previous_publication.previous_as_of,
    from ranked
    left join previous_publication
        on previous_publication.neighbourhood_code = ranked.neighbourhood_code
    left join previous_entries
        on previous_entries.neighbourhood_code = ranked.neighbourhood_code
        and previous_entries.patient_id = ranked.patient_id
),

-- OUTPUTS.md 1.2: up / down when the risk tier changed (its direction), or else when the score
-- moved by $change_threshold or more (its direction); rank shifts alone are not a change
compared as (
    select
        patient_id,
        case
            when not was_listed then 'new'
            when tier_steps > 0 then 'up'
            when tier_steps < 0 then 'down'
            when score_change > 0 and score_change >= $change_threshold then 'up'
            when score_change < 0 and -score_change >= $change_threshold then 'down'
            else 'same'
        end as change,
        score_change,
        previous_rank,
        previous_as_of,
    from moved
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
        and patients.as_of = $as_of
)

select
    {{ list_columns }}
from final
order by neighbourhood_code, rank
