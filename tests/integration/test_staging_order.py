"""A staged row's number is its line in the file, however many threads DuckDB reads it with.

Ingest numbers rows by their position in the parallel scan that stages a file (DuckDB keeps
the scan's order under `preserve_insertion_order`), not by a window that numbers them one at
a time. The row number is the audit trail, so it is checked here on a file of many row groups
read by several threads, each row carrying its own line number.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from foundation.contract import FILES
from foundation.warehouse import ensure_layers
from pipelines.ingest.extracts import ExtractFileInfo
from pipelines.ingest.land import land_file, rows_view
from pipelines.ingest.load import prepare_warehouse

ROWS = 600_000  # about five of DuckDB's row groups


def _events_file(path: Path, bad_every: int | None = None) -> Path:
    """gp_events with `numeric_value` = the row's own number (1 = first data row); every
    `bad_every`-th line has a field too many (DuckDB rejects it; it still counts)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("nhs_number,event_date,snomed_code,numeric_value\n")
        for row in range(1, ROWS + 1):
            extra = ",x" if bad_every and row % bad_every == 0 else ""
            fh.write(f"9990000018,2020-01-01,160689007,{row}{extra}\n")
    return path


def _info(path: Path) -> ExtractFileInfo:
    return ExtractFileInfo(
        name="gp_events",
        path=path,
        format="csv",
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        columns={c: i for i, c in enumerate(FILES["gp_events"].column_names)},
    )


def _loading(tmp_path: Path, threads: int = 2) -> duckdb.DuckDBPyConnection:
    """A warehouse connection inside a load's transaction (rowids of uncommitted rows are
    offset, as in a real load), with the raw store's folder made."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_layers(con)
    prepare_warehouse(con)
    con.execute(f"set threads = {threads}")
    (tmp_path / "store").mkdir()
    con.execute("begin transaction")
    return con


@pytest.mark.parametrize("threads", [2, 4])
def test_staged_rows_are_numbered_by_their_line(tmp_path: Path, threads: int) -> None:
    path = _events_file(tmp_path / "gp_events.csv")
    con = _loading(tmp_path, threads)
    landed = land_file(con, _info(path), load_id=1, store=tmp_path / "store")
    wrong = con.execute(
        f"select count(*), min(_row_number), max(_row_number) from {rows_view('gp_events')} "
        "where cast(numeric_value as bigint) <> _row_number"
    ).fetchone()
    total = con.execute(f"select count(*) from {rows_view('gp_events')}").fetchone()
    con.execute("rollback")
    assert landed.rows_landed == ROWS and landed.csv_rejects == ()
    assert total == (ROWS,)
    assert wrong is not None and wrong[0] == 0, wrong


def test_rows_after_rejected_lines_keep_their_line_numbers(tmp_path: Path) -> None:
    path = _events_file(tmp_path / "gp_events.csv", bad_every=50_000)
    con = _loading(tmp_path)
    landed = land_file(con, _info(path), load_id=1, store=tmp_path / "store")
    wrong = con.execute(
        f"select count(*) from {rows_view('gp_events')} "
        "where cast(numeric_value as bigint) <> _row_number"
    ).fetchone()
    con.execute("rollback")
    assert sorted(r[0] for r in landed.csv_rejects) == list(range(50_000, ROWS + 1, 50_000))
    assert landed.rows_landed == ROWS - ROWS // 50_000
    assert wrong == (0,)
