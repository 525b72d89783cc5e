"""Integration: scoring, list tables and publication on a tiny literal warehouse, fake model."""

from __future__ import annotations

import csv
import html
import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import duckdb
import numpy as np
import openpyxl
import pytest
from helpers.published import CONTRACT_1_1, xlsx_list

from foundation.warehouse import build_model, connect
from models.scoring import score_cohort
from reports.columns import BY_NAME
from reports.publish import build_list_models, commit_publication, stage_lists, stage_reports
from reports.safety import is_safe_component

AS_OF = date(2026, 11, 16)
WEEK2 = date(2026, 11, 23)
TIERS = (("very_high", 0.70), ("high", 0.50), ("moderate", 0.30), ("low", 0.0))
HOSTILE = '=HYPERLINK("http://x","click")'

_FEATURES = {
    "age": SimpleNamespace(
        name="age",
        dtype="int",
        risk_raising_when="any",
        evidence=None,
        template="aged {value} years",
        description="age in years",
    ),
    "n_emergency_admissions_365d": SimpleNamespace(
        name="n_emergency_admissions_365d",
        dtype="int",
        risk_raising_when="present",
        evidence=None,
        template="{value} emergency admissions in the last 12 months",
        description="emergency admissions, 12 months",
    ),
    "efi": SimpleNamespace(
        name="efi",
        dtype="float",
        risk_raising_when="any",
        evidence=None,
        template="eFI {value:.2f}",
        description="electronic frailty index",
    ),
}
FAKE_DICTIONARY = SimpleNamespace(
    get=lambda name: _FEATURES[name],
    sentence=lambda name, value: _FEATURES[name].template.format(value=value),
)


class FakeModel:
    """Linear log-odds with exact additive contributions (like TreeSHAP for a linear model)."""

    version = "test-model-1"
    feature_names_ = ("age", "n_emergency_admissions_365d", "efi")
    _w = (0.05, 0.8, 3.0)
    _mean = (80.0, 0.5, 0.2)
    _b = -1.0

    def raw_score(self, x):
        return self._b + (np.nan_to_num(x) - np.array(self._mean)) @ np.array(self._w)

    def predict_proba(self, x):
        p = 1 / (1 + np.exp(-self.raw_score(x)))
        return np.column_stack([1 - p, p])

    def contributions(self, x):
        c = (np.nan_to_num(x) - np.array(self._mean)) * np.array(self._w)
        return c, np.full(x.shape[0], self._b)


# patient_id, nhs, given, family, practice, housebound, age, admissions, efi, opt-out type
PATIENTS = [
    ("p1", "9434765919", "Ada", "Lovelace", "P1", True, 95, 3, 0.45, None),
    ("p2", "9434765870", "Bob", "Opted", "P1", True, 90, 2, 0.40, "type1"),
    ("p3", "9434765862", "Cy", "Walker", "P1", False, 85, 0, 0.10, None),
    ("p4", "9434765854", HOSTILE, "-Smith", "P2", True, 88, 1, 0.30, None),
    ("p5", "9434765846", "Eve", "Moore", "P2", True, 70, 0, 0.15, None),
    ("p6", "9434765838", "Fay", "Ndoo", "P1", True, 82, 1, 0.25, "ndoo"),
]


def _create(con, rows_by_week: dict[date, list[tuple]], deaths: dict[str, date] | None = None):
    con.execute(
        "create or replace table core.core_practices as select * from (values"
        " ('P1', 'Practice one', 'N1', 'North'), ('P2', 'Practice two', 'N2', 'South'))"
        " t(practice_code, practice_name, neighbourhood_code, neighbourhood_name)"
    )
    con.execute(
        "create or replace table core.core_patient_identity (patient_id varchar,"
        " nhs_number varchar, given_name varchar, family_name varchar, date_of_birth date)"
    )
    con.execute(
        "create or replace table core.core_patients (patient_id varchar,"
        " practice_code varchar, registration_start_date date, registration_end_date date,"
        " date_of_death date, death_source varchar)"
    )
    con.execute(
        "create or replace table core.core_opt_outs (patient_id varchar,"
        " opt_out_type varchar, recorded_date date)"
    )
    con.execute(
        "create or replace table core.core_acute_spells (patient_id varchar,"
        " discharge_date date, discharge_destination varchar)"
    )
    con.execute(
        "create or replace table core.core_caseload (patient_id varchar, team varchar,"
        " start_date date, end_date date)"
    )
    con.execute(
        "create or replace table core.core_community_contacts (patient_id varchar,"
        " referral_id varchar, referral_received_datetime timestamp,"
        " contact_datetime timestamp, team_type varchar, priority varchar,"
        " is_attended boolean)"
    )
    con.execute(
        "create or replace table features.feat_patients (patient_id varchar,"
        " index_date date, practice_code varchar, neighbourhood_code varchar,"
        " practice_name varchar, caseload_team varchar, housebound boolean, age integer,"
        " n_emergency_admissions_365d integer,"
        " efi double, efi_category varchar, hfrs double, hfrs_band varchar,"
        " in_hospital boolean, on_caseload boolean, is_care_home_resident boolean,"
        " sex varchar, imd_decile integer)"
    )
    deaths = deaths or {}
    for pid, nhs, given, family, practice, *_ in PATIENTS:
        con.execute(
            "insert into core.core_patient_identity values (?, ?, ?, ?, date '1930-01-02')",
            [pid, nhs, given, family],
        )
        con.execute(
            "insert into core.core_patients values (?, ?, date '2000-01-01', null, ?, ?)",
            [pid, practice, deaths.get(pid), "gp" if deaths.get(pid) else None],
        )
    for pid, *_, opt in PATIENTS:
        if opt:
            con.execute(
                "insert into core.core_opt_outs values (?, ?, date '2025-01-01')", [pid, opt]
            )
    for index_date, rows in rows_by_week.items():
        for pid, _nhs, _g, _f, practice, hb, age, adm, efi, _opt in rows:
            hood, name = {"P1": ("N1", "Practice one"), "P2": ("N2", "Practice two")}[practice]
            con.execute(
                "insert into features.feat_patients values (?, ?, ?, ?, ?, null, ?, ?, ?, ?,"
                " 'moderate', 6.0, 'intermediate', ?, false, false, '2', 3)",
                [pid, index_date, practice, hood, name, hb, age, adm, efi, pid == "p1"],
            )
    # One UCR referral seen in 90 minutes, one seen after 3 hours (N1).
    con.execute(
        "insert into core.core_community_contacts values"
        " ('p1', 'r1', timestamp '2026-11-10 09:00', timestamp '2026-11-10 10:30',"
        "  'urgent_community_response', 'urgent_2h', true),"
        " ('p1', 'r2', timestamp '2026-11-11 09:00', timestamp '2026-11-11 12:00',"
        "  'urgent_community_response', 'urgent_2h', true)"
    )
    build_model(con, "feat_opt_outs")


def _stage_lists(con, as_of: date, out: Path, policy=("type1",)) -> tuple[Path, dict]:
    build_model(con, "feat_opt_outs")  # as the weekly feature build does, after any new opt-out
    build_model(con, "score_cohort", {"as_of": as_of, "opt_out_types": list(policy)})
    score_cohort(con, FakeModel(), as_of, TIERS, dictionary=FAKE_DICTIONARY)
    build_list_models(con, as_of)
    return stage_lists(con, as_of, out)


def _publish(con, as_of: date, out: Path, policy=("type1",)) -> tuple[Path, dict]:
    lists_staging, manifest = _stage_lists(con, as_of, out, policy)
    reports_staging, summary, _checks = stage_reports(con, as_of, out, manifest)
    final = commit_publication(con, as_of, out, lists_staging, reports_staging, manifest)
    return final, summary


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def published(tmp_path: Path):
    con = connect(tmp_path / "wh.duckdb")
    _create(con, {AS_OF: PATIENTS})
    out = tmp_path / "out"
    final, summary = _publish(con, AS_OF, out)
    yield con, out, final, summary
    con.close()


def test_lists_hold_exactly_the_eligible_patients_of_each_neighbourhood(published):
    _con, out, final, summary = published
    n1 = _read_csv(final / "N1" / "proactive_care_list.csv")
    n2 = _read_csv(final / "N2" / "proactive_care_list.csv")
    assert [r["nhs_number"] for r in n1] == ["9434765919", "9434765838"]  # p1, p6 (ndoo listed)
    assert {r["nhs_number"] for r in n2} == {"9434765854", "9434765846"}
    assert all(r["practice_code"] == "P1" for r in n1)
    assert summary["cohort"] == {
        "housebound": 5,
        "excluded_opt_out": 1,
        "excluded_other": 0,
        "listed": 4,
        "alive_and_registered": 6,
        "excluded_died_in_hospital": 0,
    }
    assert summary["lists"]["N1"]["rows"] == 2
    assert sorted(p.name for p in (out / "lists").iterdir()) == [AS_OF.isoformat()]
    assert sorted(p.name for p in (out / "reports").iterdir()) == [AS_OF.isoformat()]


def test_csv_columns_ranks_and_reasons(published):
    _con, _out, final, _summary = published
    rows = _read_csv(final / "N1" / "proactive_care_list.csv")
    assert tuple(rows[0])[: len(CONTRACT_1_1)] == CONTRACT_1_1
    scores = [float(r["risk_score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert [r["rank"] for r in rows] == ["1", "2"]
    reasons = rows[0]["reasons"].split("; ")
    assert reasons[0] == "3 emergency admissions in the last 12 months"
    assert set(reasons[1:]) == {"aged 95 years", "eFI 0.45"}
    assert rows[0]["in_hospital"] == "true" and rows[1]["in_hospital"] == "false"
    assert {r["change"] for r in rows} == {"new"}
    assert rows[0]["model_version"] == "test-model-1"


def _published_rows(final: Path) -> dict[str, dict[str, str]]:
    """NHS number -> CSV row, over every neighbourhood of one publication."""
    return {
        r["nhs_number"]: r
        for path in sorted(final.glob("*/proactive_care_list.csv"))
        for r in _read_csv(path)
    }


def _two_weeks(tmp_path: Path, setup: str = "", week2: list[tuple] = PATIENTS):
    """The warehouse and the rows (by NHS number) of two lists in a row: PATIENTS at AS_OF,
    `week2` at WEEK2, after running `setup` on the core tables."""
    con = connect(tmp_path / "wh.duckdb")
    _create(con, {AS_OF: PATIENTS, WEEK2: week2})
    if setup:
        con.execute(setup)
    out = tmp_path / "out"
    before = _published_rows(_publish(con, AS_OF, out)[0])
    return con, before, _published_rows(_publish(con, WEEK2, out)[0])


def test_age_is_whole_years_at_each_list_date_from_the_date_of_birth(tmp_path: Path):
    # p4 turns 88 between the two lists; p1 (born 1930-01-02) is 96 on both.
    con, week1, week2 = _two_weeks(
        tmp_path,
        "update core.core_patient_identity set date_of_birth = date '1938-11-20'"
        " where patient_id = 'p4'",
    )
    con.close()
    p1, p4 = PATIENTS[0][1], PATIENTS[3][1]
    assert (week1[p4]["date_of_birth"], week1[p4]["age"]) == ("1938-11-20", "87")
    assert (week2[p4]["date_of_birth"], week2[p4]["age"]) == ("1938-11-20", "88")
    assert (week1[p1]["age"], week2[p1]["age"]) == ("96", "96")
    # the list's own age, not the model feature's (95 in feat_patients, from month of birth)
    assert list(week1[p1]).index("age") > list(week1[p1]).index("model_version")


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        ("1930-11-20", "2026-11-19", 95),
        ("1930-11-20", "2026-11-20", 96),
        ("1932-02-29", "2026-02-28", 93),
        ("1932-02-29", "2026-03-01", 94),
        ("1932-02-29", "2028-02-29", 96),
    ],
)
def test_the_age_expression_counts_birthdays_passed(born: str, on: str, age: int):
    sql = BY_NAME["age"].sql
    con = duckdb.connect()
    got = con.execute(
        f"select {sql} from (select cast(? as date) as as_of) w,"
        " (select cast(? as date) as date_of_birth) i",
        [on, born],
    ).fetchone()[0]
    con.close()
    assert got == age


def test_practice_name_and_caseload_team_are_the_feature_layers(tmp_path: Path):
    # The features layer names the open caseloads' teams (test_features_circumstances); the
    # list shows them as they are, empty when none, week by week.
    con, week1, week2 = _two_weeks(
        tmp_path,
        "update features.feat_patients set caseload_team = case"
        f" when patient_id = 'p1' then 'District nursing; Matron North'"
        f" when patient_id = 'p4' and index_date = date '{WEEK2}' then 'Frailty team' end",
    )
    names = dict(
        con.execute("select practice_code, practice_name from core.core_practices").fetchall()
    )
    con.close()
    p1, p4, p5 = PATIENTS[0][1], PATIENTS[3][1], PATIENTS[4][1]
    for row in (*week1.values(), *week2.values()):
        assert row["practice_name"] == names[row["practice_code"]]
    assert week1[p1]["caseload_team"] == "District nursing; Matron North"
    assert (week1[p4]["caseload_team"], week2[p4]["caseload_team"]) == ("", "Frailty team")
    assert week1[p5]["caseload_team"] == week2[p5]["caseload_team"] == ""


def _rounded_change(now: dict[str, str], before: dict[str, str]) -> float:
    return round(float(now["risk_score"]) - float(before["risk_score"]), 4)


def test_change_and_score_change_follow_the_score_and_tier_not_the_rank(tmp_path: Path):
    changed = {
        "p3": {5: True, 7: 6},  # newly housebound, 6 admissions: new, and ranked above p1
        "p6": {8: 0.30},  # eFI 0.25 -> 0.30: the score rises by less than 0.05
        "p4": {8: 0.26},  # eFI 0.30 -> 0.26: a small fall that crosses from high to moderate
        "p5": {7: 4},  # 4 admissions: a large rise
    }
    week2 = [tuple(changed.get(p[0], {}).get(i, v) for i, v in enumerate(p)) for p in PATIENTS]
    con, before, after = _two_weeks(tmp_path, week2=week2)
    nhs = {p[0]: p[1] for p in PATIENTS}
    change = {pid: after[n]["change"] for pid, n in nhs.items() if n in after}
    assert change == {"p1": "same", "p3": "new", "p4": "down", "p5": "up", "p6": "same"}
    # p1's score did not move, though p3 pushed it down the list
    p1_before, p1_after = before[nhs["p1"]], after[nhs["p1"]]
    assert (p1_before["rank"], p1_after["rank"]) == ("1", "2")
    assert p1_after["score_change"] == "0"
    assert after[nhs["p3"]]["score_change"] == ""
    for pid in ("p4", "p5", "p6"):
        row, last = after[nhs[pid]], before[nhs[pid]]
        assert float(row["score_change"]) == _rounded_change(row, last), pid
    assert 0 < float(after[nhs["p6"]]["score_change"]) < 0.05
    assert -0.05 < float(after[nhs["p4"]]["score_change"]) < 0
    assert (before[nhs["p4"]]["risk_tier"], after[nhs["p4"]]["risk_tier"]) == ("high", "moderate")
    # A smaller threshold (CASEFINDER_CHANGE_THRESHOLD) makes p6's rise a change.
    build_list_models(con, WEEK2, change_threshold=0.03)
    rebuilt = dict(con.execute("select patient_id, change from lists.list_week").fetchall())
    con.close()
    assert rebuilt == {**change, "p6": "up"}


def test_hostile_names_are_not_formulas_and_excel_agrees_with_csv(published):
    _con, _out, final, _summary = published
    rows = _read_csv(final / "N2" / "proactive_care_list.csv")
    hostile = next(r for r in rows if r["nhs_number"] == "9434765854")
    assert hostile["given_name"] == "'" + HOSTILE
    assert hostile["family_name"] == "'-Smith"
    header, values = xlsx_list(final / "N2" / "proactive_care_list.xlsx")
    assert header == [*rows[0], "review_outcome", "review_date"]
    assert values == [[*r.values(), "", ""] for r in rows]
    wb = openpyxl.load_workbook(final / "N2" / "proactive_care_list.xlsx")
    ws = wb.worksheets[0]
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f"
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref is not None
    assert wb.sheetnames == ["List", "Summary", "Left the list", "Column notes"]


def test_html_is_self_contained_and_escaped(published):
    _con, _out, final, _summary = published
    page = (final / "N2" / "proactive_care_list.html").read_text(encoding="utf-8")
    assert html.escape(HOSTILE, quote=True) in page
    assert HOSTILE not in page
    assert 'src="http' not in page and 'href="http' not in page
    assert "<script src" not in page


def test_publication_is_recorded_and_csvs_are_reproducible(published, tmp_path):
    con, out, final, summary = published
    first = (final / "N1" / "proactive_care_list.csv").read_bytes()
    rows = con.execute(
        "select neighbourhood_code, n_rows, csv_sha256, model_version from audit.publications"
        " order by 1"
    ).fetchall()
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("N1", 2, "test-model-1"),
        ("N2", 2, "test-model-1"),
    ]
    assert rows[0][2] == summary["lists"]["N1"]["sha256"]
    _publish(con, AS_OF, out)  # same inputs again: replaced atomically, same bytes
    assert (final / "N1" / "proactive_care_list.csv").read_bytes() == first
    assert con.execute("select count(*) from audit.publications").fetchone()[0] == 2
    assert [p.name for p in (out / "lists").iterdir()] == [AS_OF.isoformat()]
    saved = json.loads((out / "reports" / AS_OF.isoformat() / "run_summary.json").read_text())
    assert saved["lists"]["N1"]["sha256"] == summary["lists"]["N1"]["sha256"]


def test_second_week_marks_changes_and_who_left(published):
    con, out, _final, _summary = published
    # Week 2: p1 died; p4's admissions rise; p5 is no longer housebound; p6 opts out (type1).
    week2 = []
    for p in PATIENTS:
        pid = p[0]
        if pid == "p1":
            continue
        if pid == "p4":
            p = (*p[:7], 5, *p[8:])
        if pid == "p5":
            p = (*p[:5], False, *p[6:])
        week2.append(p)
    con.execute("delete from features.feat_patients")
    _create(con, {AS_OF: PATIENTS, WEEK2: week2}, deaths={"p1": date(2026, 11, 20)})
    # p1's death is known only from hospital (core dated it from a spell discharged to 79)
    con.execute("update core.core_patients set death_source = 'hospital' where patient_id = 'p1'")
    con.execute("insert into core.core_opt_outs values ('p6', 'type1', date '2026-11-21')")
    final2, summary2 = _publish(con, WEEK2, out)
    n1 = _read_csv(final2 / "N1" / "proactive_care_list.csv")
    n2 = _read_csv(final2 / "N2" / "proactive_care_list.csv")
    assert n1 == []
    # p4 is still first in N2, but its score rose with its admissions: a change, not a rank
    assert [(r["nhs_number"], r["change"], r["rank"]) for r in n2] == [("9434765854", "up", "1")]
    left = dict(
        con.execute(
            "select patient_id, reason from lists.left_list where as_of = ?", [WEEK2]
        ).fetchall()
    )
    assert left == {"p1": "died", "p5": "no longer housebound", "p6": "opted out"}
    assert summary2["left_list"] == {"died": 1, "no longer housebound": 1, "opted out": 1}
    assert summary2["cohort"]["excluded_died_in_hospital"] == 1
    report = (out / "reports" / WEEK2.isoformat() / "run_report.html").read_text(encoding="utf-8")
    assert "excluded died in hospital" in report
    assert "1 registered patients died in hospital" in report
    page = (final2 / "N1" / "proactive_care_list.html").read_text(encoding="utf-8")
    assert "Left the list since 2026-11-16 (2)" in page and "died" in page
    wb = openpyxl.load_workbook(final2 / "N1" / "proactive_care_list.xlsx")
    left_rows = list(wb["Left the list"].iter_rows(values_only=True))
    assert [r[-1] for r in left_rows[1:]] == ["died", "opted out"]
    # Both weeks' files are still there.
    assert sorted(p.name for p in (out / "lists").iterdir()) == [
        AS_OF.isoformat(),
        WEEK2.isoformat(),
    ]


def test_service_standards_count_referrals_met(published):
    con, *_ = published
    rows = con.execute(
        "select standard, sum(n_referrals), sum(n_met) from lists.list_service_standards"
        " where neighbourhood_code = 'N1' group by 1 order by 1"
    ).fetchall()
    assert rows == [("reablement_2d", 0, 0), ("ucr_2h", 2, 1)]


def test_unsafe_neighbourhood_code_stays_inside_the_output_folder(tmp_path):
    con = connect(tmp_path / "wh.duckdb")
    _create(con, {AS_OF: PATIENTS})
    con.execute(
        "update core.core_practices set neighbourhood_code = '../../evil'"
        " where practice_code = 'P2'"
    )
    con.execute(
        "update features.feat_patients set neighbourhood_code = '../../evil'"
        " where practice_code = 'P2'"
    )
    out = tmp_path / "out"
    final, summary = _publish(con, AS_OF, out)
    folder = summary["lists"]["../../evil"]["folder"]
    assert is_safe_component(folder)
    assert (final / folder / "proactive_care_list.csv").exists()
    assert not (tmp_path / "evil").exists()
    con.close()


def test_a_failed_publication_leaves_the_previous_one_untouched(published, monkeypatch):
    import reports.publish

    con, out, _final, _summary = published
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = []

    def broken_page(nl, path):
        calls.append(nl.code)
        if len(calls) == 2:
            raise OSError("disk full")
        path.write_text("partial", encoding="utf-8")
        return path

    monkeypatch.setattr(reports.publish, "write_page", broken_page)
    with pytest.raises(OSError, match="disk full"):
        _publish(con, AS_OF, out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in (out / "lists").iterdir() if p.name.startswith(".")]
    assert con.execute("select count(*) from audit.publications").fetchone()[0] == 2


def test_a_model_needing_missing_features_is_refused_clearly(tmp_path):
    from foundation.errors import CasefinderError

    class StaleModel(FakeModel):
        feature_names_ = ("age", "a_feature_that_was_removed")

    con = connect(tmp_path / "wh.duckdb")
    _create(con, {AS_OF: PATIENTS})
    build_model(con, "score_cohort", {"as_of": AS_OF, "opt_out_types": ["type1"]})
    with pytest.raises(CasefinderError, match="a_feature_that_was_removed"):
        score_cohort(con, StaleModel(), AS_OF, TIERS, dictionary=FAKE_DICTIONARY)
    con.close()


def test_staged_report_returns_its_checks_with_the_run_warnings_first(tmp_path: Path) -> None:
    """The checks `stage_reports` returns (the weekly flow's final state) are the report's."""
    from reports.run_report import Check, breached

    con = connect(tmp_path / "wh.duckdb")
    _create(con, {AS_OF: PATIENTS})
    _staging, manifest = _stage_lists(con, AS_OF, tmp_path / "out")
    warning = Check("retraining", "rejected", "quality gate", True, "retraining rejected (x)")
    staging, _summary, checks = stage_reports(
        con, AS_OF, tmp_path / "out", manifest, run_warnings=[warning]
    )
    con.close()
    assert checks[0] == warning
    report = (staging / "run_report.html").read_text(encoding="utf-8")
    listed = report[report.index('id="breached"') :].split("</ul>")[0]
    assert [c.message for c in breached(checks)] == [
        html.unescape(m.split("</span> ", 1)[1].split("</li>")[0].strip())
        for m in listed.split("<li>")[1:]
    ]


def test_fallback_ranking_and_a_data_warning_are_on_every_page_and_sheet(tmp_path: Path):
    """No model fit to rank and a list that shrank: both are said on every list page and
    sheet (the fallback first), in run_summary.json and first in the run report."""
    from models.fallback import POINTS
    from models.scoring import score_with_fallback
    from reports.banners import week_banners

    con = connect(tmp_path / "wh.duckdb")
    _create(con, {AS_OF: PATIENTS})
    present = {r[0] for r in con.execute("describe features.feat_patients").fetchall()}
    for name in sorted({p.feature for p in POINTS} - present):
        con.execute(f"alter table features.feat_patients add column {name} integer default 0")
    out = tmp_path / "out"
    last_week = out / "reports" / "2026-11-09"
    last_week.mkdir(parents=True)
    (last_week / "run_summary.json").write_text(
        json.dumps({"as_of": "2026-11-09", "lists": {"N1": {"rows": 40}, "N2": {"rows": 2}}})
    )
    build_model(con, "score_cohort", {"as_of": AS_OF, "opt_out_types": ["type1"]})

    def feature(name: str) -> SimpleNamespace:
        return _FEATURES.get(name) or SimpleNamespace(
            name=name,
            dtype="float",
            risk_raising_when="present",
            evidence=None,
            template=f"{name} {{value}}",
            description=name,
        )

    dictionary = SimpleNamespace(
        get=feature, sentence=lambda name, value: feature(name).template.format(value=value)
    )
    reason = "model not registered: too weak"
    assert score_with_fallback(con, AS_OF, reason, TIERS, dictionary=dictionary) == 4
    build_list_models(con, AS_OF)
    banners = week_banners(con, AS_OF, out / "reports")
    assert len(banners) == 2
    assert banners[0].startswith("Ranked by a points score, not by the risk model")
    assert banners[1].startswith("Data warning: the list for N1 is 95% shorter than the last")
    lists_staging, manifest = stage_lists(con, AS_OF, out, banners)
    reports_staging, summary, checks = stage_reports(con, AS_OF, out, manifest)
    final = commit_publication(con, AS_OF, out, lists_staging, reports_staging, manifest)
    con.close()
    assert summary["ranking"] == {"method": "fallback", "reason": reason}
    assert summary["model_version"] == ""
    assert checks[0].name == "ranking"
    report = (out / "reports" / AS_OF.isoformat() / "run_report.html").read_text("utf-8")
    first = report[report.index('id="breached"') :].split("<li>")[1]
    assert "lists ranked by the fallback points score, not a model" in first
    for code in ("N1", "N2"):
        rows = _read_csv(final / code / "proactive_care_list.csv")
        assert rows and {r["model_version"] for r in rows} == {""}
        scores = [float(r["risk_score"]) for r in rows]
        assert scores == sorted(scores, reverse=True) and 0 < scores[0] < 1
        page = (final / code / "proactive_care_list.html").read_text(encoding="utf-8")
        shown = [html.unescape(b.split("</div>")[0]) for b in page.split('role="alert">')[1:]]
        assert shown == banners
        book = openpyxl.load_workbook(final / code / "proactive_care_list.xlsx")
        for sheet in book.worksheets:
            assert [sheet.cell(row=r, column=1).value for r in (1, 2)] == banners, sheet.title
        header, table = xlsx_list(final / code / "proactive_care_list.xlsx")
        assert header[: len(rows[0])] == list(rows[0])
        assert len(table) == len(rows)
        assert book["List"].freeze_panes == "A5"
        assert book["List"].print_title_rows == "$4:$4"
