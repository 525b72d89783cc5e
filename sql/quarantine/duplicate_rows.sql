-- one row per extract row that repeats an earlier row of its load
create table if not exists quarantine.duplicate_rows (
    load_id bigint,
    file varchar,
    row_number bigint,
    duplicate_of bigint,
)
