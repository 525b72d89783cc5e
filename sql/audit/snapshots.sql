-- one row per extract set loaded (a snapshot), with its status
create table if not exists audit.snapshots (
    snapshot_id bigint,
    extracts_dir_name varchar,
    extract_date date,
    loaded_at timestamp,
    manifest_sha256 varchar,
    status varchar,
)
