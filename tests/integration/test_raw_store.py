"""`raw` is the extract files as they came: kept by checksum beside the warehouse, read by views."""

from __future__ import annotations

import copy
import csv
import hashlib
from datetime import date
from pathlib import Path

import duckdb
from helpers.extract_set import DEFAULT_ROWS, write_extract_set

from foundation.warehouse import connect, ensure_layers
from pipelines.ingest.extracts import discover
from pipelines.ingest.load import load_extract_set

KEY = b"k" * 32


def _load(warehouse: Path, extracts: Path) -> None:
    with connect(warehouse) as con:
        ensure_layers(con)
        load_extract_set(con, discover(extracts), KEY)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_raw_reads_every_row_back_from_the_stored_file_by_checksum(tmp_path: Path) -> None:
    extracts = write_extract_set(tmp_path / "set")
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    _load(warehouse, extracts)
    store = tmp_path / "wh" / "warehouse.raw"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loads = con.execute(
            "select file, sha256, source_file, rows_read from audit.loads"
        ).fetchall()
        for file, sha256, source_file, rows_read in loads:
            stored = store / f"{sha256}.csv"
            assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha256
            assert stored.read_bytes() == (extracts / source_file).read_bytes()
            rows = con.execute(
                f"select * exclude (_load_id, _source_file, _row_number), _source_file, "
                f"_row_number from raw.{file} order by _row_number"
            ).fetchall()
            expected = _csv_rows(extracts / source_file)
            assert len(rows) == rows_read == len(expected)
            names = [d[0] for d in con.description][:-2]
            for number, (row, line) in enumerate(zip(rows, expected, strict=True), start=1):
                assert row[-2:] == (source_file, number)
                assert {c: v for c, v in zip(names, row, strict=False) if v} == {
                    c: v for c, v in line.items() if v and c in names
                }
        # No text copy of the extracts inside the warehouse file: raw holds views only.
        tables = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'raw'"
        ).fetchone()
        assert tables == (0,)


def test_a_second_snapshot_adds_its_loads_and_keeps_the_first(tmp_path: Path) -> None:
    first = write_extract_set(tmp_path / "first")
    events = copy.deepcopy(DEFAULT_ROWS["gp_events"])
    events.append({**events[0], "event_date": "2026-11-01"})
    second = write_extract_set(
        tmp_path / "second", {"gp_events": events}, extract_date=date(2026, 11, 23)
    )
    warehouse = tmp_path / "warehouse.duckdb"
    _load(warehouse, first)
    _load(warehouse, second)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        per_load = con.execute(
            "select l.snapshot_id, count(*) from raw.gp_events r "
            "join audit.loads l on l.load_id = r._load_id group by 1 order by 1"
        ).fetchall()
    assert per_load == [(1, len(DEFAULT_ROWS["gp_events"])), (2, len(events))]


def test_a_version_1_warehouse_keeps_its_text_rows_under_raw(tmp_path: Path) -> None:
    """A warehouse written before the raw store (schema 1, `raw.<file>` text tables) is
    migrated: the tables become `raw.<file>_landed`, and `raw.<file>` shows them with the
    new loads."""
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        for schema in ("raw", "audit"):
            con.execute(f"create schema {schema}")
        con.execute("create table audit.warehouse_meta (key varchar, value varchar)")
        con.execute("insert into audit.warehouse_meta values ('schema_version', '1')")
        con.execute(
            "create table raw.gp_events (nhs_number varchar, event_date varchar, "
            "snomed_code varchar, numeric_value varchar, _load_id bigint, "
            "_source_file varchar, _row_number bigint)"
        )
        con.execute(
            "insert into raw.gp_events values "
            "('9990000018', '2020-01-01', '160689007', null, 1, 'gp_events.csv', 1)"
        )
    _load(warehouse, write_extract_set(tmp_path / "set"))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        version = con.execute(
            "select value from audit.warehouse_meta where key = 'schema_version'"
        ).fetchone()
        kept = con.execute("select count(*) from raw.gp_events_landed").fetchone()
        shown = con.execute(
            "select count(*) from raw.gp_events where event_date = '2020-01-01' "
            "and _source_file = 'gp_events.csv' and _row_number = 1 and _load_id = 1"
        ).fetchone()
        total = con.execute("select count(*) from raw.gp_events").fetchone()
    assert version == ("2",)
    assert kept == (1,)
    assert shown is not None and shown[0] >= 1
    assert total == (1 + len(DEFAULT_ROWS["gp_events"]),)
