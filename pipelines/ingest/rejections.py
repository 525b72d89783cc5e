"""Rejected rows per file and rule, and the mostly-rejected stop (EXTRACTS.md 1.1)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from foundation.contract import IDENTIFIER_COLUMNS

_EXAMPLE_CHARS = 40

# Per file and rule of a snapshot: the rows it quarantined and, for a column that identifies
# nobody, the failing value of its first such row (its first 40 characters). Identifying
# columns never yield a value.
_FAILURES_SQL = """
with rejected as (
    select
        loads.file,
        rows.rule,
        rows.column_name,
        rows.reason,
        rows.row_number,
        case when not list_contains($identifiers, rows.column_name)
            then nullif(
                left(json_extract_string(rows.original_values, rows.column_name), $chars), ''
            )
        end as failing_value
    from quarantine.rejected_rows as rows
    inner join audit.loads as loads on loads.load_id = rows.load_id
    where loads.snapshot_id = $snapshot_id
)
select
    file,
    rule,
    any_value(column_name) as column_name,
    any_value(reason) as reason,
    count(distinct row_number) as n_rows,
    arg_min(failing_value, row_number) filter (where failing_value is not null) as example
from rejected
group by file, rule
order by file, n_rows desc, rule
"""

_LOADS_SQL = """
select file, source_file, rows_read, rows_quarantined
from audit.loads
where snapshot_id = $snapshot_id and rows_read is not null
order by load_id
"""


@dataclass(frozen=True)
class RuleFailure:
    """One rule's quarantined rows in one file, with an example value when it may be shown."""

    rule: str
    column: str | None
    reason: str
    rows: int
    example: str | None


@dataclass(frozen=True)
class FileRejections:
    """How many of a file's rows were quarantined, and by which rules (most rows first)."""

    file: str
    source_file: str
    read: int
    quarantined: int
    failures: tuple[RuleFailure, ...] = ()

    @property
    def share(self) -> float:
        """The share of the file's rows that were quarantined (0 for a header-only file)."""
        return self.quarantined / self.read if self.read else 0.0

    def stops(self, max_share: float) -> bool:
        """Whether more than `max_share` of the file's rows were quarantined."""
        return self.read > 0 and self.share > max_share

    def stop_line(self, max_share: float, consequence: str) -> str:
        """One line naming the file, the share, the rule that rejected most, an example."""
        line = (
            f"{self.source_file}: {self.share:.1%} of rows rejected ({self.quarantined} of "
            f"{self.read}; the limit is {max_share:.0%})"
        )
        if self.failures:
            top = self.failures[0]
            line += f", mostly by rule {top.rule} ({top.reason!r}"
            if top.example is not None:
                line += f", e.g. {top.example!r}"
            line += ")"
        return f"{line}; {consequence}"


def file_rejections(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> dict[str, FileRejections]:
    """Every loaded file of a snapshot with its quarantined rows per rule (counts only)."""
    params = {"snapshot_id": snapshot_id}
    failures: dict[str, list[RuleFailure]] = {}
    rows = con.execute(
        _FAILURES_SQL,
        {**params, "identifiers": sorted(IDENTIFIER_COLUMNS), "chars": _EXAMPLE_CHARS},
    ).fetchall()
    for file, rule, column, reason, n_rows, example in rows:
        failures.setdefault(str(file), []).append(
            RuleFailure(str(rule), column, str(reason), int(n_rows), example)
        )
    return {
        str(file): FileRejections(
            file=str(file),
            source_file=str(source_file),
            read=int(read),
            quarantined=int(quarantined),
            failures=tuple(failures.get(str(file), ())),
        )
        for file, source_file, read, quarantined in con.execute(_LOADS_SQL, params).fetchall()
    }


def mostly_rejected(
    con: duckdb.DuckDBPyConnection, snapshot_id: int, max_share: float
) -> list[FileRejections]:
    """The files of a snapshot with more than `max_share` of their rows quarantined."""
    return [f for f in file_rejections(con, snapshot_id).values() if f.stops(max_share)]


def stop_message(stopping: list[FileRejections], max_share: float, consequence: str) -> str:
    """The one line for mostly-rejected files: the first in full, the others by name."""
    line = stopping[0].stop_line(max_share, consequence)
    if len(stopping) > 1:
        line += "; also mostly rejected: " + ", ".join(f.source_file for f in stopping[1:])
    return line
