"""Contract 1.1's acute_spells rules: admission methods 98/99, and a bad secondary diagnosis
quarantined on its own (spell id, position, reason) while its spell is loaded."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import duckdb
from helpers.extract_set import DEFAULT_ROWS, NHS, write_extract_set

from foundation.audit import extracts_summary, quarantine_by_rule
from foundation.warehouse import ensure_layers
from pipelines.ingest.extracts import discover
from pipelines.ingest.load import load_extract_set

KEY = b"k" * 32


def _spell(spell_id: str, method: str = "21", **diagnoses: str) -> dict[str, str]:
    row = {
        "spell_id": spell_id,
        "nhs_number": NHS[1],
        "provider_code": "RXX",
        "admission_date": "2026-04-01",
        "discharge_date": "2026-04-05",
        "admission_method": method,
        "discharge_destination": "19",
        "diag_01": "I500",
        "diag_02": "",
        "diag_03": "",
        "diag_04": "",
    }
    row.update(diagnoses)
    return row


def _load(tmp_path: Path, spells: list[dict[str, str]]) -> duckdb.DuckDBPyConnection:
    rows = copy.deepcopy(DEFAULT_ROWS)
    rows["acute_spells"] = rows["acute_spells"] + spells
    write_extract_set(tmp_path / "set", rows)
    con = duckdb.connect()
    ensure_layers(con)
    load_extract_set(con, discover(tmp_path / "set"), KEY)
    return con


def _counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int, int]:
    row = con.execute(
        "select rows_read, rows_loaded, rows_quarantined, rows_duplicate from audit.loads "
        "where file = 'acute_spells'"
    ).fetchone()
    assert row is not None
    return tuple(int(x) for x in row)  # type: ignore[return-value]


def _rejected_diagnoses(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select file, row_number, spell_id, diagnosis_position, column_name, rule, "
        "original_value from quarantine.rejected_diagnoses order by row_number, "
        "diagnosis_position"
    ).fetchall()


def test_admission_methods_98_and_99_load_as_neither_emergency_nor_elective(
    tmp_path: Path,
) -> None:
    con = _load(tmp_path, [_spell("S0098", "98"), _spell("S0099", "99")])
    assert con.execute("select count(*) from quarantine.rejected_rows").fetchone() == (0,)
    assert con.execute(
        "select spell_id, admission_method, is_emergency, is_elective "
        "from core.core_acute_spells where spell_id in ('S0098', 'S0099') order by spell_id"
    ).fetchall() == [("S0098", "98", False, False), ("S0099", "99", False, False)]


def test_an_admission_method_outside_the_contract_still_quarantines_the_spell(
    tmp_path: Path,
) -> None:
    con = _load(tmp_path, [_spell("S0097", "97")])
    assert con.execute("select row_number, rule from quarantine.rejected_rows").fetchall() == [
        (4, "admission_method_in_vocabulary")
    ]


def test_a_bad_secondary_diagnosis_is_quarantined_alone_and_its_spell_loaded(
    tmp_path: Path,
) -> None:
    con = _load(tmp_path, [_spell("S0010", diag_02="1234", diag_03="F00.0")])

    assert con.execute("select count(*) from quarantine.rejected_rows").fetchone() == (0,)
    assert _rejected_diagnoses(con) == [
        ("acute_spells", 4, "S0010", 2, "diag_02", "diag_02_format", "1234")
    ]
    reason = con.execute("select reason from quarantine.rejected_diagnoses").fetchone()
    assert reason == ("diag_02 is an ICD-10 code",)
    # the spell and its other diagnoses are kept
    assert con.execute(
        "select count(*) from core.core_acute_spells where spell_id = 'S0010'"
    ).fetchone() == (1,)
    assert con.execute(
        "select diagnosis_position, icd10_code from core.core_acute_diagnoses "
        "where spell_id = 'S0010' order by 1"
    ).fetchall() == [(1, "I500"), (3, "F000")]
    # rows still reconcile (the spell is loaded); the diagnosis is counted on its own
    assert _counts(con) == (4, 4, 0, 0)
    assert extracts_summary(con, 1)["acute_spells"]["diagnoses_quarantined"] == 1
    assert quarantine_by_rule(con, 1) == {"acute_spells": {"diag_02_format": 1}}
    assert con.execute(
        "select n_failing from audit.rule_counts where rule = 'diag_02_format'"
    ).fetchone() == (1,)


def test_each_bad_secondary_diagnosis_of_a_spell_is_its_own_quarantine_row(
    tmp_path: Path,
) -> None:
    con = _load(tmp_path, [_spell("S0011", diag_02=".", diag_03="I50", diag_04="not icd")])
    assert _rejected_diagnoses(con) == [
        ("acute_spells", 4, "S0011", 2, "diag_02", "diag_02_format", "."),
        ("acute_spells", 4, "S0011", 4, "diag_04", "diag_04_format", "not icd"),
    ]
    assert _counts(con) == (4, 4, 0, 0)
    assert extracts_summary(con, 1)["acute_spells"]["diagnoses_quarantined"] == 2


def test_a_bad_primary_diagnosis_still_quarantines_the_spell(tmp_path: Path) -> None:
    con = _load(tmp_path, [_spell("S0012", diag_01="XYZ", diag_02="1234")])
    assert con.execute("select row_number, rule from quarantine.rejected_rows").fetchall() == [
        (4, "diag_01_format")
    ]
    assert con.execute(
        "select count(*) from core.core_acute_spells where spell_id = 'S0012'"
    ).fetchone() == (0,)
    assert con.execute(
        "select count(*) from core.core_acute_diagnoses where spell_id = 'S0012'"
    ).fetchone() == (0,)
    assert _counts(con) == (4, 3, 1, 0)
    # its bad secondary diagnosis is listed too: the quarantine counts what the rule counts
    assert _rejected_diagnoses(con) == [
        ("acute_spells", 4, "S0012", 2, "diag_02", "diag_02_format", "1234")
    ]


def test_a_duplicated_spell_quarantines_its_bad_diagnosis_once(tmp_path: Path) -> None:
    spell = _spell("S0013", diag_02="1234")
    con = _load(tmp_path, [spell, dict(spell)])
    assert _counts(con) == (5, 4, 0, 1)
    assert _rejected_diagnoses(con) == [
        ("acute_spells", 4, "S0013", 2, "diag_02", "diag_02_format", "1234")
    ]


def test_a_spell_losing_its_key_keeps_no_diagnosis_but_its_bad_one_is_listed(
    tmp_path: Path,
) -> None:
    """The second row for a spell id is quarantined (key_unique) even though its only
    failing rule is a secondary diagnosis: such a rule never decides a row's fate."""
    con = _load(tmp_path, [_spell("S0001", diag_02="1234")])
    assert con.execute("select row_number, rule from quarantine.rejected_rows").fetchall() == [
        (4, "key_unique")
    ]
    assert _counts(con) == (4, 3, 1, 0)
    original = con.execute("select original_values from quarantine.rejected_rows").fetchone()
    assert original is not None and json.loads(original[0])["diag_02"] == "1234"
    assert [r[:4] for r in _rejected_diagnoses(con)] == [("acute_spells", 4, "S0001", 2)]
