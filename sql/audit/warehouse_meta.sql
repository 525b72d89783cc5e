-- one row per setting of the warehouse file: its schema version and the pseudonymisation key's fingerprint
create table if not exists audit.warehouse_meta (
    key varchar primary key,
    value varchar,
)
