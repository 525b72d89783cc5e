"""Integration: two published weeks with capacities 10, 0 and 25, and the feedback of one
neighbourhood (died, not_appropriate, a stranger's row) shaping week 2.

A literal warehouse of three neighbourhoods, ranked by a one-feature fake model: patient
`N1-07` has score rank 7 in N1 (a higher eFI ranks higher).
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import openpyxl
import pytest
from helpers.errors import one_line_error

from foundation.warehouse import build_model, connect, patient_id_of
from models.scoring import score_cohort
from pipelines.ingest.feedback import record_feedback
from reports.capacity import PlanSettings
from reports.publish import build_list_models, commit_publication, stage_lists, stage_reports

KEY = bytes(range(32))
WEEK1 = date(2026, 11, 16)
WEEK2 = WEEK1 + timedelta(days=7)
TIERS = (("very_high", 0.70), ("high", 0.50), ("moderate", 0.30), ("low", 0.0))
# Patients per neighbourhood, and this week's review capacity.
SIZES = {"N1": 14, "N2": 5, "N3": 12}
CAPACITY = {"N1": 10, "N2": 0, "N3": 25}


def nhs_of(label: str) -> str:
    """A made-up 10-digit NHS number per patient label (`N3-02` -> 9990302000)."""
    hood, n = label.split("-")
    return f"999{int(hood[1]):02d}{int(n):02d}000"[:10]


def efi_of(label: str) -> float:
    """Rank 1 has the highest eFI in its neighbourhood."""
    return round(0.9 - 0.04 * int(label.split("-")[1]), 2)


class OneFeatureModel:
    """Log-odds linear in the eFI: contributions add up exactly."""

    version = "fake-efi-1"
    feature_names_ = ("efi",)

    def raw_score(self, x):
        return 8.0 * (np.nan_to_num(x[:, 0]) - 0.5)

    def predict_proba(self, x):
        p = 1 / (1 + np.exp(-self.raw_score(x)))
        return np.column_stack([1 - p, p])

    def contributions(self, x):
        return self.raw_score(x)[:, None], np.zeros(x.shape[0])


class EfiEntry:
    """The one feature's entry in the feature dictionary (no evidence to collect)."""

    name, dtype, risk_raising_when, evidence = "efi", "float", "any", None
    template, description = "eFI {value:.2f}", "electronic frailty index"


DICTIONARY = SimpleNamespace(get=lambda _: EfiEntry, sentence=lambda _, v: f"eFI {v:.2f}")


def _warehouse(con) -> None:
    hoods = ", ".join(f"('P{h[1]}', 'Practice {h}', '{h}', 'Hood {h}')" for h in SIZES)
    con.execute(
        "create or replace table core.core_practices as select * from (values "
        f"{hoods}) t(practice_code, practice_name, neighbourhood_code, neighbourhood_name)"
    )
    con.execute(
        "create or replace table core.core_patient_identity (patient_id varchar,"
        " nhs_number varchar, given_name varchar, family_name varchar, date_of_birth date)"
    )
    con.execute(
        "create or replace table core.core_patients (patient_id varchar, practice_code varchar,"
        " registration_start_date date, registration_end_date date, date_of_death date,"
        " death_source varchar)"
    )
    con.execute(
        "create or replace table core.core_opt_outs (patient_id varchar, opt_out_type varchar,"
        " recorded_date date)"
    )
    con.execute(
        "create or replace table core.core_community_contacts (patient_id varchar,"
        " referral_id varchar, referral_received_datetime timestamp,"
        " contact_datetime timestamp, team_type varchar, priority varchar, is_attended boolean)"
    )
    con.execute(
        "create or replace table features.feat_patients (patient_id varchar, index_date date,"
        " practice_code varchar, neighbourhood_code varchar, practice_name varchar,"
        " caseload_team varchar, housebound boolean, efi double,"
        " efi_category varchar, hfrs double, hfrs_band varchar, in_hospital boolean,"
        " on_caseload boolean, is_care_home_resident boolean, age integer, sex varchar,"
        " imd_decile integer)"
    )
    for hood, size in SIZES.items():
        for n in range(1, size + 1):
            label = f"{hood}-{n:02d}"
            pid = patient_id_of(KEY, nhs_of(label))
            con.execute(
                "insert into core.core_patient_identity values (?, ?, 'Given', ?, '1930-01-02')",
                [pid, nhs_of(label), label],
            )
            con.execute(
                "insert into core.core_patients values (?, ?, '2000-01-01', null, null, null)",
                [pid, f"P{hood[1]}"],
            )


def _week(con, as_of: date, out: Path, efi: dict[str, float] | None = None, capacity=CAPACITY):
    """Features at `as_of` (eFI by rank unless `efi` says otherwise), score, publish."""
    con.execute("delete from features.feat_patients where index_date = ?", [as_of])
    for pid, label in con.execute(
        "select patient_id, family_name from core.core_patient_identity"
    ).fetchall():
        hood = label.split("-")[0]
        value = (efi or {}).get(label, efi_of(label))
        con.execute(
            "insert into features.feat_patients values (?, ?, ?, ?, null, null, true, ?,"
            " 'moderate', 6.0,"
            " 'intermediate', false, false, false, 85, '2', 3)",
            [pid, as_of, f"P{hood[1]}", hood, value],
        )
    build_model(con, "feat_opt_outs")  # as the weekly feature build does
    build_model(con, "score_cohort", {"as_of": as_of, "opt_out_types": ["type1"]})
    score_cohort(con, OneFeatureModel(), as_of, TIERS, dictionary=DICTIONARY)
    build_list_models(con, as_of, plan=PlanSettings(capacity=capacity))
    lists_staging, manifest = stage_lists(con, as_of, out)
    reports_staging, summary, _ = stage_reports(con, as_of, out, manifest)
    commit_publication(con, as_of, out, lists_staging, reports_staging, manifest)
    return summary


def _rows(out: Path, as_of: date, hood: str) -> list[dict[str, str]]:
    path = out / "lists" / as_of.isoformat() / hood / "proactive_care_list.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _return_list(out: Path, as_of: date, hood: str, path: Path, outcomes: dict, extra=()) -> Path:
    """The team's copy of its published list with outcomes filled in (by family name), and
    `extra` rows (nhs_number, outcome) added at the bottom."""
    rows = _rows(out, as_of, hood)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, [*rows[0], "review_outcome", "review_date"])
        writer.writeheader()
        for row in rows:
            outcome, day = outcomes.get(row["family_name"], ("", ""))
            writer.writerow({**row, "review_outcome": outcome, "review_date": day})
        for nhs, outcome in extra:
            writer.writerow({"nhs_number": nhs, "review_outcome": outcome})
    return path


@pytest.fixture
def week1(tmp_path):
    con = connect(tmp_path / "wh.duckdb")
    _warehouse(con)
    out = tmp_path / "out"
    summary = _week(con, WEEK1, out)
    yield SimpleNamespace(con=con, out=out, summary=summary, tmp=tmp_path)
    con.close()


def _this_week(rows: list[dict[str, str]]) -> list[str]:
    return [r["family_name"] for r in rows if r["this_week"] == "true"]


def test_capacities_10_0_and_25_mark_exactly_min_of_capacity_and_eligible(week1):
    out = week1.out
    assert _this_week(_rows(out, WEEK1, "N1")) == [f"N1-{n:02d}" for n in range(1, 11)]
    assert _this_week(_rows(out, WEEK1, "N2")) == []
    assert {r["this_week"] for r in _rows(out, WEEK1, "N2")} == {"false"}
    assert len(_this_week(_rows(out, WEEK1, "N3"))) == 12
    lists = week1.summary["lists"]
    assert {h: lists[h]["this_week"] for h in SIZES} == {"N1": 10, "N2": 0, "N3": 12}
    saved = json.loads((out / "reports" / WEEK1.isoformat() / "run_summary.json").read_text())
    assert saved["lists"]["N3"]["this_week"] == 12
    assert saved["feedback"] == {"files": 0, "recorded": 0, "rejected": 0, "duplicates": 0}
    assert {r["last_review_outcome"] for r in _rows(out, WEEK1, "N1")} == {""}


def test_a_neighbourhood_without_capacity_has_this_week_empty(tmp_path):
    con = connect(tmp_path / "wh.duckdb")
    _warehouse(con)
    summary = _week(con, WEEK1, tmp_path / "out", capacity={"N1": 3})
    con.close()
    assert {r["this_week"] for r in _rows(tmp_path / "out", WEEK1, "N3")} == {""}
    assert summary["lists"]["N3"]["this_week"] is None
    assert summary["lists"]["N1"]["this_week"] == 3


def _feedback(week1) -> Path:
    folder = week1.tmp / "feedback"
    reviewed = (WEEK1 + timedelta(days=2)).isoformat()
    _return_list(
        week1.out,
        WEEK1,
        "N1",
        folder / "n1-returned.csv",
        {
            "N1-01": ("died", reviewed),
            "N1-02": ("not_appropriate", reviewed),
            "N1-03": ("reviewed_plan_updated", ""),  # review_date: the list's date
            "N1-08": ("not_appropriate", reviewed),
        },
        # A stranger: N3's patient, and someone on no list at all.
        extra=[(nhs_of("N3-01"), "declined"), ("9990000001", "moved_away")],
    )
    return folder


def test_feedback_shapes_week_2(week1):
    con, out = week1.con, week1.out
    folder = _feedback(week1)
    counts = record_feedback(con, folder, KEY, WEEK2, user="lead")
    assert (counts["files"], counts["recorded"], counts["rejected"]) == (1, 4, 2)
    # N1-08's risk rises in week 2: a higher eFI takes it from the high to the very high tier.
    summary = _week(con, WEEK2, out, efi={"N1-08": 0.71})
    n1 = _rows(out, WEEK2, "N1")
    names = [r["family_name"] for r in n1]
    assert "N1-01" not in names  # reported died: off the list
    by_name = {r["family_name"]: r for r in n1}
    assert by_name["N1-02"]["last_review_outcome"] == "not_appropriate"
    assert by_name["N1-02"]["last_review_date"] == (WEEK1 + timedelta(days=2)).isoformat()
    assert by_name["N1-03"]["last_review_date"] == WEEK1.isoformat()
    # Reviewed last week: N1-02 and N1-03 are skipped; N1-08's risk rose, so it is back in.
    assert names[:5] == ["N1-02", "N1-03", "N1-04", "N1-08", "N1-05"]
    assert _this_week(n1) == ["N1-04", "N1-08", "N1-05", "N1-06", "N1-07"] + [
        f"N1-{n:02d}" for n in range(9, 14)
    ]
    assert summary["lists"]["N1"]["this_week"] == 10
    left = (out / "lists" / WEEK2.isoformat() / "N1" / "proactive_care_list.html").read_text()
    assert "reported died/moved away by the team" in left
    # The stranger's row changed nothing in N3.
    n3 = _rows(out, WEEK2, "N3")
    assert {r["last_review_outcome"] for r in n3} == {""}
    assert len(_this_week(n3)) == 12
    assert summary["feedback"] == {"files": 1, "recorded": 4, "rejected": 2, "duplicates": 0}
    assert summary["cohort"]["listed"] + summary["cohort"]["excluded_other"] == 31
    stored = con.execute(
        "select neighbourhood_code, count(*), min(recorded_by), min(file_name)"
        " from lists.list_review_outcomes group by 1"
    ).fetchall()
    assert stored == [("N1", 4, "lead", "n1-returned.csv")]
    report = (out / "reports" / WEEK2.isoformat() / "run_report.html").read_text()
    assert "PPV in practice" in report and "25.0%" in report  # 1 plan update in 4 reviews


def test_the_same_file_again_or_renamed_records_nothing(week1):
    con = week1.con
    folder = _feedback(week1)
    record_feedback(con, folder, KEY, WEEK2, user="lead")
    before = con.execute("select * from lists.list_review_outcomes order by all").fetchall()
    shutil.copy(folder / "n1-returned.csv", folder / "copy of n1-returned.csv")
    again = record_feedback(con, folder, KEY, WEEK2, user="lead")
    assert (again["files"], again["recorded"], again["already_read"]) == (0, 0, 2)
    # A re-saved copy (other bytes, same reviews) records nothing new either.
    text = (folder / "n1-returned.csv").read_text(encoding="utf-8")
    (folder / "resaved.csv").write_text(text.replace("\r\n", "\n"), encoding="utf-8")
    resaved = record_feedback(con, folder, KEY, WEEK2, user="lead")
    assert (resaved["files"], resaved["recorded"], resaved["duplicates"]) == (1, 0, 4)
    after = con.execute("select * from lists.list_review_outcomes order by all").fetchall()
    assert after == before


def test_a_malformed_file_stops_before_anything_is_recorded(week1):
    con = week1.con
    folder = _feedback(week1)
    early = (WEEK1 - timedelta(days=1)).isoformat()
    _return_list(week1.out, WEEK1, "N3", folder / "n3.csv", {"N3-05": ("declined", early)})
    message = one_line_error(record_feedback, con, folder, KEY, WEEK2, "lead")
    assert message.startswith(f"feedback file {folder / 'n3.csv'}, row 6, column review_date:")
    assert nhs_of("N3-05") not in message and "N3-05" not in message
    assert con.execute("select count(*) from lists.list_review_outcomes").fetchone() == (0,)


def test_a_returned_workbook_names_its_list_by_its_title(week1):
    con, out = week1.con, week1.out
    # Week 2 publishes N3 again with the same patients and ranks: a CSV could be either.
    _week(con, WEEK2, out)
    folder = week1.tmp / "feedback"
    folder.mkdir()
    book = openpyxl.load_workbook(
        out / "lists" / WEEK1.isoformat() / "N3" / "proactive_care_list.xlsx"
    )
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    # the workbook's own drop-down column, as a lead fills it in
    outcome_col = header.index("review_outcome") + 1
    sheet.cell(row=3, column=outcome_col, value="already_under_care")
    book.save(folder / "n3 returned.xlsx")
    counts = record_feedback(con, folder, KEY, WEEK2, user="lead")
    assert (counts["files"], counts["recorded"], counts["rejected"]) == (1, 1, 0)
    assert con.execute(
        "select publication_as_of, neighbourhood_code, matched_by from lists.list_feedback_files"
    ).fetchall() == [(WEEK1, "N3", "workbook title")]
    # The same list as a CSV matches both weeks equally: refused, naming the file.
    (folder / "n3 returned.xlsx").unlink()
    csv_copy = _return_list(out, WEEK1, "N3", folder / "n3.csv", {"N3-04": ("declined", "")})
    message = one_line_error(record_feedback, con, folder, KEY, WEEK2, "lead")
    assert message.startswith(f"feedback file {csv_copy} matches the lists of N3 {WEEK2}")
