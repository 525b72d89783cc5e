"""Each contract rule quarantines the one row that breaks it, and nothing else."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import duckdb
import pytest
from helpers.extract_set import DEFAULT_ROWS, NHS, write_extract_set

from foundation.warehouse import ensure_layers
from pipelines.ingest.extracts import discover
from pipelines.ingest.load import load_extract_set

KEY = b"k" * 32

# (file, row index, column, bad value, rule expected). gp_patients cases use row 5, a
# patient with no other records, so that no event becomes an orphan.
CASES = [
    ("gp_patients", 5, "nhs_number", "", "nhs_number_required"),
    ("gp_patients", 5, "nhs_number", "9990000061", "nhs_number_format"),
    ("gp_patients", 5, "nhs_number", "1111111111", "nhs_number_format"),
    ("gp_patients", 5, "nhs_number", "999000006", "nhs_number_format"),
    ("gp_patients", 5, "date_of_birth", "", "date_of_birth_required"),
    ("gp_patients", 5, "date_of_birth", "15/03/1940", "date_of_birth_format"),
    ("gp_patients", 5, "date_of_birth", "1940-02-30", "date_of_birth_format"),
    ("gp_patients", 5, "date_of_birth", "2026-11-17", "date_of_birth_not_after_extract_date"),
    ("gp_patients", 5, "date_of_birth", "1899-12-31", "date_of_birth_not_before_1900"),
    ("gp_patients", 5, "sex", "M", "sex_in_vocabulary"),
    ("gp_patients", 5, "sex", "", "sex_required"),
    ("gp_patients", 5, "ethnic_category", "Q", "ethnic_category_in_vocabulary"),
    ("gp_patients", 5, "practice_code", "", "practice_code_required"),
    ("gp_patients", 5, "practice_code", "Z99999", "practice_exists"),
    ("gp_patients", 5, "registration_start_date", "2001-4-1", "registration_start_date_format"),
    (
        "gp_patients",
        5,
        "registration_end_date",
        "2030-01-01",
        "registration_end_date_not_after_extract_date",
    ),
    ("gp_patients", 5, "date_of_death", "yesterday", "date_of_death_format"),
    ("gp_events", 2, "nhs_number", NHS[6], "patient_exists"),
    ("gp_events", 2, "nhs_number", "9990000019", "nhs_number_format"),
    ("gp_events", 2, "event_date", "2026-11-30", "event_date_not_after_extract_date"),
    ("gp_events", 2, "snomed_code", "12AB", "snomed_code_format"),
    ("gp_events", 2, "snomed_code", "12345", "snomed_code_format"),
    ("gp_events", 2, "numeric_value", "abc", "numeric_value_format"),
    ("gp_medications", 1, "bnf_code", "0212000B0", "bnf_code_format"),
    ("gp_medications", 1, "issue_date", "", "issue_date_required"),
    ("acute_spells", 1, "discharge_date", "2025-07-13", "discharge_not_before_admission"),
    ("acute_spells", 1, "admission_method", "97", "admission_method_in_vocabulary"),
    ("acute_spells", 1, "diag_01", "XYZ", "diag_01_format"),
    ("acute_spells", 1, "diag_01", "", "diag_01_required"),
    ("acute_spells", 1, "admission_date", "1850-01-01", "admission_date_not_before_1900"),
    ("ae_attendances", 1, "arrival_datetime", "20/05/2026 22:05", "arrival_datetime_format"),
    ("ae_attendances", 1, "arrival_datetime", "2026-05-20", "arrival_datetime_format"),
    ("ae_attendances", 1, "arrival_planned", "yes", "arrival_planned_format"),
    ("ae_attendances", 1, "department_type", "05", "department_type_in_vocabulary"),
    ("ae_attendances", 1, "chief_complaint_snomed", "abc", "chief_complaint_snomed_format"),
    ("community_contacts", 2, "submission_id", "2026-10", "submission_id_format"),
    ("community_contacts", 2, "team_type", "nursing", "team_type_in_vocabulary"),
    ("community_contacts", 2, "attended", "", "attended_required"),
    ("community_contacts", 2, "duration_minutes", "1.5", "duration_minutes_format"),
    ("community_contacts", 2, "priority", "asap", "priority_in_vocabulary"),
    ("community_contacts", 2, "location", "garden", "location_in_vocabulary"),
    ("community_contacts", 2, "contact_datetime", "2026-13-05 14:30", "contact_datetime_format"),
    ("social_care_services", 0, "service_type", "meals", "service_type_in_vocabulary"),
    ("social_care_services", 0, "planned_hours_per_week", "7,5", "planned_hours_per_week_format"),
    ("lsoa_imd", 0, "imd_decile", "11", "imd_decile_range"),
    ("lsoa_imd", 0, "imd_decile", "three", "imd_decile_format"),
    ("opt_outs", 0, "opt_out_type", "type2", "opt_out_type_in_vocabulary"),
    ("practices", 1, "neighbourhood_code", "", "neighbourhood_code_required"),
    ("caseload", 0, "nhs_number", "123", "nhs_number_format"),
    ("gp_patients", 5, "given_name", "Be\x00rt", "given_name_no_control_characters"),
    ("gp_medications", 1, "description", "Para\x07cetamol", "description_no_control_characters"),
]


def _load(tmp_path: Path, overrides: dict) -> duckdb.DuckDBPyConnection:
    write_extract_set(tmp_path / "set", overrides)
    con = duckdb.connect()
    ensure_layers(con)
    load_extract_set(con, discover(tmp_path / "set"), KEY)
    return con


@pytest.fixture(scope="module")
def defects_loaded(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[duckdb.DuckDBPyConnection, dict[tuple[str, int], str]]:
    """One extract set holding every case as an extra, modified copy of a good row.

    Returns the loaded warehouse and {(file, row_number): rule expected}.
    """
    rows = copy.deepcopy(DEFAULT_ROWS)
    expected: dict[tuple[str, int], str] = {}
    for file, index, column, value, rule in CASES:
        bad = dict(DEFAULT_ROWS[file][index])
        bad[column] = value
        rows[file].append(bad)
        expected[(file, len(rows[file]))] = rule
    con = _load(tmp_path_factory.mktemp("defects"), rows)
    return con, expected


@pytest.mark.parametrize(("file", "index", "column", "value", "rule"), CASES)
def test_rule_quarantines_the_failing_row(
    defects_loaded: tuple[duckdb.DuckDBPyConnection, dict[tuple[str, int], str]],
    file: str,
    index: int,
    column: str,
    value: str,
    rule: str,
) -> None:
    con, expected = defects_loaded
    row_number = _row_of(file, column, value, rule)
    assert expected[(file, row_number)] == rule
    rejected = con.execute(
        "select rule, column_name, reason from quarantine.rejected_rows "
        "where file = ? and row_number = ?",
        [file, row_number],
    ).fetchall()
    assert rule in {r[0] for r in rejected}
    reason = next(r[2] for r in rejected if r[0] == rule)
    assert reason  # the expectation, in words
    assert DEFAULT_ROWS[file][index][column] != value


def _row_of(file: str, column: str, value: str, rule: str) -> int:
    """Row number of the copy made for one case (cases are appended in CASES order)."""
    n_before = {f: len(DEFAULT_ROWS[f]) for f in DEFAULT_ROWS}
    for case_file, _index, case_column, case_value, case_rule in CASES:
        n_before[case_file] += 1
        if (case_file, case_column, case_value, case_rule) == (file, column, value, rule):
            return n_before[case_file]
    raise AssertionError("case not found")


def test_no_good_row_is_quarantined_and_counts_reconcile(
    defects_loaded: tuple[duckdb.DuckDBPyConnection, dict[tuple[str, int], str]],
) -> None:
    con, expected = defects_loaded
    quarantined = set(
        con.execute("select distinct file, row_number from quarantine.rejected_rows").fetchall()
    )
    assert quarantined == set(expected)
    for file, read, loaded, n_quarantined, duplicates in con.execute(
        "select file, rows_read, rows_loaded, rows_quarantined, rows_duplicate from audit.loads"
    ).fetchall():
        n_bad = sum(1 for f, _ in expected if f == file)
        assert (read, loaded, n_quarantined, duplicates) == (
            len(DEFAULT_ROWS[file]) + n_bad,
            len(DEFAULT_ROWS[file]),
            n_bad,
            0,
        )


def test_valid_set_quarantines_nothing(tmp_path: Path) -> None:
    con = _load(tmp_path, {})
    assert con.execute("select count(*) from quarantine.rejected_rows").fetchone() == (0,)
    assert con.execute("select count(*) from quarantine.duplicate_rows").fetchone() == (0,)


def test_nhs_numbers_with_spaces_and_hyphens_are_valid(tmp_path: Path) -> None:
    rows = copy.deepcopy(DEFAULT_ROWS["gp_patients"])
    rows[5]["nhs_number"] = "999 000 0069"
    events = copy.deepcopy(DEFAULT_ROWS["gp_events"])
    events[0]["nhs_number"] = "999-000-0018"
    con = _load(tmp_path, {"gp_patients": rows, "gp_events": events})
    assert con.execute("select count(*) from quarantine.rejected_rows").fetchone() == (0,)
    ids = con.execute("select nhs_number from core.core_patient_identity").fetchall()
    assert ("9990000069",) in ids


def test_tab_and_line_break_in_free_text_are_not_control_character_failures(
    tmp_path: Path,
) -> None:
    rows = copy.deepcopy(DEFAULT_ROWS)
    rows["gp_medications"][1]["description"] = "Paracetamol\t500mg\ntablets"
    con = _load(tmp_path, rows)
    rejected = con.execute(
        "select count(*) from quarantine.rejected_rows where file = 'gp_medications'"
    ).fetchall()
    assert rejected == [(0,)]


def test_exact_duplicates_load_once(tmp_path: Path) -> None:
    events = copy.deepcopy(DEFAULT_ROWS["gp_events"])
    events += [dict(events[1]), dict(events[1])]
    con = _load(tmp_path, {"gp_events": events})
    assert con.execute(
        "select row_number, duplicate_of from quarantine.duplicate_rows order by 1"
    ).fetchall() == [(6, 2), (7, 2)]
    counts = con.execute(
        "select rows_read, rows_loaded, rows_quarantined, rows_duplicate from audit.loads "
        "where file = 'gp_events'"
    ).fetchone()
    assert counts == (7, 5, 0, 2)
    assert con.execute("select count(*) from core.core_gp_events").fetchone() == (5,)


def test_duplicate_of_a_bad_row_is_a_duplicate_and_the_first_copy_is_quarantined(
    tmp_path: Path,
) -> None:
    events = copy.deepcopy(DEFAULT_ROWS["gp_events"])
    events[1]["snomed_code"] = "bad"
    events.append(dict(events[1]))
    con = _load(tmp_path, {"gp_events": events})
    counts = con.execute(
        "select rows_read, rows_loaded, rows_quarantined, rows_duplicate from audit.loads "
        "where file = 'gp_events'"
    ).fetchone()
    assert counts == (6, 4, 1, 1)
    assert con.execute("select row_number, rule from quarantine.rejected_rows").fetchall() == [
        (2, "snomed_code_format")
    ]


def test_conflicting_key_keeps_the_first_row(tmp_path: Path) -> None:
    spells = copy.deepcopy(DEFAULT_ROWS["acute_spells"])
    clash = dict(spells[0])
    clash["admission_method"] = "22"
    spells.append(clash)
    con = _load(tmp_path, {"acute_spells": spells})
    assert con.execute("select row_number, rule from quarantine.rejected_rows").fetchall() == [
        (4, "key_unique")
    ]
    assert con.execute(
        "select admission_method from core.core_acute_spells where spell_id = 'S0001'"
    ).fetchall() == [("21",)]


def test_row_failing_several_rules_counts_once(tmp_path: Path) -> None:
    events = copy.deepcopy(DEFAULT_ROWS["gp_events"])
    events[2].update(snomed_code="x", event_date="2999-01-01", numeric_value="n/a")
    con = _load(tmp_path, {"gp_events": events})
    rules = con.execute(
        "select rule from quarantine.rejected_rows where row_number = 3 order by rule"
    ).fetchall()
    assert [r[0] for r in rules] == [
        "event_date_not_after_extract_date",
        "numeric_value_format",
        "snomed_code_format",
    ]
    counts = con.execute(
        "select rows_read, rows_loaded, rows_quarantined from audit.loads where file = 'gp_events'"
    ).fetchone()
    assert counts == (5, 4, 1)


def test_quarantine_keeps_the_row_as_landed(tmp_path: Path) -> None:
    events = copy.deepcopy(DEFAULT_ROWS["gp_events"])
    events[2]["snomed_code"] = " 12AB "
    con = _load(tmp_path, {"gp_events": events})
    import json

    original = con.execute("select original_values from quarantine.rejected_rows").fetchone()
    assert original is not None
    assert json.loads(original[0])["snomed_code"] == " 12AB "


@pytest.mark.slow
def test_gx_counts_every_rule_like_the_quarantine_in_one_query(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The GX suites, run over the same defects, count exactly what the quarantine counted,
    and find no row of `core` breaking a typed check.

    Every case's rule is counted at least once; GX bundles every file's rules into one query
    of the quarantine, and every `core` table's checks into one more.
    """
    import logging

    from pipelines.ingest.validation import validate_snapshot

    rows = copy.deepcopy(DEFAULT_ROWS)
    for file, index, column, value, _rule in CASES:
        rows[file].append({**DEFAULT_ROWS[file][index], column: value})
    # secondary diagnoses quarantined on their own: the spells are loaded
    rows["acute_spells"].append(
        {**DEFAULT_ROWS["acute_spells"][1], "spell_id": "S0100", "diag_02": "1234", "diag_04": "?"}
    )
    write_extract_set(tmp_path / "set", rows)
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        ensure_layers(con)
        load_extract_set(con, discover(tmp_path / "set"), KEY)
        quarantine = {
            (file, rule): n
            for file, rule, n in con.execute(
                "select file, rule, n_failing from audit.rule_counts"
            ).fetchall()
        }
        files_with_rules = {file for file, _rule in quarantine}
        diagnoses = dict(
            con.execute(
                "select rule, count(*) from quarantine.rejected_diagnoses group by rule"
            ).fetchall()
        )
    engine_log = "great_expectations.execution_engine.sqlalchemy_execution_engine"
    with caplog.at_level(logging.DEBUG, logger=engine_log):
        report = validate_snapshot(warehouse, 1, date(2026, 11, 16), tmp_path / "docs")

    gx = {(file, rule): n for file, rules in report.unexpected.items() for rule, n in rules.items()}
    assert report.mismatches == ()
    assert gx == quarantine
    assert all(gx[(file, rule)] >= 1 for file, _i, _c, _v, rule in CASES)
    assert diagnoses == {"diag_02_format": 1, "diag_04_format": 1}
    assert {rule: gx[("acute_spells", rule)] for rule in diagnoses} == diagnoses
    assert files_with_rules == {file for file, _rule in gx}
    assert report.typed["core_gp_events"] == {
        "patient_id_present": 0,
        "event_date_present": 0,
        "event_date_in_range": 0,
        "snomed_code_present": 0,
    }
    bundles = [r for r in caplog.records if r.name == engine_log and "computed" in r.message]
    assert len(bundles) == 2


@pytest.mark.slow
def test_gx_reports_a_core_row_that_breaks_a_typed_check(tmp_path: Path) -> None:
    """A `core` row outside the contract (a date before 1900 written after the load) is a
    mismatch GX reports by table, check and count, and its expectation fails."""
    from pipelines.ingest.validation import validate_snapshot

    write_extract_set(tmp_path / "set")
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        ensure_layers(con)
        load_extract_set(con, discover(tmp_path / "set"), KEY)
        con.execute(
            "update core.core_gp_events set event_date = date '1850-01-01' "
            "where rowid in (select rowid from core.core_gp_events limit 2)"
        )
    report = validate_snapshot(warehouse, 1, date(2026, 11, 16), tmp_path / "docs")
    assert report.mismatches == ("core.core_gp_events.event_date_in_range: 2 rows break it",)
    assert report.typed["core_gp_events"]["event_date_in_range"] == 2
    assert report.docs_index is not None
    pages = list((tmp_path / "docs").rglob("validations/**/*.html"))
    assert any("Failed" in page.read_text(encoding="utf-8") for page in pages)
