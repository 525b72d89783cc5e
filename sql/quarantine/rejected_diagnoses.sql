-- one row per secondary diagnosis that does not parse, quarantined on its own (the spell is kept)
create table if not exists quarantine.rejected_diagnoses (
    load_id bigint,
    file varchar,
    row_number bigint,
    spell_id varchar,
    diagnosis_position integer,
    column_name varchar,
    rule varchar,
    reason varchar,
    original_value varchar,
)
