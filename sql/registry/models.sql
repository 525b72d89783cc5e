-- one row per registered model version: where its files are, its metrics and provenance
create table if not exists registry.models (
    model_version varchar primary key,
    created_at timestamp,
    status varchar,
    as_of date,
    horizon_days integer,
    path varchar,
    metrics json,
    code_version varchar,
    snapshot_ids varchar,
    feature_names varchar,
)
