-- one row per as-of date: how its scores were made, `model` (a registered model) or `fallback` (the points score of models/fallback.py), and why
create table if not exists scores.rankings (
    as_of date,
    method varchar,
    reason varchar,
)
