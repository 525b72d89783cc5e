-- one row per scored patient per model feature per as-of date: the value and its contribution
create table if not exists scores.contributions (
    as_of date,
    patient_id varchar,
    model_version varchar,
    feature varchar,
    value double,
    contribution double,
)
