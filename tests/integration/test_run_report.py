"""The run report on a small literal warehouse: reconciliation, drift, flags, no identifiers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from reports.run_report import (
    breached,
    build_run_report,
    checks,
    drift_profiles,
    previous_summary_for,
    record_drift_profiles,
)

NHS = "9990000018"
FEATURES = ["efi", "n_emergency_admissions_365d"]
MODEL_FEATURES = ["efi"]  # what the registered model m1 was trained on
LAST_WEEK, THIS_WEEK = "2026-11-09", "2026-11-16"


def _warehouse(
    gp_events_now: int = 1000, efi_shift: float = 0.0, drop_last_week_features: bool = False
) -> duckdb.DuckDBPyConnection:
    """Two weekly snapshots, 400 patients each; this week's volume and efi can be bent."""
    con = duckdb.connect()
    for schema in ("audit", "quarantine", "features", "scores", "registry", "core"):
        con.execute(f"create schema {schema}")
    con.execute(
        "create table audit.snapshots (snapshot_id integer, extracts_dir_name varchar, "
        "extract_date date, loaded_at timestamp, manifest_sha256 varchar, status varchar)"
    )
    con.execute(
        "insert into audit.snapshots values "
        "(1, 'w1', ?, '2026-11-09 06:00', 'a', 'ok'), (2, 'w2', ?, '2026-11-16 06:00', 'b', 'ok')",
        [LAST_WEEK, THIS_WEEK],
    )
    con.execute(
        "create table audit.loads (load_id integer, snapshot_id integer, file varchar, "
        "format varchar, sha256 varchar, rows_read bigint, rows_loaded bigint, "
        "rows_quarantined bigint, rows_duplicate bigint, started_at timestamp, "
        "ended_at timestamp, status varchar)"
    )
    con.execute(
        "insert into audit.loads values "
        "(1, 1, 'gp_events', 'csv', 'x', 1000, 990, 10, 0, null, null, 'loaded'),"
        "(2, 1, 'acute_spells', 'csv', 'y', 200, 200, 0, 0, null, null, 'loaded'),"
        "(3, 2, 'gp_events', 'csv', 'z', ?, ?, 4, 1, null, null, 'loaded'),"
        "(4, 2, 'acute_spells', 'csv', 'w', 210, 210, 0, 0, null, null, 'loaded')",
        [gp_events_now, gp_events_now - 5],
    )
    con.execute(
        "create table quarantine.rejected_rows (load_id integer, file varchar, row_number "
        "integer, column_name varchar, rule varchar, reason varchar, original_values varchar)"
    )
    for i in range(4):
        con.execute(
            "insert into quarantine.rejected_rows values (3, 'gp_events', ?, 'event_date', "
            "'date_format', ?, ?)",
            [i + 1, f"not a date for patient {NHS}", json.dumps({"nhs_number": NHS})],
        )
    con.execute(
        "insert into quarantine.rejected_rows values (1, 'gp_events', 9, 'snomed_code', "
        "'snomed_format', 'last week only', '{}')"
    )
    rng = np.random.default_rng(1)
    con.execute(
        "create table features.feat_patients (patient_id varchar, index_date date, "
        "practice_code varchar, neighbourhood_code varchar, efi double, "
        "n_emergency_admissions_365d integer, housebound boolean)"
    )
    for day, shift in ((LAST_WEEK, 0.0), (THIS_WEEK, efi_shift)):
        if drop_last_week_features and day == LAST_WEEK:
            continue
        efi = np.clip(rng.normal(0.25, 0.08, 400) + shift, 0, 1)
        adm = rng.poisson(0.6, 400)
        rows = pd.DataFrame(
            {"pid": [f"p{i:04d}" for i in range(400)], "efi": efi, "adm": adm.astype("int32")}
        )
        con.register("rows", rows)
        con.execute(
            "insert into features.feat_patients "
            "select pid, cast(? as date), 'A81001', 'NB01', efi, adm, true from rows",
            [day],
        )
    con.execute(
        "create table scores.scores (as_of date, patient_id varchar, model_version varchar, "
        "raw_score double, risk_score double, risk_tier varchar)"
    )
    for day in (LAST_WEEK, THIS_WEEK):
        scores = pd.DataFrame({"pid": [f"p{i:04d}" for i in range(300)], "s": rng.beta(2, 5, 300)})
        con.register("scores_rows", scores)
        con.execute(
            "insert into scores.scores "
            "select cast(? as date), pid, 'm1', 0, s, 'low' from scores_rows",
            [day],
        )
    con.execute(
        "create table registry.models (model_version varchar, created_at timestamp, "
        "status varchar, path varchar, as_of date, metrics varchar, feature_names varchar)"
    )
    con.execute(
        "insert into registry.models values ('m1', '2026-11-02 07:00', 'active', 'm', ?, ?, ?)",
        [
            LAST_WEEK,
            json.dumps(
                {
                    "housebound": {
                        "model": {"auroc": 0.781, "brier": 0.12, "subgroups": {"sex=F": {"n": 3}}},
                        "efi": {"auroc": 0.61},
                    }
                }
            ),
            json.dumps(MODEL_FEATURES),
        ],
    )
    con.execute(
        "create table core.core_opt_outs (patient_id varchar, opt_out_type varchar, "
        "recorded_date date)"
    )
    con.execute("insert into core.core_opt_outs values ('p1', 'type1', null), ('p2', 'ndoo', null)")
    return con


def _summary(day: str, gp_read: int, lists: dict[str, int]) -> dict:
    return {
        "as_of": day,
        "model_version": "m1",
        "code_version": "0.1.0+gabc",
        "extracts": {
            "gp_events": {
                "sha256": "z" * 64,
                "read": gp_read,
                "loaded": gp_read - 5,
                "quarantined": 4,
                "duplicates": 1,
            },
            "acute_spells": {
                "sha256": "w" * 64,
                "read": 210,
                "loaded": 210,
                "quarantined": 0,
                "duplicates": 0,
            },
        },
        "cohort": {"housebound": 400, "excluded_opt_out": 1, "excluded_other": 0, "listed": 399},
        "lists": {k: {"rows": v, "sha256": "s"} for k, v in lists.items()},
    }


PREVIOUS = {
    "as_of": LAST_WEEK,
    "extracts": {"gp_events": {"read": 1000}, "acute_spells": {"read": 200}},
    "lists": {"NB01": {"rows": 200}, "NB02": {"rows": 200}},
}


def test_a_normal_week_breaches_nothing(tmp_path: Path) -> None:
    con = _warehouse()
    out = tmp_path / "reports" / THIS_WEEK / "run_report.html"
    path, found = build_run_report(
        con, _summary(THIS_WEEK, 1000, {"NB01": 199, "NB02": 200}), out, PREVIOUS, FEATURES
    )
    assert path == out and out.exists()
    assert breached(found) == [], [c.message for c in breached(found)]
    html = out.read_text(encoding="utf-8")
    assert "Completed: no threshold breached" in html
    for section in ("ingest", "quarantine", "volume", "feature-drift", "score-drift", "model"):
        assert f'id="{section}"' in html
    assert "housebound.model.auroc" in html and "0.781" in html
    assert "housebound.efi.auroc" in html
    assert "subgroups" not in html and "sex=F" not in html
    assert "m1" in html and "NB01" in html and "type1" in html
    assert {c.name for c in found} >= {"volume:gp_events", "psi:efi", "psi:risk_score"}


def test_broken_extract_is_flagged_volume_and_feature_shift(tmp_path: Path) -> None:
    con = _warehouse(gp_events_now=700, efi_shift=0.1)
    out = tmp_path / "run_report.html"
    _, found = build_run_report(
        con, _summary(THIS_WEEK, 700, {"NB01": 120, "NB02": 200}), out, PREVIOUS, FEATURES
    )
    flagged = {c.name: c for c in breached(found)}
    assert set(flagged) == {"volume:gp_events", "psi:efi", "list_size:NB01"}
    assert flagged["volume:gp_events"].value == pytest.approx(-0.3)
    assert flagged["psi:efi"].value > 0.2
    html = out.read_text(encoding="utf-8")
    assert "Completed with warnings: 3 thresholds breached" in html
    assert "a drop of more than 20%" in html
    assert 'class="flagged"' in html


def test_report_holds_no_identifiers_and_fetches_nothing(tmp_path: Path) -> None:
    con = _warehouse()
    out, _ = build_run_report(con, _summary(THIS_WEEK, 1000, {"NB01": 1}), tmp_path / "r.html")
    html = out.read_text(encoding="utf-8")
    assert NHS not in html
    assert "not a date for patient [redacted]" in html  # reason shown, number redacted
    assert not re.search(r"\bp0\d{3}\b", html)  # no pseudonymous patient ids either
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "<script" not in html


def test_quarantine_reasons_are_this_snapshots_only(tmp_path: Path) -> None:
    con = _warehouse()
    path, _ = build_run_report(con, _summary(THIS_WEEK, 1000, {}), tmp_path / "r.html", PREVIOUS)
    html = path.read_text(encoding="utf-8")
    assert "date_format" in html
    assert "last week only" not in html


def test_first_run_with_no_previous_has_nothing_to_compare(tmp_path: Path) -> None:
    con = _warehouse(drop_last_week_features=True)
    con.execute("delete from scores.scores where as_of = ?", [LAST_WEEK])
    con.execute("delete from audit.loads where snapshot_id = 1")
    con.execute("delete from audit.snapshots where snapshot_id = 1")
    path, found = build_run_report(
        con, _summary(THIS_WEEK, 1000, {"NB01": 5}), tmp_path / "r.html", None, FEATURES
    )
    assert breached(found) == []
    html = path.read_text(encoding="utf-8")
    assert "no previous run to compare with" in html
    assert "no previous" in html


def test_empty_warehouse_still_renders(tmp_path: Path) -> None:
    con = duckdb.connect()
    path, _ = build_run_report(con, {"as_of": THIS_WEEK}, tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    assert "No ingest records found" in html
    assert "features.feat_patients not found" in html
    assert checks(con, {"as_of": THIS_WEEK}) == []


def test_next_week_uses_stored_profiles_when_feature_rows_are_replaced(tmp_path: Path) -> None:
    """feat_patients is rebuilt each run: last week's distribution comes from the profile."""
    con = _warehouse(efi_shift=0.1)
    week1 = {"as_of": LAST_WEEK, "extracts": {}}
    build_run_report(con, week1, tmp_path / "w1.html", None, FEATURES)
    # as last week's publication did
    record_drift_profiles(con, LAST_WEEK, drift_profiles(con, LAST_WEEK, "m1", FEATURES))
    con.execute("delete from features.feat_patients where index_date = ?", [LAST_WEEK])
    con.execute("delete from scores.scores where as_of = ?", [LAST_WEEK])
    _, found = build_run_report(
        con, _summary(THIS_WEEK, 1000, {}), tmp_path / "w2.html", None, FEATURES
    )
    names = {c.name for c in breached(found)}
    assert "psi:efi" in names
    assert any(c.name == "psi:risk_score" for c in found)


def test_unbalanced_file_and_high_quarantine_rate_are_flagged(tmp_path: Path) -> None:
    con = _warehouse()
    summary = _summary(THIS_WEEK, 1000, {})
    summary["extracts"]["acute_spells"].update(read=210, loaded=150, quarantined=20)
    _, found = build_run_report(con, summary, tmp_path / "r.html", PREVIOUS, FEATURES)
    names = {c.name for c in breached(found)}
    assert names == {"reconciliation:acute_spells", "quarantine_rate:acute_spells"}


def test_previous_summary_is_the_latest_earlier_date(tmp_path: Path) -> None:
    for day in ("2026-11-02", LAST_WEEK, THIS_WEEK):
        (tmp_path / day).mkdir()
        (tmp_path / day / "run_summary.json").write_text(json.dumps({"as_of": day}))
    assert previous_summary_for(tmp_path, THIS_WEEK) == {"as_of": LAST_WEEK}
    assert previous_summary_for(tmp_path, "2026-11-02") is None
    assert previous_summary_for(tmp_path / "missing", THIS_WEEK) is None
    # A publication's hidden staging folder ('.tmp-<date>-<pid>') sorts before any date.
    (tmp_path / f".tmp-{THIS_WEEK}-123").mkdir()
    (tmp_path / f".tmp-{THIS_WEEK}-123" / "run_summary.json").write_text('{"as_of": "x"}')
    assert previous_summary_for(tmp_path, "2026-11-03") == {"as_of": "2026-11-02"}


def test_a_previous_summary_of_the_same_date_is_ignored(tmp_path: Path) -> None:
    con = _warehouse(drop_last_week_features=True)
    con.execute("delete from scores.scores where as_of = ?", [LAST_WEEK])
    con.execute("delete from audit.loads where snapshot_id = 1")
    con.execute("delete from audit.snapshots where snapshot_id = 1")
    same_day = _summary(THIS_WEEK, 2000, {"NB01": 500})
    path, found = build_run_report(
        con, _summary(THIS_WEEK, 1000, {"NB01": 5}), tmp_path / "r.html", same_day, FEATURES
    )
    assert found == []
    assert "no previous run to compare with" in path.read_text(encoding="utf-8")


def test_features_drift_on_the_registered_models_features(tmp_path: Path) -> None:
    """Without `features`, drift covers the model's features, not every numeric column."""
    con = _warehouse(efi_shift=0.1)
    _, found = build_run_report(con, _summary(THIS_WEEK, 1000, {}), tmp_path / "r.html", PREVIOUS)
    assert {c.name for c in found if c.name.startswith("psi:")} == {"psi:efi", "psi:risk_score"}


def _profiles(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'audit' and table_name = 'drift_profiles'"
    ).fetchone()[0]
    if not exists:
        return []
    return con.execute(
        "select cast(as_of as varchar), kind, name from audit.drift_profiles order by all"
    ).fetchall()


def test_the_report_only_reads_and_the_publication_records_the_profiles(tmp_path: Path) -> None:
    con = _warehouse()
    path, _ = build_run_report(con, _summary(THIS_WEEK, 1000, {}), tmp_path / "r.html", PREVIOUS)
    assert path.exists()
    assert _profiles(con) == []
    record_drift_profiles(con, THIS_WEEK, drift_profiles(con, THIS_WEEK, "m1"))
    assert _profiles(con) == [
        (THIS_WEEK, "feature", "efi"),
        (THIS_WEEK, "histogram", "risk_score"),
        (THIS_WEEK, "score", "risk_score"),
    ]
