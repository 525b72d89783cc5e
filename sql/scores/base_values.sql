-- one row per as-of date per model version: the model's base value (log-odds)
create table if not exists scores.base_values (
    as_of date,
    model_version varchar,
    base_value double,
)
