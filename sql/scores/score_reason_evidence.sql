-- one row per dated source record behind a reason at $as_of, at most $per_reason per reason (most recent first)
-- Queried, not materialised, by models/explain.py once per evidence model: `evidence_rows` is that
-- model's result (sql/features/evid_*.sql) for the patients with a reason from one of $reason_features.
-- A reason keeps the rows labelled with its own feature; when the model labels none so, all its rows
-- for the patient back the reason.
with

reasons as (
    select patient_id, feature from scores.reasons
    where as_of = $as_of and list_contains(cast($reason_features as varchar[]), feature)
),

evidence as (
    select
        cast(patient_id as varchar) as patient_id,
        cast(feature as varchar) as row_feature,
        cast(source as varchar) as source,
        cast(event_date as date) as event_date,
        cast(code as varchar) as code,
        cast(term as varchar) as term,
    from evidence_rows
),

joined as (
    select
        reasons.patient_id,
        reasons.feature,
        evidence.source,
        evidence.event_date,
        evidence.code,
        evidence.term,
        evidence.row_feature = reasons.feature as is_exact,
    from reasons
    inner join evidence on evidence.patient_id = reasons.patient_id
),

matched as (
    select
        *,
        bool_or(is_exact) over (partition by patient_id, feature) as any_exact,
    from joined
),

kept as (
    select distinct patient_id, feature, source, event_date, code, term
    from matched
    where is_exact or not any_exact
),

final as (
    select
        *,
        row_number() over (
            partition by patient_id, feature
            order by event_date desc nulls last, source, code, term
        ) as evidence_rank,
    from kept
)

select
    patient_id,
    feature,
    source,
    event_date,
    code,
    term,
    evidence_rank,
from final
where evidence_rank <= $per_reason
