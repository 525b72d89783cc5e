"""The outcome and training-sample SQL (`feat_outcomes`, `feat_training_sample`) on literal rows."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from helpers.core_tables import add_patient, create_core_tables, insert

from foundation.warehouse import build_model, ensure_layers

D = date(2025, 1, 1)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_layers(con)
    create_core_tables(con)
    con.execute(
        "create table features.feat_training_patients (patient_id varchar, index_date date, "
        "practice_code varchar, neighbourhood_code varchar, practice_name varchar, "
        "caseload_team varchar, age integer, housebound boolean, "
        "efi double)"
    )
    yield con
    con.close()


def _person(con, pid: str, age: int = 80, housebound: bool = False, **core) -> None:
    add_patient(con, pid, **core)
    con.execute(
        "insert into features.feat_training_patients"
        " values (?, ?, 'A81001', 'N1', 'Practice', null, ?, ?, 0.1)",
        [pid, D, age, housebound],
    )


def _spell(
    con,
    pid: str,
    admitted: str,
    method: str = "21",
    discharged: str | None = None,
    destination: str | None = "19",
) -> None:
    insert(
        con,
        "core_acute_spells",
        [
            {
                "spell_id": f"s-{pid}-{admitted}",
                "patient_id": pid,
                "admission_date": admitted,
                "discharge_date": discharged or admitted,
                "admission_method": method,
                "discharge_destination": destination,
            }
        ],
    )


def _outcomes(con, horizon: int = 365) -> dict[str, tuple]:
    build_model(con, "feat_outcomes", {"horizon_days": horizon})
    rows = con.execute(
        "select patient_id, outcome, outcome_date, outcome_type from features.feat_outcomes"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_outcome_window_is_after_the_index_date_up_to_the_horizon(con):
    cases = {
        "same_day": ("2025-01-01", "21"),  # on D: not after D
        "next_day": ("2025-01-02", "21"),
        "last_day": ("2026-01-01", "21"),  # D + 365
        "too_late": ("2026-01-02", "21"),  # D + 366
        "elective": ("2025-03-01", "11"),
        "maternity": ("2025-03-01", "31"),
        "method_2a": ("2025-03-01", "2A"),
    }
    for pid, (day, method) in cases.items():
        _person(con, pid)
        _spell(con, pid, day, method)
    _person(con, "nothing")
    out = _outcomes(con)
    assert {pid: out[pid][0] for pid in out} == {
        "same_day": False,
        "next_day": True,
        "last_day": True,
        "too_late": False,
        "elective": False,
        "maternity": False,
        "method_2a": True,
        "nothing": False,
    }
    assert out["next_day"] == (True, date(2025, 1, 2), "emergency_admission")


def test_horizon_is_a_parameter(con):
    _person(con, "p")
    _spell(con, "p", "2025-06-01")
    assert _outcomes(con, horizon=90)["p"][0] is False
    assert _outcomes(con, horizon=365)["p"][0] is True


def test_death_counts_and_the_earliest_event_dates_the_outcome(con):
    _person(con, "died", date_of_death="2025-05-01")
    _person(con, "admitted_then_died", date_of_death="2025-05-01")
    _spell(con, "admitted_then_died", "2025-04-01")
    # core dates a death known only from hospital (discharged to 79) by the discharge
    _person(con, "died_in_hospital", date_of_death="2025-02-10", death_source="hospital")
    _spell(
        con,
        "died_in_hospital",
        "2025-02-01",
        method="12",
        discharged="2025-02-10",
        destination="79",
    )
    out = _outcomes(con)
    assert out["died"] == (True, date(2025, 5, 1), "death")
    assert out["admitted_then_died"] == (True, date(2025, 4, 1), "emergency_admission")
    assert out["died_in_hospital"] == (True, date(2025, 2, 10), "death")


def _sample(con, opt_out_types=("type1", "ndoo")) -> dict[str, tuple]:
    build_model(con, "feat_outcomes", {"horizon_days": 365})
    build_model(
        con,
        "feat_training_sample",
        {
            "opt_out_types": list(opt_out_types),
            "as_of": date(2026, 6, 1),
            "holdout_after": date(2024, 12, 1),
        },
    )
    rows = con.execute(
        "select patient_id, outcome, period, sex_code, imd_decile_code "
        "from features.feat_training_sample"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_sample_is_65_plus_or_housebound_and_not_opted_out(con):
    _person(con, "old", age=70)
    _person(con, "young", age=50)
    _person(con, "young_housebound", age=50, housebound=True)
    _person(con, "type1", age=80)
    _person(con, "ndoo", age=80)
    _person(con, "dead_before", age=80, date_of_death="2024-06-01")
    insert(
        con,
        "core_opt_outs",
        [
            {"patient_id": "type1", "opt_out_type": "type1", "recorded_date": "2020-01-01"},
            {"patient_id": "ndoo", "opt_out_type": "ndoo", "recorded_date": "2020-01-01"},
        ],
    )
    insert(con, "core_lsoa_imd", [{"lsoa_code": "E01000001", "imd_decile": 3}])
    sample = _sample(con)
    assert set(sample) == {"old", "young_housebound"}
    assert sample["old"] == (False, "holdout", "2", 3)
    assert set(_sample(con, opt_out_types=("type1",))) == {"old", "young_housebound", "ndoo"}
