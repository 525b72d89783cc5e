"""Loading extract sets: reconciliation, idempotency, snapshots, formats, fatal errors."""

from __future__ import annotations

import copy
import json
import logging
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest
from helpers.extract_set import DEFAULT_ROWS, NHS, write_extract_set

from foundation.audit import extracts_summary, latest_snapshot
from foundation.errors import ExtractError
from foundation.warehouse import connect, ensure_layers, patient_id_of
from pipelines.ingest.extracts import discover
from pipelines.ingest.load import CORE_TABLES, load_extract_set

KEY = b"k" * 32


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_layers(con)
    return con


def _load(con: duckdb.DuckDBPyConnection, directory: Path, as_of: date | None = None):
    return load_extract_set(con, discover(directory, as_of), KEY)


def _table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where schema_name in ('raw', 'quarantine', 'audit', 'core') order by all"
    ).fetchall()
    return {f"{s}.{t}": con.execute(f"select count(*) from {s}.{t}").fetchone()[0] for s, t in rows}


def test_summary_reconciles_for_every_file(tmp_path: Path) -> None:
    events = copy.deepcopy(DEFAULT_ROWS["gp_events"])
    events.append(dict(events[0]))  # a duplicate
    events.append({**events[1], "event_date": "not a date"})  # a bad row
    con = _con()
    result = _load(con, write_extract_set(tmp_path / "set", {"gp_events": events}))
    summary = extracts_summary(con, result.snapshot_id)
    assert set(summary) == set(DEFAULT_ROWS)
    for counts in summary.values():
        assert counts["read"] == counts["loaded"] + counts["quarantined"] + counts["duplicates"]
        assert re.fullmatch("[0-9a-f]{64}", counts["sha256"])
    assert summary["gp_events"] == {
        "sha256": summary["gp_events"]["sha256"],
        "read": 7,
        "loaded": 5,
        "quarantined": 1,
        "duplicates": 1,
    }
    assert latest_snapshot(con) == (result.snapshot_id, date(2026, 11, 16))


def test_core_holds_only_accepted_rows_keyed_by_pseudonym(tmp_path: Path) -> None:
    events = copy.deepcopy(DEFAULT_ROWS["gp_events"])
    events.append(dict(events[0]))  # a duplicate: left out of core
    events.append({**events[1], "event_date": "not a date"})  # a rejected row: left out
    spaced = f"{NHS[1][:3]} {NHS[1][3:6]} {NHS[1][6:]}"  # the same patient, written with spaces
    events.append({**events[2], "nhs_number": spaced, "snomed_code": "230690007"})
    con = _con()
    _load(con, write_extract_set(tmp_path / "set", {"gp_events": events}))
    rows = con.execute(
        "select patient_id, cast(event_date as varchar), snomed_code from core.core_gp_events"
    ).fetchall()
    expected = [
        (patient_id_of(KEY, e["nhs_number"].replace(" ", "")), e["event_date"], e["snomed_code"])
        for e in [*DEFAULT_ROWS["gp_events"], events[-1]]
    ]
    assert sorted(rows) == sorted(expected)
    assert con.execute(
        "select count(distinct patient_id) from core.core_gp_events where patient_id = ?",
        [patient_id_of(KEY, NHS[1])],
    ).fetchone() == (1,)


def test_blank_diagnosis_positions_give_no_rows(tmp_path: Path) -> None:
    spell = {**DEFAULT_ROWS["acute_spells"][0]}
    spell.update(diag_01="I50.0", diag_02="   ", diag_03="", diag_04="i500")
    con = _con()
    _load(con, write_extract_set(tmp_path / "set", {"acute_spells": [spell]}))
    rows = con.execute(
        "select diagnosis_position, icd10_code from core.core_acute_diagnoses order by all"
    ).fetchall()
    assert rows == [(1, "I500"), (4, "I500")]


def test_core_tables_have_the_documented_columns(tmp_path: Path) -> None:
    con = _con()
    _load(con, write_extract_set(tmp_path / "set"))
    columns = {t: [r[0] for r in con.execute(f"describe core.{t}").fetchall()] for t in CORE_TABLES}
    assert columns["core_patients"] == [
        "patient_id",
        "birth_month",
        "sex",
        "ethnic_category",
        "lsoa_code",
        "practice_code",
        "registration_start_date",
        "registration_end_date",
        "date_of_death",
        "death_source",
    ]
    assert columns["core_acute_diagnoses"] == [
        "spell_id",
        "patient_id",
        "admission_date",
        "diagnosis_position",
        "icd10_code",
        "icd10_3char",
    ]
    types = dict(
        con.execute(
            "select column_name, column_type from (describe core.core_ae_attendances)"
        ).fetchall()
    )
    assert types["arrival_datetime"] == "TIMESTAMP"
    assert types["arrival_date"] == "DATE"
    assert types["is_planned"] == "BOOLEAN"
    assert "nhs_number" not in columns["core_patients"]
    assert con.execute(
        "select birth_month from core.core_patients p join core.core_patient_identity i "
        "using (patient_id) where i.nhs_number = ?",
        [NHS[0]],
    ).fetchone() == (date(1931, 2, 1),)


def test_core_tables_match_the_shared_core_fixture(tmp_path: Path) -> None:
    """Feature tests build `core` with tests/helpers/core_tables.py from an empty snapshot:
    a loaded extract set gives the same columns and types."""
    from helpers.core_tables import core_columns

    shared = core_columns()
    con = _con()
    _load(con, write_extract_set(tmp_path / "set"))
    assert set(shared) == set(CORE_TABLES)
    for table, columns in shared.items():
        described = con.execute(f"describe core.{table}").fetchall()
        assert [(r[0], r[1].lower()) for r in described] == list(columns.items()), table


def test_same_files_again_change_nothing(tmp_path: Path) -> None:
    con = _con()
    directory = write_extract_set(tmp_path / "set")
    first = _load(con, directory)
    before = _table_counts(con)
    second = _load(con, directory)
    assert second.already_loaded
    assert second.snapshot_id == first.snapshot_id
    assert _table_counts(con) == before


def test_a_later_extract_set_is_a_new_snapshot_and_core_follows_it(tmp_path: Path) -> None:
    con = _con()
    first = _load(con, write_extract_set(tmp_path / "week1"))
    events = [
        *DEFAULT_ROWS["gp_events"],
        {**DEFAULT_ROWS["gp_events"][2], "event_date": "2026-11-20"},
    ]
    second = _load(
        con,
        write_extract_set(
            tmp_path / "week2", {"gp_events": events}, extract_date=date(2026, 11, 23)
        ),
    )
    assert second.snapshot_id == first.snapshot_id + 1
    assert latest_snapshot(con) == (second.snapshot_id, date(2026, 11, 23))
    assert con.execute("select count(*) from core.core_gp_events").fetchone() == (6,)
    assert con.execute("select count(*) from core.core_patients").fetchone() == (6,)
    # An older set loaded afterwards is recorded but does not replace core.
    older = _load(con, write_extract_set(tmp_path / "old", extract_date=date(2026, 11, 9)))
    assert not older.already_loaded
    assert latest_snapshot(con) == (second.snapshot_id, date(2026, 11, 23))
    assert con.execute("select count(*) from core.core_gp_events").fetchone() == (6,)


def test_csds_latest_submission_wins_per_contact(tmp_path: Path) -> None:
    contacts = copy.deepcopy(DEFAULT_ROWS["community_contacts"])
    resubmitted = {**contacts[0], "submission_id": "202610", "attended": "false"}
    older = {**contacts[0], "submission_id": "202608", "team_type": "therapy"}
    contacts += [resubmitted, older]
    con = _con()
    _load(con, write_extract_set(tmp_path / "set", {"community_contacts": contacts}))
    rows = con.execute(
        "select submission_id, is_attended, team_type from core.core_community_contacts "
        "where contact_id = 'C0001'"
    ).fetchall()
    assert rows == [(202610, False, "district_nursing")]
    assert con.execute("select count(*) from core.core_community_contacts").fetchone() == (3,)


def test_icd10_codes_are_normalised(tmp_path: Path) -> None:
    spell = {**DEFAULT_ROWS["acute_spells"][0]}
    forms = ["I50.0", " r69x ", "F00.0D", "J18.9A", "N39-", "E11.65", "W19X", "G309"]
    for i, code in enumerate(forms, start=1):
        spell[f"diag_{i:02d}"] = code
    con = _con()
    _load(con, write_extract_set(tmp_path / "set", {"acute_spells": [spell]}))
    rows = con.execute(
        "select icd10_code, icd10_3char from core.core_acute_diagnoses order by diagnosis_position"
    ).fetchall()
    assert rows == [
        ("I500", "I50"),
        ("R69", "R69"),
        ("F000", "F00"),
        ("J189", "J18"),
        ("N39", "N39"),
        ("E1165", "E11"),
        ("W19", "W19"),
        ("G309", "G30"),
    ]
    assert con.execute("select primary_diagnosis from core.core_acute_spells").fetchone() == (
        "I500",
    )


def test_bom_case_insensitive_headers_and_extra_columns(tmp_path: Path) -> None:
    directory = write_extract_set(tmp_path / "set")
    text = (directory / "practices.csv").read_text(encoding="utf-8")
    header, body = text.split("\n", 1)
    header = ",".join(f" {h.upper()} " for h in header.split(",")) + ",source_system"
    body = "\n".join(line + ",EMIS" for line in body.strip().split("\n")) + "\n"
    (directory / "practices.csv").write_bytes(b"\xef\xbb\xbf" + (header + "\n" + body).encode())
    con = _con()
    _load(con, directory)
    assert con.execute(
        "select practice_code, neighbourhood_code from core.core_practices order by 1"
    ).fetchall() == [("A81001", "NB01"), ("A81002", "NB02")]
    assert con.execute(
        "select extra_columns from audit.loads where file = 'practices'"
    ).fetchone() == (["source_system"],)


def test_parquet_set_loads_like_csv(tmp_path: Path) -> None:
    csv_con, parquet_con = _con(), _con()
    _load(csv_con, write_extract_set(tmp_path / "csv"))
    _load(parquet_con, write_extract_set(tmp_path / "parquet", fmt="parquet"))
    for table in CORE_TABLES:
        query = f"select * from core.{table} order by all"
        assert csv_con.execute(query).fetchall() == parquet_con.execute(query).fetchall(), table


def test_csv_lines_that_do_not_parse_are_quarantined_not_lost(tmp_path: Path) -> None:
    directory = write_extract_set(tmp_path / "set")
    path = directory / "gp_events.csv"
    lines = path.read_text(encoding="utf-8").strip().split("\n")
    lines.insert(2, "9990000018,2025-01-01,22298006,1,extra")  # too many fields: row 2
    lines.insert(4, "9990000018,2025-01-01")  # too few fields: row 4
    lines.append('9990000034,2025-03-01,"22298006, quoted",')  # valid CSV, bad SNOMED
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = _con()
    result = _load(con, directory, as_of=date(2026, 11, 16))
    rejected = con.execute(
        "select row_number, rule from quarantine.rejected_rows order by 1"
    ).fetchall()
    assert rejected == [(2, "csv_parse"), (4, "csv_parse"), (8, "snomed_code_format")]
    counts = result.files["gp_events"]
    assert (counts.read, counts.loaded, counts.quarantined) == (8, 5, 3)
    # Kept rows keep their own row numbers around the rejected lines.
    assert con.execute("select _row_number from raw.gp_events order by 1").fetchall() == [
        (1,),
        (3,),
        (5,),
        (6,),
        (7,),
        (8,),
    ]


def test_quoted_commas_and_newlines_are_values(tmp_path: Path) -> None:
    meds = copy.deepcopy(DEFAULT_ROWS["gp_medications"])
    meds[0]["description"] = 'Paracetamol, 500mg "caplets"\nsecond line'
    con = _con()
    _load(con, write_extract_set(tmp_path / "set", {"gp_medications": meds}))
    assert con.execute("select count(*) from quarantine.rejected_rows").fetchone() == (0,)
    assert con.execute(
        "select description from core.core_gp_medications where description like 'Para%'"
    ).fetchone() == ('Paracetamol, 500mg "caplets"\nsecond line',)
    assert con.execute("select _row_number from raw.gp_medications order by 1").fetchall() == [
        (1,),
        (2,),
        (3,),
    ]


def test_optional_files_missing_give_empty_core_tables(tmp_path: Path) -> None:
    optional = {"social_care_services": None, "lsoa_imd": None, "opt_outs": None, "caseload": None}
    con = _con()
    _load(con, write_extract_set(tmp_path / "set", optional))
    for table in ("core_social_care_services", "core_lsoa_imd", "core_opt_outs", "core_caseload"):
        assert con.execute(f"select count(*) from core.{table}").fetchone() == (0,)
    assert [r[0] for r in con.execute("describe core.core_caseload").fetchall()] == [
        "patient_id",
        "team",
        "start_date",
        "end_date",
    ]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_header_only_required_file_is_present_and_valid(
    tmp_path: Path, fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    con = _con()
    with caplog.at_level(logging.WARNING, logger="casefinder.ingest"):
        result = _load(con, write_extract_set(tmp_path / "set", {"acute_spells": []}, fmt=fmt))
    summary = extracts_summary(con, result.snapshot_id)
    assert summary["acute_spells"]["read"] == 0
    assert summary["gp_patients"]["loaded"] == len(DEFAULT_ROWS["gp_patients"])
    assert con.execute("select count(*) from core.core_acute_spells").fetchone() == (0,)
    assert con.execute("select count(*) from core.core_acute_diagnoses").fetchone() == (0,)
    assert f"acute_spells.{fmt} has a header and no data rows" in caplog.text


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_file_header_only_loads_as_zero_rows(tmp_path: Path, fmt: str) -> None:
    empty: dict[str, list[dict] | None] = {name: [] for name in DEFAULT_ROWS}
    con = _con()
    result = _load(con, write_extract_set(tmp_path / "set", empty, fmt=fmt))
    summary = extracts_summary(con, result.snapshot_id)
    assert set(summary) == set(DEFAULT_ROWS)
    assert {counts["read"] for counts in summary.values()} == {0}
    assert {
        name: con.execute(f"select count(*) from core.{name}").fetchone()[0] for name in CORE_TABLES
    } == dict.fromkeys(CORE_TABLES, 0)


# --- fatal errors: one line naming the file (and column); nothing loaded ------------------


def _fatal(tmp_path: Path, directory: Path, as_of: date | None = None) -> str:
    warehouse = tmp_path / "wh.duckdb"
    con = connect(warehouse)
    try:
        with pytest.raises(ExtractError) as info:
            _load(con, directory, as_of)
        assert con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'audit' "
            "and table_name = 'snapshots'"
        ).fetchone() == (0,) or con.execute("select count(*) from audit.snapshots").fetchone() == (
            0,
        )
        for table in ("gp_patients", "practices"):
            exists = con.execute(
                "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = ?",
                [table],
            ).fetchone()
            if exists and exists[0]:
                assert con.execute(f"select count(*) from raw.{table}").fetchone() == (0,)
    finally:
        con.close()
    message = str(info.value)
    assert "\n" not in message
    for nhs in NHS:
        assert nhs not in message
    return message


def test_missing_required_file_is_fatal(tmp_path: Path) -> None:
    message = _fatal(tmp_path, write_extract_set(tmp_path / "set", {"gp_events": None}))
    assert "missing required file gp_events" in message


def test_missing_required_column_is_fatal(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "snomed_code"} for r in DEFAULT_ROWS["gp_events"]]
    message = _fatal(tmp_path, write_extract_set(tmp_path / "set", {"gp_events": rows}))
    assert message == "gp_events.csv: missing required column snomed_code"


def test_truncated_file_is_fatal_and_nothing_is_loaded(tmp_path: Path) -> None:
    directory = write_extract_set(tmp_path / "set")
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["files"]["gp_events"]["rows"] = 50
    (directory / "manifest.json").write_text(json.dumps(manifest))
    message = _fatal(tmp_path, directory)
    assert message.startswith("gp_events.csv has 5 data rows, fewer than its control total of 50")


def test_header_only_file_with_rows_in_its_control_total_is_truncated(tmp_path: Path) -> None:
    directory = write_extract_set(tmp_path / "set", {"acute_spells": []})
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["files"]["acute_spells"]["rows"] = 3
    (directory / "manifest.json").write_text(json.dumps(manifest))
    message = _fatal(tmp_path, directory)
    assert message.startswith("acute_spells.csv has 0 data rows, fewer than its control total of 3")


def test_zero_byte_file_is_fatal(tmp_path: Path) -> None:
    directory = write_extract_set(tmp_path / "set")
    (directory / "practices.csv").write_bytes(b"")
    assert _fatal(tmp_path, directory) == "practices.csv is empty: no header row"


def test_binary_file_is_fatal(tmp_path: Path) -> None:
    directory = write_extract_set(tmp_path / "set")
    (directory / "gp_patients.csv").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" * 20)
    assert "gp_patients.csv is not" in _fatal(tmp_path, directory)


def test_not_utf8_header_is_fatal(tmp_path: Path) -> None:
    directory = write_extract_set(tmp_path / "set")
    (directory / "practices.csv").write_bytes("practice_cöde,x\n".encode("latin-1"))
    assert _fatal(tmp_path, directory) == "practices.csv is not UTF-8 text (header row)"


def test_wrong_delimiter_is_fatal(tmp_path: Path) -> None:
    directory = write_extract_set(tmp_path / "set")
    path = directory / "practices.csv"
    path.write_text(path.read_text().replace(",", ";"))
    message = _fatal(tmp_path, directory)
    assert message.startswith("practices.csv: missing required column practice_code")
    assert "comma-delimited" in message


def test_unreadable_parquet_is_fatal(tmp_path: Path) -> None:
    directory = write_extract_set(tmp_path / "set", {"caseload": None})
    (directory / "caseload.parquet").write_bytes(b"PAR1 not really")
    assert _fatal(tmp_path, directory) == "caseload.parquet is not a readable Parquet file"


def test_both_formats_of_one_file_is_fatal(tmp_path: Path) -> None:
    directory = write_extract_set(tmp_path / "set")
    write_extract_set(tmp_path / "pq", fmt="parquet")
    (directory / "opt_outs.parquet").write_bytes(
        (tmp_path / "pq" / "opt_outs.parquet").read_bytes()
    )
    assert "opt_outs: found both" in _fatal(tmp_path, directory)


def test_no_as_of_date_is_fatal(tmp_path: Path) -> None:
    message = _fatal(tmp_path, write_extract_set(tmp_path / "set", manifest=False))
    assert "give --as-of" in message


def test_as_of_option_overrides_the_manifest(tmp_path: Path) -> None:
    con = _con()
    result = _load(con, write_extract_set(tmp_path / "set", manifest=False), date(2026, 12, 1))
    assert result.extract_date == date(2026, 12, 1)


def test_logs_never_carry_identifiers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    patients = copy.deepcopy(DEFAULT_ROWS["gp_patients"])
    patients[5]["nhs_number"] = "9990000061"
    with caplog.at_level(logging.DEBUG):
        con = _con()
        _load(con, write_extract_set(tmp_path / "set", {"gp_patients": patients}))
    text = caplog.text
    assert "read" in text
    for patient in DEFAULT_ROWS["gp_patients"]:
        for column in ("nhs_number", "given_name", "date_of_birth"):
            assert patient[column] not in text
    assert "9990000061" not in text


def test_an_unbalanced_quote_quarantines_its_line_and_the_rest_still_loads(
    tmp_path: Path,
) -> None:
    directory = write_extract_set(tmp_path / "set")
    path = directory / "gp_events.csv"
    lines = path.read_text(encoding="utf-8").strip().split("\n")
    lines.insert(2, '9990000018,"2025-01-01,22298006,')  # row 2: the quote never closes
    lines.insert(5, "9990000018,2025-01-01,22298006,1,x")  # row 5: too many fields
    lines.insert(6, '9990000026,2025-02-01,"22298006,')  # row 6: another runaway quote
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con = _con()
    result = _load(con, directory, as_of=date(2026, 11, 16))
    rejected = con.execute(
        "select row_number, rule, original_values from quarantine.rejected_rows order by 1"
    ).fetchall()
    assert [(r[0], r[1]) for r in rejected] == [
        (2, "csv_parse"),
        (5, "csv_parse"),
        (6, "csv_parse"),
    ]
    assert json.loads(rejected[0][2]) == {"csv_line": '9990000018,"2025-01-01,22298006,'}
    counts = result.files["gp_events"]
    assert (counts.read, counts.loaded, counts.quarantined) == (8, 5, 3)
    assert con.execute("select _row_number from raw.gp_events order by 1").fetchall() == [
        (1,),
        (3,),
        (4,),
        (7,),
        (8,),
    ]
    assert con.execute("select count(*) from core.core_gp_events").fetchone() == (5,)


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_bare_carriage_return_inside_a_value_quarantines_its_line(
    tmp_path: Path, line_end: str
) -> None:
    """DuckDB's strict reader gives up on a file with a bare CR in an unquoted value; the
    loader quarantines that line (reason, original text) and lands the rest, numbered as read."""
    directory = write_extract_set(tmp_path / "set")
    path = directory / "gp_medications.csv"
    lines = path.read_text(encoding="utf-8").strip().split("\n")
    n_rows = len(lines) - 1
    target = next(i for i, line in enumerate(lines) if "Atorvastatin 20mg" in line)
    lines[target] = lines[target].replace("Atorvastatin 20mg", "Atorva\rstatin 20mg")
    path.write_bytes((line_end.join(lines) + line_end).encode())
    con = _con()
    result = _load(con, directory)
    rejected = con.execute(
        "select row_number, column_name, rule, reason, original_values "
        "from quarantine.rejected_rows where file = 'gp_medications'"
    ).fetchall()
    assert len(rejected) == 1
    row, column, rule, reason, original = rejected[0]
    assert (row, column, rule) == (target, None, "csv_parse")
    assert "carriage return that does not end a line" in reason
    assert json.loads(original) == {"csv_line": lines[target]}
    counts = result.files["gp_medications"]
    assert (counts.read, counts.loaded, counts.quarantined) == (n_rows, n_rows - 1, 1)
    landed = [r[0] for r in con.execute("select _row_number from raw.gp_medications").fetchall()]
    assert sorted(landed) == [r for r in range(1, n_rows + 1) if r != target]


def test_a_carriage_return_inside_a_quoted_value_is_loaded_as_written(tmp_path: Path) -> None:
    directory = write_extract_set(tmp_path / "set")
    path = directory / "gp_medications.csv"
    text = path.read_text(encoding="utf-8")
    assert "Atorvastatin 20mg tablets" in text and '"Atorvastatin' not in text
    path.write_bytes(text.replace("Atorvastatin 20mg tablets", '"Atorva\rstatin 20mg"').encode())
    con = _con()
    counts = _load(con, directory).files["gp_medications"]
    assert (counts.quarantined, counts.loaded) == (0, counts.read)
    described = con.execute(
        "select count(*) from raw.gp_medications where description = 'Atorva\rstatin 20mg'"
    ).fetchone()
    assert described == (1,)
