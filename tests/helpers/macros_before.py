"""The parsing macros as they were defined before their fast paths (commit 412024d).

Frozen here so that the current `sql/macros` can be held to them: every macro must return
exactly what its old definition returned, for every input. `install_before(con)` creates
them in schema `before` (same names as in `raw`), beside the current ones.
`raw.trimmed(x)` and `raw.is_present(x)` are new; their definitions by reference are
`trim(x)` and `before.blank_to_null(x) is not null`.
"""

from __future__ import annotations

import duckdb

BEFORE: dict[str, str] = {
    "blank_to_null": "nullif(trim(x), '')",
    "is_integer": "regexp_full_match(trim(x), '[+-]?[0-9]{1,18}')",
    "is_number": "regexp_full_match(trim(x), '[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)')",
    "parse_boolean": "case lower(trim(x)) when 'true' then true when 'false' then false end",
    "nhs_digits": "nullif(replace(replace(trim(x), ' ', ''), '-', ''), '')",
    "parse_date": (
        "case when trim(x) like '____-__-__' "
        "then cast(try_strptime(trim(x), '%Y-%m-%d') as date) end"
    ),
    "parse_datetime": (
        "case when regexp_full_match(trim(x), "
        "'[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?') "
        "then try_cast(replace(trim(x), 'T', ' ') as timestamp) end"
    ),
    "trimmed": "trim(x)",
    "is_present": "nullif(trim(x), '') is not null",
}


def install_before(con: duckdb.DuckDBPyConnection) -> None:
    """Create `before.<macro>(x)` for every macro of `BEFORE`."""
    con.execute("create schema if not exists before")
    for name, body in BEFORE.items():
        con.execute(f"create or replace macro before.{name}(x) as {body}")
