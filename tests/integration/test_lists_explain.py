"""Integration: `explain` adds up, shows reasons and history, and refuses bad NHS numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_lists_publish import AS_OF, FAKE_DICTIONARY, PATIENTS, _create, _publish

from foundation.warehouse import connect
from models.explain import explain_patient
from pipelines.cli import main


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "wh.duckdb"
    con = connect(path)
    _create(con, {AS_OF: PATIENTS})
    _publish(con, AS_OF, tmp_path / "out")
    con.close()
    return path


def test_base_value_plus_contributions_equals_the_raw_score(warehouse):
    with connect(warehouse, read_only=True) as con:
        doc = explain_patient(con, "p1", dictionary=FAKE_DICTIONARY)
    assert doc is not None
    total = doc["base_value"] + sum(f["contribution"] for f in doc["features"])
    assert total == pytest.approx(doc["raw_score"], abs=1e-9)
    assert (doc["rank"], doc["neighbourhood_code"], doc["risk_tier"]) == (1, "N1", "very_high")
    assert doc["reasons"][0]["text"] == "3 emergency admissions in the last 12 months"
    assert doc["history"] == [{"as_of": "2026-11-16", "risk_score": doc["risk_score"], "rank": 1}]


def test_not_scored_patients_have_no_explanation(warehouse):
    with connect(warehouse, read_only=True) as con:
        assert explain_patient(con, "p2") is None  # opted out
        assert explain_patient(con, "p3") is None  # not housebound


def test_cli_json_follows_the_contract(warehouse, capsys, monkeypatch):
    import features.dictionary as real

    monkeypatch.setattr(real, "get", FAKE_DICTIONARY.get)
    code = main(["explain", "943 476 5919", "--warehouse", str(warehouse), "--format", "json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc)[:8] == [
        "nhs_number",
        "as_of",
        "model_version",
        "risk_score",
        "risk_tier",
        "rank",
        "neighbourhood_code",
        "base_value",
    ]
    assert doc["nhs_number"] == "9434765919"
    assert {"features", "reasons", "history"} <= set(doc)
    assert doc["features"][0].keys() >= {"name", "value", "contribution", "description"}
    assert doc["base_value"] + sum(f["contribution"] for f in doc["features"]) == pytest.approx(
        doc["raw_score"]
    )


def test_cli_text_and_html(warehouse, capsys):
    assert main(["explain", "9434765919", "--warehouse", str(warehouse)]) == 0
    text = capsys.readouterr().out
    assert "Reasons:" in text and "3 emergency admissions" in text
    assert main(["explain", "9434765919", "--warehouse", str(warehouse), "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("<!DOCTYPE html>") and "History" in page


@pytest.mark.parametrize(
    ("nhs", "message"),
    [
        ("9434765918", "not valid"),  # bad check digit
        ("12345", "not valid"),
        ("4010232137", "not in the warehouse"),  # valid, unknown
        ("9434765870", "was not scored"),  # opted out
    ],
)
def test_cli_rejects_bad_or_unknown_numbers_without_echoing_them(warehouse, capsys, nhs, message):
    assert main(["explain", nhs, "--warehouse", str(warehouse)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert nhs not in err
    assert len(err.strip().splitlines()) == 1
