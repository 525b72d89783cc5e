"""Integration: each reason is backed by its most recent source records from its evidence model."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import duckdb
import pytest

import models.explain
from models.explain import collect_evidence

AS_OF = date(2026, 11, 16)
_FEATURES = {
    "n_emergency_admissions_365d": SimpleNamespace(evidence="evid_fake_spells"),
    "efi": SimpleNamespace(evidence="evid_fake_gp"),
    "age": SimpleNamespace(evidence=None),
}
DICTIONARY = SimpleNamespace(get=lambda name: _FEATURES[name])


@pytest.fixture
def con(monkeypatch):
    con = duckdb.connect()
    con.execute("create schema features")
    con.execute("create schema scores")
    con.execute(
        "create table scores.reasons as select * from (values"
        " (date '2026-11-16', 'p1', 1, 'n_emergency_admissions_365d'),"
        " (date '2026-11-16', 'p1', 2, 'efi'),"
        " (date '2026-11-16', 'p1', 3, 'age'),"
        " (date '2026-11-16', 'p2', 1, 'efi'))"
        " t(as_of, patient_id, reason_rank, feature)"
    )
    # Seven emergency admissions for p1 (only the five latest are kept), one for p2 (no
    # such reason for p2: not kept); gp rows labelled by deficit name (not 'efi').
    spells = [
        ("p1", "n_emergency_admissions_365d", "acute_spells", date(2026, m, 1), "I500", "HF")
        for m in range(1, 8)
    ] + [("p2", "n_emergency_admissions_365d", "acute_spells", date(2026, 5, 1), "J18", "x")]
    gp = [
        ("p1", "efi_falls", "gp_events", date(2025, 1, 1), "161898004", "Falls"),
        ("p2", "efi", "gp_events", date(2024, 1, 1), "1", "exact"),
        ("p2", "efi_falls", "gp_events", date(2025, 1, 1), "2", "other label"),
    ]
    data = {"evid_fake_spells": spells, "evid_fake_gp": gp}
    seen_patients: dict[str, list[str]] = {}

    real_query_model = models.explain.query_model

    def fake_query_model(con, name, params):
        if name not in data:
            return real_query_model(con, name, params)
        assert set(params) == {"as_of", "patient_ids"} and params["as_of"] == AS_OF
        seen_patients[name] = sorted(params["patient_ids"])
        rows = data[name]
        con.execute(
            "create or replace temp table _ev (patient_id varchar, feature varchar,"
            " source varchar, event_date date, code varchar, term varchar)"
        )
        if rows:
            con.executemany("insert into _ev values (?, ?, ?, ?, ?, ?)", rows)
        return con.sql("select * from _ev")

    monkeypatch.setattr(models.explain, "query_model", fake_query_model)
    yield con, seen_patients
    con.close()


def test_reasons_get_their_latest_records_exact_labels_first(con):
    con, seen_patients = con
    rel = collect_evidence(con, AS_OF, per_reason=5, dictionary=DICTIONARY)
    assert rel is not None
    rows = con.execute(
        "select patient_id, feature, event_date, code, term, evidence_rank from reason_evidence"
        " order by patient_id, feature, evidence_rank"
    ).fetchall()
    p1_spells = [r for r in rows if r[0] == "p1" and r[1] == "n_emergency_admissions_365d"]
    assert [r[2].month for r in p1_spells] == [7, 6, 5, 4, 3]
    assert [r[5] for r in p1_spells] == [1, 2, 3, 4, 5]
    # p1's gp rows carry another label: all of them back the efi reason.
    assert [(r[3], r[4]) for r in rows if r[0] == "p1" and r[1] == "efi"] == [
        ("161898004", "Falls")
    ]
    # p2 has an exactly labelled row: only it backs the reason.
    assert [(r[1], r[3]) for r in rows if r[0] == "p2"] == [("efi", "1")]
    assert seen_patients == {"evid_fake_gp": ["p1", "p2"], "evid_fake_spells": ["p1"]}


def test_no_evidence_models_means_no_evidence(con):
    con, _seen = con
    con.execute("delete from scores.reasons where feature <> 'age'")
    assert collect_evidence(con, AS_OF, dictionary=DICTIONARY) is None
