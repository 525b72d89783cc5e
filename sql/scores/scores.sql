-- one row per scored patient per as-of date (re-scoring a date replaces its rows)
create table if not exists scores.scores (
    as_of date,
    patient_id varchar,
    model_version varchar,
    raw_score double,
    base_value double,
    risk_score double,
    risk_tier varchar,
)
