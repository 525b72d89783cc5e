-- one row per listed patient per publication (as-of date)
create table if not exists lists.list_entries (
    as_of date,
    neighbourhood_code varchar,
    rank integer,
    patient_id varchar,
    practice_code varchar,
    risk_score double,
    risk_tier varchar,
    change varchar,
    model_version varchar,
)
