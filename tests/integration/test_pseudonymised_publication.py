"""Integration: the analysts' pseudonymised publication on a tiny literal warehouse."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from foundation.warehouse import connect
from reports import pseudonymised as pseudo

AS_OF = date(2026, 11, 16)
ANALYST_POLICY = ("type1", "ndoo")

# patient_id, nhs, given, family, neighbourhood, age, risk score (None: not scored), opt-out
PATIENTS = [
    ("p1", "9434765919", "Adaqx", "Lovelacez", "N1", 95, 0.80, None),
    ("p2", "9434765870", "Bobqx", "Optedz", "N1", 88, None, "type1"),  # off the direct-care list
    ("p3", "9434765862", "Cyqx", "Ndooz", "N1", 81, 0.70, "ndoo"),  # listed for direct care only
    ("p4", "9434765854", "Dotqx", "Southz", "N2", 87, 0.40, None),
    ("p5", "9434765846", "Eveqx", "Moorez", "N2", 72, 0.60, None),
    ("p6", "9434765838", "Fayqx", "Nowherez", None, 79, None, None),  # no neighbourhood
]
IDENTIFIERS = [v for p in PATIENTS for v in p[1:4]] + ["1930-01-02"]


def _create(con) -> None:
    con.execute(
        "create or replace table core.core_patient_identity (patient_id varchar,"
        " nhs_number varchar, given_name varchar, family_name varchar, date_of_birth date)"
    )
    con.execute(
        "create or replace table scores.score_cohort (patient_id varchar, as_of date,"
        " practice_code varchar, neighbourhood_code varchar, is_opted_out boolean,"
        " exclusion_reason varchar, is_listed boolean, age integer, sex varchar,"
        " imd_decile integer, efi double, efi_category varchar, hfrs double,"
        " hfrs_band varchar, in_hospital boolean, on_caseload boolean,"
        " is_care_home_resident boolean, opt_out_types varchar[])"
    )
    con.execute(
        "create or replace table scores.scores (as_of date, patient_id varchar,"
        " model_version varchar, raw_score double, base_value double, risk_score double,"
        " risk_tier varchar)"
    )
    con.execute(
        "create or replace table scores.reasons (as_of date, patient_id varchar,"
        " reason_rank integer, feature varchar, value double, contribution double, text varchar)"
    )
    for pid, nhs, given, family, hood, age, score, opt in PATIENTS:
        con.execute(
            "insert into core.core_patient_identity values (?, ?, ?, ?, date '1930-01-02')",
            [pid, nhs, given, family],
        )
        direct_care_opt_out = opt == "type1"
        opts = [opt] if opt else []
        reason = "opt_out" if direct_care_opt_out else (None if hood else "no_neighbourhood")
        con.execute(
            "insert into scores.score_cohort values (?, ?, 'P1', ?, ?, ?, ?, ?, '2', 3, 0.4,"
            " 'severe', 6.0, 'intermediate', false, ?, null, ?)",
            [pid, AS_OF, hood, direct_care_opt_out, reason, reason is None, age, pid == "p1", opts],
        )
        if score is not None:
            con.execute(
                "insert into scores.scores values (?, ?, 'm-1', 0.0, 0.0, ?, 'high')",
                [AS_OF, pid, score],
            )
            con.execute(
                "insert into scores.reasons values (?, ?, 1, 'efi', 0.4, 0.3, 'eFI 0.40'),"
                " (?, ?, 2, 'age', ?, 0.1, 'Aged ' || ?)",
                [AS_OF, pid, AS_OF, pid, age, age],
            )


@pytest.fixture
def con(tmp_path: Path):
    con = connect(tmp_path / "wh" / "warehouse.duckdb")
    _create(con)
    yield con
    con.close()


def _publish(con, out: Path, policy=ANALYST_POLICY) -> tuple[Path, dict]:
    pseudo.build_pseudonymised_table(con, AS_OF, policy)
    staging, summary = pseudo.stage(con, AS_OF, out, policy)
    return pseudo.commit(con, AS_OF, out, staging, summary), summary


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / pseudo.CSV_NAME).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_the_analyst_policy_is_applied_and_every_exclusion_counted(con, tmp_path: Path) -> None:
    final, summary = _publish(con, tmp_path / "out")
    rows = _rows(final)
    assert [(r["patient_id"], r["neighbourhood_code"], r["rank"]) for r in rows] == [
        ("p1", "N1", "1"),
        ("p5", "N2", "1"),
        ("p4", "N2", "2"),
    ]
    assert summary["cohort"] == {
        "housebound": 6,
        "excluded_opt_out": 2,  # type1 (never scored) and ndoo (analyst policy)
        "excluded_other": 1,
        "published": 3,
    }
    assert summary["opt_out_types_excluded"] == ["type1", "ndoo"]


def test_a_policy_without_ndoo_publishes_the_ndoo_patient(con, tmp_path: Path) -> None:
    final, summary = _publish(con, tmp_path / "out", policy=("type1",))
    assert [r["patient_id"] for r in _rows(final)] == ["p1", "p3", "p5", "p4"]
    assert summary["cohort"]["excluded_opt_out"] == 1


def test_the_file_holds_age_bands_and_no_identifier(con, tmp_path: Path) -> None:
    out = tmp_path / "out"
    final, _summary = _publish(con, out)
    rows = {r["patient_id"]: r for r in _rows(final)}
    assert {pid: r["age_band"] for pid, r in rows.items()} == {
        "p1": "90+",
        "p4": "85-89",
        "p5": "70-74",
    }
    assert rows["p1"]["reason_features"] == "efi; age"
    assert rows["p1"]["on_caseload"] == "true"
    with (final / pseudo.CSV_NAME).open(newline="", encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == pseudo.PSEUDONYMISED_COLUMNS
    files = [p for p in out.rglob("*") if p.is_file()]
    assert sorted(p.name for p in files) == [pseudo.CSV_NAME, pseudo.SUMMARY_NAME]
    text = "\n".join(p.read_text(encoding="utf-8") for p in files)
    assert [v for v in IDENTIFIERS if v in text] == []


def test_it_is_written_apart_from_direct_care_lists_and_audited(con, tmp_path: Path) -> None:
    out = tmp_path / "out"
    final, summary = _publish(con, out)
    assert final == out / "pseudonymised" / AS_OF.isoformat()
    assert [p.name for p in out.iterdir()] == ["pseudonymised"]
    on_disk = json.loads((final / pseudo.SUMMARY_NAME).read_text(encoding="utf-8"))
    assert on_disk["publication"] == "pseudonymised"
    assert on_disk["files"] == summary["files"]
    audit = con.execute(
        "select folder, n_rows, csv_sha256, opt_out_types from audit.pseudonymised_publications"
    ).fetchall()
    assert audit == [
        (
            "pseudonymised/2026-11-16",
            3,
            summary["files"][pseudo.CSV_NAME]["sha256"],
            '["type1", "ndoo"]',
        )
    ]
    # Nothing of the direct-care publication is recorded.
    assert con.execute("select count(*) from audit.publications").fetchall() == [(0,)]
    assert con.execute("select count(*) from lists.list_entries").fetchall() == [(0,)]


def test_publishing_again_replaces_the_folder_and_its_audit_row(con, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first, _ = _publish(con, out)
    before = (first / pseudo.CSV_NAME).read_bytes()
    second, _ = _publish(con, out)
    assert (second / pseudo.CSV_NAME).read_bytes() == before
    assert sorted(p.name for p in (out / "pseudonymised").iterdir()) == [AS_OF.isoformat()]
    count = con.execute("select count(*) from audit.pseudonymised_publications").fetchall()
    assert count == [(1,)]


def test_a_failed_staging_leaves_nothing_behind(con, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    pseudo.build_pseudonymised_table(con, AS_OF, ANALYST_POLICY)

    def broken(rows):
        raise OSError("disk full")

    monkeypatch.setattr(pseudo, "render_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        pseudo.stage(con, AS_OF, out, ANALYST_POLICY)
    assert list((out / "pseudonymised").iterdir()) == []
