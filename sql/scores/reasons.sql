-- one row per scored patient per reason per as-of date, largest contribution first
create table if not exists scores.reasons (
    as_of date,
    patient_id varchar,
    reason_rank integer,
    feature varchar,
    value double,
    contribution double,
    text varchar,
)
