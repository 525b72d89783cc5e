-- one row per rejected extract row per rule it failed, with its original values
create table if not exists quarantine.rejected_rows (
    load_id bigint,
    file varchar,
    row_number bigint,
    column_name varchar,
    rule varchar,
    reason varchar,
    original_values varchar,
)
