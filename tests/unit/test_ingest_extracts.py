"""Pure helpers of ingest: header matching, manifest, as-of date, rule catalogue, GX query."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from foundation.contract import FILES
from foundation.errors import ExtractError
from pipelines.ingest.extracts import control_total, csv_header, map_columns, resolve_as_of
from pipelines.ingest.rules import KEY_UNIQUE_FILES, KNOWN_PATIENTS, key_expression, rules_for
from pipelines.ingest.validation import _gx_query

EVENTS = FILES["gp_events"]


def test_headers_match_case_insensitively_after_trimming() -> None:
    mapping, extra = map_columns(
        Path("gp_events.csv"), EVENTS, [" NHS_Number", "Event_Date ", "SNOMED_CODE", "source"]
    )
    assert mapping == {"nhs_number": 0, "event_date": 1, "snomed_code": 2}
    assert extra == ("source",)


def test_missing_required_column_names_file_and_column() -> None:
    with pytest.raises(ExtractError, match=r"^gp_events.csv: missing required column event_date$"):
        map_columns(Path("gp_events.csv"), EVENTS, ["nhs_number", "snomed_code"])


def test_a_column_named_twice_is_fatal() -> None:
    with pytest.raises(ExtractError, match="appears more than once"):
        map_columns(
            Path("gp_events.csv"), EVENTS, ["nhs_number", "NHS_NUMBER", "event_date", "snomed_code"]
        )


def test_only_diag_01_is_required_of_the_diagnosis_columns() -> None:
    spells = FILES["acute_spells"]
    header = ["spell_id", "nhs_number", "admission_date", "admission_method", "diag_01"]
    mapping, _ = map_columns(Path("acute_spells.csv"), spells, header)
    assert "diag_02" not in mapping
    with pytest.raises(ExtractError, match="missing required column diag_01"):
        map_columns(Path("acute_spells.csv"), spells, header[:-1])


def test_as_of_comes_from_option_then_manifest_else_error() -> None:
    assert resolve_as_of({"extract_date": "2026-11-16"}, None, Path("x")) == date(2026, 11, 16)
    assert resolve_as_of({"extract_date": "2026-11-16"}, date(2026, 1, 1), Path("x")) == date(
        2026, 1, 1
    )
    with pytest.raises(ExtractError, match="give --as-of"):
        resolve_as_of({}, None, Path("x"))
    with pytest.raises(ExtractError, match="extract_date is not a YYYY-MM-DD date"):
        resolve_as_of({"extract_date": "16/11/2026"}, None, Path("x"))


def test_an_as_of_after_the_extract_date_is_refused() -> None:
    manifest = {"extract_date": "2026-11-16"}
    assert resolve_as_of(manifest, date(2026, 11, 16), Path("x")) == date(2026, 11, 16)
    with pytest.raises(ExtractError) as info:
        resolve_as_of(manifest, date(2026, 11, 17), Path("x"))
    assert str(info.value) == (
        "--as-of 2026-11-17 is after the extract set's extract_date 2026-11-16 "
        "(manifest.json): the data have not reached that day"
    )
    # Without a manifest there is no extract date to hold it to.
    assert resolve_as_of({}, date(2030, 1, 1), Path("x")) == date(2030, 1, 1)


def test_control_totals() -> None:
    manifest = {"files": {"gp_events": {"rows": "12"}, "practices": {}}}
    assert control_total(manifest, "gp_events") == 12
    assert control_total(manifest, "practices") is None
    assert control_total({}, "gp_events") is None
    with pytest.raises(ExtractError, match=r"files\.gp_events\.rows"):
        control_total({"files": {"gp_events": {"rows": "many"}}}, "gp_events")


def test_csv_header_strips_a_bom_and_reads_quoted_names(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b'\xef\xbb\xbf"nhs_number","event, date"\r\n1,2\r\n')
    assert csv_header(path) == ["nhs_number", "event, date"]


def test_every_required_column_has_a_required_rule() -> None:
    for spec in FILES.values():
        names = {r.name for r in rules_for(spec, date(2026, 11, 16), {})}
        for column in spec.columns:
            if column.required:
                assert f"{column.name}_required" in names


def test_referential_rules_need_the_loads_they_refer_to() -> None:
    as_of = date(2026, 11, 16)
    assert "patient_exists" not in {r.name for r in rules_for(EVENTS, as_of, {})}
    rules = {r.name: r for r in rules_for(EVENTS, as_of, {"gp_patients": 3})}
    # the set's own gp_patients, as the load kept them (`rules.known_values`)
    assert KNOWN_PATIENTS in rules["patient_exists"].condition
    assert "date '2026-11-16'" in rules["event_date_not_after_extract_date"].condition


def test_key_expression_only_for_enforced_keys() -> None:
    assert key_expression(FILES["gp_patients"], "r") == "raw.nhs_digits(r.nhs_number)"
    assert key_expression(FILES["community_contacts"], "r") is None
    assert key_expression(EVENTS, "r") is None
    assert "gp_patients" in KEY_UNIQUE_FILES


def test_gx_query_doubles_braces_but_keeps_the_batch_placeholder() -> None:
    query = _gx_query("not regexp_full_match(x, '[0-9]{6,18}')")
    assert query == ("select count(*) from {batch} where not regexp_full_match(x, '[0-9]{{6,18}}')")
    assert query.format(batch="t") == (
        "select count(*) from t where not regexp_full_match(x, '[0-9]{6,18}')"
    )
