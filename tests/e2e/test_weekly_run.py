"""End to end: synth -> `casefinder run` -> lists checked; the same people a week later.

Runs as a new user would: the CLI on a fresh extract set, then the same population a week
later (same seed, extract date + 7 days). The model quality gate's thresholds are relaxed
here: at 1,500 synthetic patients the housebound calibration slope is too noisy for the
gate, which is tested with the model (tests/e2e/test_train_truth.py); this test is about
the lists.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers.published import eligible_by_neighbourhood, query, xlsx_list

pytestmark = pytest.mark.slow

N_PATIENTS = 1500
SEED = 7
WEEK1 = date(2026, 11, 16)
WEEK2 = WEEK1 + timedelta(days=7)
HOSTILE = '=HYPERLINK("http://evil.example","click")'


def _synth(out: Path, extract_date: date) -> None:
    synthetic = pytest.importorskip("synthetic")
    synthetic.generate(out, patients=N_PATIENTS, seed=SEED, extract_date=extract_date, fmt="csv")
    # Hostile names: every fifth patient's given name is a spreadsheet formula.
    path = out / "gp_patients.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    col = [c.strip().lower() for c in rows[0]].index("given_name")
    for i, row in enumerate(rows[1:]):
        if i % 5 == 0 and len(row) > col:
            row[col] = HOSTILE
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _extract_rows(extracts: Path, name: str) -> list[dict[str, str]]:
    with (extracts / f"{name}.csv").open(newline="", encoding="utf-8-sig") as fh:
        return [{k.strip().lower(): v for k, v in r.items()} for r in csv.DictReader(fh)]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    from pipelines.cli import main

    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err[-2000:]
    return captured.out


@pytest.fixture(scope="module")
def weeks(
    tmp_path_factory: pytest.TempPathFactory, prefect_harness: None
) -> Iterator[dict[str, Any]]:
    from models import evaluate

    root = tmp_path_factory.mktemp("weekly")
    for day, name in ((WEEK1, "w1"), (WEEK2, "w2")):
        _synth(root / "extracts" / name, day)
    mp = pytest.MonkeyPatch()
    # Permissive gate thresholds (the gate still runs and records its result).
    mp.setattr(evaluate, "GATE_MIN_AUROC_GAIN", -1.0)
    mp.setattr(evaluate, "GATE_SLOPE_RANGE", (0.0, 100.0))
    yield {"root": root}
    mp.undo()


def _run_week(weeks: dict[str, Any], name: str, capsys) -> str:
    root = weeks["root"]
    return _run(
        [
            "run",
            "--extracts",
            str(root / "extracts" / name),
            "--warehouse",
            str(root / "wh" / "warehouse.duckdb"),
            "--out",
            str(root / "out"),
        ],
        capsys,
    )


def _lists(out: Path, day: date) -> dict[str, list[dict[str, str]]]:
    base = out / "lists" / day.isoformat()
    return {p.name: _read_csv(p / "proactive_care_list.csv") for p in sorted(base.iterdir())}


def test_week_one_lists_hold_exactly_the_eligible_patients(weeks, capsys):
    root = weeks["root"]
    printed = _run_week(weeks, "w1", capsys)
    out = root / "out"
    assert f"lists: {out / 'lists' / WEEK1.isoformat()}" in printed
    lists = _lists(out, WEEK1)
    assert lists, "no neighbourhood lists were published"
    by_hood = eligible_by_neighbourhood(root / "wh" / "warehouse.duckdb", WEEK1)
    assert {h: {r["nhs_number"] for r in rows} for h, rows in lists.items() if rows} == by_hood
    # Independently of the warehouse: the dead (by the GP record or a hospital spell discharged
    # to 79), the deregistered and type 1 opt-outs never appear.
    extracts = root / "extracts" / "w1"
    died_in_hospital = {
        r["nhs_number"].replace(" ", "").replace("-", "")
        for r in _extract_rows(extracts, "acute_spells")
        if (r.get("discharge_destination") or "").strip() == "79"
        and (r.get("discharge_date") or "").strip()
    }
    assert died_in_hospital
    never = (
        died_in_hospital
        | {
            r["nhs_number"].replace(" ", "").replace("-", "")
            for r in _extract_rows(extracts, "gp_patients")
            if (r.get("date_of_death") or "").strip()
            or (r.get("registration_end_date") or "").strip()
        }
        | {
            r["nhs_number"].replace(" ", "").replace("-", "")
            for r in _extract_rows(extracts, "opt_outs")
            if r.get("opt_out_type", "").strip() == "type1"
        }
    )
    listed = {r["nhs_number"] for rows in lists.values() for r in rows}
    assert listed and not (listed & never)
    # Practices belong to their neighbourhood; ranks follow scores.
    practices = {
        r["practice_code"]: r["neighbourhood_code"] for r in _extract_rows(extracts, "practices")
    }
    for hood, rows in lists.items():
        assert all(practices[r["practice_code"]] == hood for r in rows)
        assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
        scores = [float(r["risk_score"]) for r in rows]
        assert scores == sorted(scores, reverse=True)
        assert all(r["change"] == "new" for r in rows)


def test_week_one_excel_agrees_and_hostile_names_are_inert(weeks):
    out = weeks["root"] / "out"
    hostile_seen = 0
    for folder in sorted((out / "lists" / WEEK1.isoformat()).iterdir()):
        rows = _read_csv(folder / "proactive_care_list.csv")
        _header, values = xlsx_list(folder / "proactive_care_list.xlsx")
        # The same rows (this week's first when a capacity is given), then the review columns.
        assert sorted(values) == sorted([*r.values(), "", ""] for r in rows)
        ws = openpyxl.load_workbook(folder / "proactive_care_list.xlsx").worksheets[0]
        for row in ws.iter_rows(min_row=2):
            assert all(cell.data_type != "f" for cell in row)
        for r in rows:
            assert not r["given_name"].startswith(("=", "+", "-", "@"))
            hostile_seen += r["given_name"] == "'" + HOSTILE
        page = (folder / "proactive_care_list.html").read_text(encoding="utf-8")
        assert HOSTILE not in page
    assert hostile_seen > 0


def test_week_one_summary_and_audit(weeks):
    from foundation.warehouse import connect

    root = weeks["root"]
    out = root / "out"
    summary = json.loads((out / "reports" / WEEK1.isoformat() / "run_summary.json").read_text())
    assert list(summary)[:8] == [
        "as_of",
        "model_version",
        "code_version",
        "ranking",
        "extracts",
        "cohort",
        "lists",
        "snapshot_id",
    ]
    assert summary["ranking"] == {"method": "model", "reason": ""}
    cohort = summary["cohort"]
    assert (
        cohort["housebound"]
        == cohort["excluded_opt_out"] + cohort["excluded_other"] + cohort["listed"]
    )
    for item in summary["lists"].values():
        path = out / "lists" / WEEK1.isoformat() / item["folder"] / "proactive_care_list.csv"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == item["sha256"]
        assert len(_read_csv(path)) == item["rows"]
    for extract in summary["extracts"].values():
        assert extract["read"] == extract["loaded"] + extract["quarantined"] + extract["duplicates"]
    with connect(root / "wh" / "warehouse.duckdb", read_only=True) as con:
        audited = con.execute(
            "select neighbourhood_code, n_rows, csv_sha256 from audit.publications where as_of = ?",
            [WEEK1],
        ).fetchall()
    assert {c: (n, s) for c, n, s in audited} == {
        c: (i["rows"], i["sha256"]) for c, i in summary["lists"].items()
    }
    assert not [p for p in (out / "lists").iterdir() if p.name.startswith(".")]


def test_explain_adds_up_for_a_listed_patient(weeks, capsys):
    out = weeks["root"] / "out"
    code, hood = next((code, rows) for code, rows in _lists(out, WEEK1).items() if rows)
    nhs = hood[0]["nhs_number"]
    doc = json.loads(
        _run(
            [
                "explain",
                nhs,
                "--warehouse",
                str(weeks["root"] / "wh" / "warehouse.duckdb"),
                "--format",
                "json",
            ],
            capsys,
        )
    )
    assert doc["rank"] == 1 and doc["risk_score"] == pytest.approx(
        float(hood[0]["risk_score"]), abs=1e-4
    )
    total = doc["base_value"] + sum(f["contribution"] for f in doc["features"])
    assert total == pytest.approx(doc["raw_score"], abs=1e-6)
    assert doc["reasons"] and all("text" in r and "evidence" in r for r in doc["reasons"])
    assert any(r["evidence"] for r in doc["reasons"])
    # The list says the same: its reasons, and on its page the same evidence words.
    assert hood[0]["reasons"] == "; ".join(r["text"] for r in doc["reasons"])
    page = (out / "lists" / WEEK1.isoformat() / code / "proactive_care_list.html").read_text()
    for e in (e for r in doc["reasons"] for e in r["evidence"]):
        row = f"<td>{html.escape(e['code'])}</td><td>{html.escape(e['term'])}</td>"
        assert row in page, e


def test_evidence_speaks_in_clinical_codes_and_words(weeks):
    wh = weeks["root"] / "wh" / "warehouse.duckdb"
    rows = query(wh, "select source, code, term from scores.evidence where as_of = ?", [WEEK1])
    spells = [(c, t) for s, c, t in rows if s == "acute_spells" and "admission" in t]
    assert spells
    for code, term in spells:
        # "Emergency admission: J18.9 Pneumonia, unspecified": the kind, then the ICD-10
        # diagnosis (dotted) with its words; the code is that diagnosis.
        assert re.fullmatch(
            r"(Emergency|Elective|Maternity) admission: [A-Z]\d\d(\.\w+)? \S.*", term
        )
        assert term.split(": ", 1)[1].startswith(code + " ")
    methods = {
        r[0] for r in query(wh, "select distinct admission_method from core.core_acute_spells")
    }
    assert not methods & {c for _, c, _ in rows}


def test_week_two_marks_changes_and_who_left(weeks, capsys):
    from foundation.warehouse import connect

    root = weeks["root"]
    out = root / "out"
    _run_week(weeks, "w2", capsys)
    week1, week2 = _lists(out, WEEK1), _lists(out, WEEK2)
    n_changes = {"new": 0, "up": 0, "down": 0, "same": 0}
    tiers = ["low", "moderate", "high", "very_high"]
    for hood, rows in week2.items():
        before = {r["nhs_number"]: r for r in week1.get(hood, [])}
        for r in rows:
            last = before.get(r["nhs_number"])
            if last is None:
                expected = "new"
                assert r["score_change"] == ""
            else:
                # OUTPUTS 1.2: the tier's direction, else a score move of 0.05 or more
                moved = float(r["score_change"])
                assert moved == pytest.approx(
                    round(float(r["risk_score"]) - float(last["risk_score"]), 4), abs=1e-9
                )
                step = tiers.index(r["risk_tier"]) - tiers.index(last["risk_tier"])
                expected = (
                    "up"
                    if step > 0 or (step == 0 and moved >= 0.05)
                    else "down"
                    if step < 0 or moved <= -0.05
                    else "same"
                )
            assert r["change"] == expected
            n_changes[expected] += 1
    assert n_changes["same"] + n_changes["up"] + n_changes["down"] > 0
    with connect(root / "wh" / "warehouse.duckdb", read_only=True) as con:
        left = con.execute(
            "select l.neighbourhood_code, i.nhs_number, l.reason from lists.left_list l"
            " left join core.core_patient_identity i using (patient_id) where l.as_of = ?",
            [WEEK2],
        ).fetchall()
    expected_left = {
        (hood, r["nhs_number"])
        for hood, rows in week1.items()
        for r in rows
        if r["nhs_number"] not in {x["nhs_number"] for x in week2.get(hood, [])}
    }
    assert {(h, n) for h, n, _ in left if n} <= expected_left
    assert len(left) == len(expected_left)
    assert all(
        reason in ("died", "moved", "no longer housebound", "opted out", "other")
        for *_, reason in left
    )
    summary = json.loads((out / "reports" / WEEK2.isoformat() / "run_summary.json").read_text())
    assert sum(summary["left_list"].values()) == len(left)


def test_a_rejected_retrain_keeps_the_registered_model(weeks, capsys, monkeypatch):
    """`run --retrain` whose new model fails the quality gate still publishes the week's
    lists, scored with the model already registered, and says so."""
    from models import evaluate, registry

    root = weeks["root"]
    warehouse = root / "wh" / "warehouse.duckdb"
    kept = registry.latest_version(warehouse)
    assert kept is not None
    monkeypatch.setattr(evaluate, "GATE_MIN_AUROC_GAIN", 1.0)  # no model beats eFI by 1.0
    # A folder of its own: week 2 is already published under `out` from the same extracts
    # and model, and a published week is never silently replaced.
    out_dir = root / "out-retrain"
    out = _run(
        [
            "run",
            "--extracts",
            str(root / "extracts" / "w2"),
            "--warehouse",
            str(warehouse),
            "--out",
            str(out_dir),
            "--retrain",
        ],
        capsys,
    )
    assert "warning: retraining rejected (model not registered: " in out
    assert f"scored with the registered model {kept}" in out
    assert "trained and registered model" not in out
    assert registry.latest_version(warehouse) == kept
    lists = _lists(out_dir, WEEK2)
    assert lists and all(r["model_version"] == kept for rows in lists.values() for r in rows)
    report = (out_dir / "reports" / WEEK2.isoformat() / "run_report.html").read_text()
    breached = report[report.index('id="breached"') :]
    assert "retraining rejected (model not registered: " in breached.split("</ul>")[0]
    summary = json.loads(
        (root / "out" / "reports" / WEEK2.isoformat() / "run_summary.json").read_text()
    )
    assert summary["ranking"] == {"method": "model", "reason": ""}
