-- one row per pseudonymised analyst publication per as-of date: inputs, opt-out types, rows and checksum
create table if not exists audit.pseudonymised_publications (
    as_of date,
    folder varchar,
    model_version varchar,
    code_version varchar,
    snapshot_id varchar,
    opt_out_types varchar,
    n_rows integer,
    csv_sha256 varchar,
    published_at timestamp,
)
