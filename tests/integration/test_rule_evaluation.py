"""The rules as ingest evaluates them (in the staging scan, or once per distinct value) fail
exactly the rows their definition fails: every rule over every row of the checked relation."""

from __future__ import annotations

import copy
from pathlib import Path

import duckdb
import hostile_corpus
import pytest
from helpers.extract_set import DEFAULT_ROWS, write_extract_set

from foundation.warehouse import ensure_layers
from pipelines.ingest.extracts import discover
from pipelines.ingest.land import land_file, rows_view
from pipelines.ingest.load import prepare_warehouse
from pipelines.ingest.quarantine import find_duplicates, find_failures
from pipelines.ingest.rules import (
    checked_relation,
    known_values,
    rules_for,
)

# Values that break a rule in a file whose big files (GP events, medications) take the scan's
# path and the lookups' path: one defect per rule kind, each in an extra copy of a good row.
DEFECTS = [
    ("gp_patients", 5, "nhs_number", "9990000061"),
    ("gp_patients", 5, "practice_code", "Z99999"),
    ("gp_patients", 5, "date_of_birth", "1940-02-30"),
    ("gp_events", 2, "nhs_number", "9990000019"),
    ("gp_events", 2, "nhs_number", ""),
    ("gp_events", 2, "event_date", "2026-11-30"),
    ("gp_events", 2, "snomed_code", "12AB"),
    ("gp_medications", 1, "description", "Para\x07cetamol"),
    ("acute_spells", 1, "discharge_date", "2025-07-13"),
    ("acute_spells", 1, "diag_04", "XYZ"),
]
# A padded, spaced valid number is no defect, and must not become one.
PADDED = ("gp_events", 2, "nhs_number", " 999 000 0027 ")
HOSTILE = ("extreme_dates", "sql_strings", "huge_numbers", "nul_bytes", "html_names")


def _defects_set(dir: Path) -> Path:
    rows = copy.deepcopy(DEFAULT_ROWS)
    for file, index, column, value in (*DEFECTS, PADDED):
        bad = dict(DEFAULT_ROWS[file][index])
        bad[column] = value
        rows[file].append(bad)
    write_extract_set(dir, rows)
    return dir


def _failures_both_ways(extracts: Path) -> dict[str, tuple[set, set]]:
    """Per file: the (row, rule) pairs ingest finds, and those the definition gives."""
    extract_set = discover(extracts)
    con = duckdb.connect()
    ensure_layers(con)
    prepare_warehouse(con)
    load_ids: dict[str, int] = {}
    found: dict[str, tuple[set, set]] = {}
    order = ("practices", "lsoa_imd", "gp_patients")
    for info in sorted(extract_set.files, key=lambda f: (f.name not in order, f.name)):
        rules = rules_for(info.spec, extract_set.as_of, load_ids)
        land_file(con, info, len(load_ids) + 1, None, rules)
        known_values(con, info.name, rows_view(info.name))
        load_ids[info.name] = len(load_ids) + 1
        find_duplicates(con, info.name)
        find_failures(con, info.name, rules)
        by_ingest = set(con.execute("select row_number, rule_index from _cf_fail").fetchall())
        relation = checked_relation(info.spec, rows_view(info.name))
        by_definition = {
            (row, i)
            for i, rule in enumerate(rules)
            for (row,) in con.execute(
                f"select _row_number from ({relation}) where {rule.condition}"
            ).fetchall()
        }
        found[info.name] = (by_ingest, by_definition)
    return found


def test_ingest_fails_the_rows_the_rules_define_on_a_set_with_defects(tmp_path: Path) -> None:
    found = _failures_both_ways(_defects_set(tmp_path / "set"))
    for file, (by_ingest, by_definition) in found.items():
        assert by_ingest == by_definition, file
    # every defect was caught, by the scan or by a lookup, and the padded number passed
    failing_rows = {(file, row) for file, (pairs, _) in found.items() for row, _rule in pairs}
    assert len(failing_rows) == len(DEFECTS)


@pytest.mark.parametrize("case", HOSTILE)
def test_ingest_fails_the_rows_the_rules_define_on_hostile_input(tmp_path: Path, case: str) -> None:
    extracts = hostile_corpus.build(case, tmp_path / case)
    for file, (by_ingest, by_definition) in _failures_both_ways(extracts).items():
        assert by_ingest == by_definition, file
