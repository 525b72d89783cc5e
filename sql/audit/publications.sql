-- one row per neighbourhood list published per as-of date: inputs, versions and output checksums
create table if not exists audit.publications (
    as_of date,
    neighbourhood_code varchar,
    folder varchar,
    model_version varchar,
    code_version varchar,
    snapshot_id varchar,
    extract_checksums varchar,
    n_rows integer,
    csv_sha256 varchar,
    xlsx_sha256 varchar,
    html_sha256 varchar,
    published_at timestamp,
)
