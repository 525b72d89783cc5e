-- one row per as-of date per profiled distribution (kind, name): its bin edges and shares as JSON text
create table if not exists audit.drift_profiles (
    as_of date,
    kind varchar,
    name varchar,
    profile varchar,
    created_at timestamp,
)
