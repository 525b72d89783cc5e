-- one row per extract file loaded into raw: rows read, loaded, quarantined and duplicate
create table if not exists audit.loads (
    load_id bigint,
    snapshot_id bigint,
    file varchar,
    format varchar,
    sha256 varchar,
    rows_read bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    rows_duplicate bigint,
    started_at timestamp,
    ended_at timestamp,
    status varchar,
    source_file varchar,
    extra_columns varchar[],
    -- how `raw.<file>` reads this load back from the raw store (a select over the stored file)
    raw_query varchar,
)
