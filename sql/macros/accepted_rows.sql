-- macro: one row per raw row of one extract file in a snapshot's loads, less the quarantined rows
-- The rows `sql/core` builds from: one file's `raw` rows in a snapshot's loads, less the
-- rows quarantined (rejected or duplicate). `query_table` takes the table's name as text
-- (a table macro cannot take a table). Parameters are named unlike any column they meet:
-- inside a macro a parameter wins over a column of the same name.
create or replace macro raw.accepted_rows(snapshot, extract_file) as table
    with snapshot_loads as (
    select load_id from audit.loads where snapshot_id = snapshot and file = extract_file),
    excluded as (
    select load_id, row_number from quarantine.rejected_rows
    where load_id in (select load_id from snapshot_loads)
    union all
    select load_id, row_number from quarantine.duplicate_rows
    where load_id in (select load_id from snapshot_loads))
    select landed.* from query_table('raw.' || extract_file) as landed
    anti join excluded
    on landed._load_id = excluded.load_id and landed._row_number = excluded.row_number
    where landed._load_id in (select load_id from snapshot_loads)
