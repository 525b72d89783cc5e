-- one row per load per contract rule: how many rows failed it
create table if not exists audit.rule_counts (
    load_id bigint,
    file varchar,
    rule varchar,
    column_name varchar,
    expectation varchar,
    n_failing bigint,
)
