"""Applying the rules to one landed file: quarantine failing rows, mark exact duplicates.

How rows are counted (so that `read = loaded + quarantined + duplicates`):
1. Exact duplicates: rows whose landed values (every contract column) are identical form a
   group; the first row of a group (lowest row number) is its representative, the others
   are `duplicates`, whatever the rules say about them.
2. A representative failing any rule is `quarantined` (one quarantine row per failing rule;
   it counts once). CSV lines DuckDB could not parse are quarantined too (rule `csv_parse`).
   A rule that quarantines one value and keeps the row (`Rule.rejects_row` false: a
   secondary diagnosis of a spell) writes `quarantine.rejected_diagnoses` instead and does
   not make the row quarantined.
3. Among the remaining rows, a key seen before (lower row number) is quarantined with rule
   `key_unique`: the first row for a key wins.
4. Everything else is `loaded`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from foundation.contract import FILES
from pipelines.ingest.land import ROW_HASH, Landed, rows_view
from pipelines.ingest.rules import (
    Rule,
    distinct_values,
    key_expression,
    lookup_rules,
    mask_expression,
    scan_masks,
)

_FAIL = "_cf_fail"
_LOOKUP = "_cf_lookup"
_DUPS = "_cf_dups"
# Rows failing a rule that rejects the row (not one that quarantines a single value).
_FAILED_ROWS = f"select row_number from {_FAIL} join _cf_rules using (rule_index) where rejects_row"


@dataclass(frozen=True)
class FileCounts:
    """Reconciliation counts of one file load."""

    read: int
    loaded: int
    quarantined: int
    duplicates: int

    @property
    def reconciles(self) -> bool:
        return self.read == self.loaded + self.quarantined + self.duplicates


def _original_values(columns: tuple[str, ...]) -> str:
    return "to_json(struct_pack(" + ", ".join(f"{c} := r.{c}" for c in columns) + "))"


def find_failures(
    con: duckdb.DuckDBPyConnection, file: str, rules: tuple[Rule, ...]
) -> dict[str, int]:
    """Every (row, rule) a staged row fails; return, per rule, the rows that fail it and are
    not exact duplicates (the rows the quarantine reports for it).

    The rules that read the row alone were evaluated by the scan that staged the file (its
    rule masks, `rules.scan_masks`): their failures are the rows with a bit set. The others
    (an NHS number's check digit, a reference to the set's practices or patients) are
    evaluated once per distinct value of their column and joined back to the rows with a
    failing value, a few among millions.

    Leaves temp table `_cf_fail(row_number, rule_index)`; runs after `find_duplicates`.
    """
    spec = FILES[file]
    rows = rows_view(file)
    con.execute(f"create or replace temp table {_FAIL} (row_number bigint, rule_index integer)")
    for mask, indexes in scan_masks(spec, rules).items():
        con.execute(
            f"insert into {_FAIL} select r._row_number, b.rule_index "
            f"from (select _row_number, {mask} as mask from {rows} where {mask} <> 0) r "
            f"join {_bits(indexes)} on (r.mask >> b.bit) & 1 = 1"
        )
    for column, indexes in lookup_rules(spec, rules).items():
        con.execute(
            f"create or replace temp table {_LOOKUP} as select value, mask from ("
            f"select {column} as value, {mask_expression(rules, indexes)} as mask "
            f"from ({distinct_values(spec, column, rows)})) where mask <> 0"
        )
        con.execute(
            f"insert into {_FAIL} select r._row_number, b.rule_index from {rows} r "
            f"join {_LOOKUP} f on r.{column} is not distinct from f.value "
            f"join {_bits(indexes)} on (f.mask >> b.bit) & 1 = 1"
        )
    counts = dict(
        con.execute(
            f"select rule_index, count(*) from {_FAIL} f "
            f"anti join {_DUPS} d on d.row_number = f.row_number group by rule_index"
        ).fetchall()
    )
    return {r.name: int(counts.get(i, 0)) for i, r in enumerate(rules)}


def _bits(indexes: list[int]) -> str:
    """`b(bit, rule_index)`: which rule each bit of a mask stands for."""
    pairs = ", ".join(f"({bit}, {index})" for bit, index in enumerate(indexes))
    return f"(values {pairs}) b(bit, rule_index)"


def find_duplicates(con: duckdb.DuckDBPyConnection, file: str) -> int:
    """Mark exact duplicate rows (all landed values equal); leaves temp table `_cf_dups`.

    Rows sorted by the hash of their text (made by the scan that staged the file): a row whose
    hash repeats has an equal neighbour (a sort and two neighbours cost half a hash
    aggregation over millions of distinct hashes). Only those rows are compared value by
    value."""
    columns = FILES[file].column_names
    col_list = ", ".join(columns)
    rows = rows_view(file)
    con.execute(
        f"create or replace temp table {_DUPS} as "
        f"with neighbours as (select _row_number, {ROW_HASH} as h, lag({ROW_HASH}) over w "
        f"as before, lead({ROW_HASH}) over w as after from {rows} "
        f"window w as (order by {ROW_HASH})), "
        "candidate_rows as (select _row_number from neighbours where h = before or h = after), "
        f"candidates as (select r.* from {rows} r "
        "semi join candidate_rows k on r._row_number = k._row_number), "
        "grouped as (select _row_number as row_number, "
        f"min(_row_number) over (partition by {col_list}) as duplicate_of from candidates) "
        "select row_number, duplicate_of from grouped where row_number <> duplicate_of"
    )
    found = con.execute(f"select count(*) from {_DUPS}").fetchone()
    return int(found[0]) if found else 0


def write_quarantine(
    con: duckdb.DuckDBPyConnection,
    file: str,
    load_id: int,
    rules: tuple[Rule, ...],
    landed: Landed,
) -> None:
    """Write quarantined rows, duplicates and key conflicts of one load."""
    spec = FILES[file]
    params = {"load_id": load_id, "file": file}
    con.execute(
        "create or replace temp table _cf_rules (rule_index integer, rule varchar, "
        "column_name varchar, reason varchar, rejects_row boolean)"
    )
    if rules:
        con.executemany(
            "insert into _cf_rules values (?, ?, ?, ?, ?)",
            [[i, r.name, r.column, r.expectation, r.rejects_row] for i, r in enumerate(rules)],
        )
        con.execute(
            "insert into quarantine.rejected_rows select $load_id, $file, f.row_number, "
            f"q.column_name, q.rule, q.reason, {_original_values(spec.column_names)} "
            f"from {_FAIL} f join _cf_rules q using (rule_index) "
            f"join {rows_view(file)} r on r._row_number = f.row_number "
            f"anti join {_DUPS} d on d.row_number = f.row_number where q.rejects_row",
            params,
        )
        _write_rejected_diagnoses(con, file, load_id, rules)
    rejects = [
        [
            load_id,
            file,
            row,
            column or None,
            f"line is not valid RFC 4180 CSV for this header ({error})",
            _json_line(csv_line),
        ]
        for row, column, error, csv_line in landed.csv_rejects
    ]
    if rejects:
        con.executemany(
            "insert into quarantine.rejected_rows values (?, ?, ?, ?, 'csv_parse', ?, ?)",
            rejects,
        )
    con.execute(
        "insert into quarantine.duplicate_rows "
        f"select $load_id, $file, row_number, duplicate_of from {_DUPS}",
        params,
    )
    key = key_expression(spec, alias="r")
    if key is not None:
        con.execute(
            "insert into quarantine.rejected_rows "
            "select $load_id, $file, row_number, $key_columns, 'key_unique', $reason, "
            "original_values from ("
            f"select r._row_number as row_number, {_original_values(spec.column_names)} "
            "as original_values, "
            f"row_number() over (partition by {key} "
            "order by r._row_number) as nth "
            f"from {rows_view(file)} r "
            f"anti join ({_FAILED_ROWS}) f on f.row_number = r._row_number "
            f"anti join {_DUPS} d on d.row_number = r._row_number) where nth > 1",
            {
                **params,
                "key_columns": ",".join(spec.key),
                "reason": f"{' + '.join(spec.key)} is unique (the first row for a key wins)",
            },
        )


def _write_rejected_diagnoses(
    con: duckdb.DuckDBPyConnection, file: str, load_id: int, rules: tuple[Rule, ...]
) -> None:
    """Quarantine each failing value of a rule that keeps its row (a secondary diagnosis).

    One row per value in `quarantine.rejected_diagnoses` (file, row number, spell id,
    position, rule, reason, the value as landed), for every row that is not a duplicate,
    whether or not the spell itself is loaded: the same rows GX and `audit.rule_counts`
    count for the rule, less duplicates (as for `rejected_rows`).
    """
    columns = sorted({r.column for r in rules if not r.rejects_row and r.column})
    if not columns:
        return
    value = "case q.column_name " + " ".join(f"when '{c}' then r.{c}" for c in columns) + " end"
    con.execute(
        "insert into quarantine.rejected_diagnoses select $load_id, $file, f.row_number, "
        "raw.blank_to_null(r.spell_id), cast(right(q.column_name, 2) as integer), "
        f"q.column_name, q.rule, q.reason, {value} "
        f"from {_FAIL} f join _cf_rules q using (rule_index) "
        f"join {rows_view(file)} r on r._row_number = f.row_number "
        f"anti join {_DUPS} d on d.row_number = f.row_number where not q.rejects_row",
        {"load_id": load_id, "file": file},
    )


def accepted_rows(file: str, load_id: int) -> str:
    """The staged rows of one file's load that are neither quarantined nor duplicates (what
    `sql/core` builds from), as a subquery."""
    load = int(load_id)
    return (
        f"(select r.* from {rows_view(file)} r anti join ("
        f"select row_number from quarantine.rejected_rows where load_id = {load} "
        f"union all select row_number from quarantine.duplicate_rows where load_id = {load}"
        ") e on r._row_number = e.row_number)"
    )


def create_accepted_view(con: duckdb.DuckDBPyConnection, file: str, load_id: int) -> None:
    """`_cf_accepted_<file>`: the load's accepted rows, which `raw.accepted_rows` reads."""
    con.execute(
        f"create or replace temp view {accepted_view(file)} as "
        f"select * from {accepted_rows(file, load_id)}"
    )


def accepted_view(file: str) -> str:
    return f"_cf_accepted_{file}"


def _json_line(csv_line: str) -> str:
    return json.dumps({"csv_line": csv_line})


def count_load(
    con: duckdb.DuckDBPyConnection, file: str, load_id: int, landed: Landed
) -> FileCounts:
    """Count read, loaded, quarantined and duplicate rows of one load, each independently."""
    params = {"load_id": load_id}
    quarantined = con.execute(
        "select count(distinct row_number) from quarantine.rejected_rows where load_id = $load_id",
        params,
    ).fetchone()
    duplicates = con.execute(
        "select count(*) from quarantine.duplicate_rows where load_id = $load_id", params
    ).fetchone()
    # Staged rows that are neither quarantined nor duplicates (a hash anti join: the
    # excluded rows are few, the staged rows many).
    loaded = con.execute(f"select count(*) from {accepted_rows(file, load_id)}").fetchone()
    return FileCounts(
        read=landed.rows_read,
        loaded=int(loaded[0]) if loaded else 0,
        quarantined=int(quarantined[0]) if quarantined else 0,
        duplicates=int(duplicates[0]) if duplicates else 0,
    )
