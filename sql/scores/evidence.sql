-- one row per dated source record behind a patient's reason per as-of date
create table if not exists scores.evidence (
    as_of date,
    patient_id varchar,
    feature varchar,
    source varchar,
    event_date date,
    code varchar,
    term varchar,
    evidence_rank integer,
)
