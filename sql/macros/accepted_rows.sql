-- macro: one row per accepted row of one extract file's load being ingested
-- The rows `sql/core` builds from: one file's staged rows in this load (the temporary view
-- `_cf_accepted_<file>` made by ingest: `pipelines.ingest.quarantine.create_accepted_view`),
-- less the rows quarantined (rejected or duplicate), with their parsed columns
-- (`<column>__digits`, `__date`, ...). `query_table` takes the view's name as text (a table
-- macro cannot take a table). The parameter is named unlike any column it meets: inside a
-- macro a parameter wins over a column of the same name.
create or replace macro raw.accepted_rows(extract_file) as table
    select * from query_table('_cf_accepted_' || extract_file)
