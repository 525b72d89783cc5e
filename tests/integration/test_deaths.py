"""Deaths known from hospital (contract 1.1, "Deaths"): a patient is dead from the earlier of
the GP's date of death and the discharge of a spell with destination 79; core dates it once,
and from that date the patient is in no cohort; a death known only from hospital is counted."""

from __future__ import annotations

import copy
from datetime import date

import duckdb
import pytest
from helpers.core_tables import features_at
from helpers.extract_set import DEFAULT_ROWS, NHS, write_extract_set

from foundation.warehouse import ensure_layers
from pipelines.ingest.extracts import discover
from pipelines.ingest.load import load_extract_set
from reports.summary import died_in_hospital_only

KEY = b"k" * 32
AS_OF = date(2026, 11, 16)  # the helper's extract date


def _spell(spell_id: str, nhs: str, admitted: str, discharged: str, destination: str) -> dict:
    return {
        "spell_id": spell_id,
        "nhs_number": nhs,
        "provider_code": "RXX",
        "admission_date": admitted,
        "discharge_date": discharged,
        "admission_method": "21",
        "discharge_destination": destination,
        "diag_01": "J189",
    }


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """Bert (NHS[1]) died in hospital with no GP date of death; Dev (NHS[3]) died in hospital
    before the GP's date; Fred (NHS[5]) has a GP date before his hospital one; Ada
    (NHS[0]) went home; Cleo (NHS[2]) is discharged to 79 with the discharge date missing."""
    rows = copy.deepcopy(DEFAULT_ROWS)
    for patient in rows["gp_patients"]:
        if patient["nhs_number"] == NHS[3]:
            patient["date_of_death"] = "2026-09-01"
    rows["acute_spells"] += [
        _spell("S0201", NHS[1], "2026-06-01", "2026-06-10", "79"),
        _spell("S0202", NHS[3], "2026-08-15", "2026-08-20", "79"),
        _spell("S0203", NHS[5], "2026-01-15", "2026-01-20", "79"),
        _spell("S0204", NHS[0], "2026-07-01", "2026-07-03", " 19 "),
        _spell("S0205", NHS[2], "2026-11-10", "", "79"),
    ]
    folder = tmp_path_factory.mktemp("deaths") / "set"
    write_extract_set(folder, rows)
    con = duckdb.connect()
    ensure_layers(con)
    load_extract_set(con, discover(folder), KEY)
    return con


def _deaths(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    return {
        nhs: (died, source)
        for nhs, died, source in con.execute(
            "select i.nhs_number, p.date_of_death, p.death_source from core.core_patients p "
            "join core.core_patient_identity i using (patient_id)"
        ).fetchall()
    }


def test_core_dates_death_from_the_earlier_of_gp_and_hospital(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert con.execute("select count(*) from quarantine.rejected_rows").fetchone() == (0,)
    assert _deaths(con) == {
        NHS[0]: (None, None),
        NHS[1]: (date(2026, 6, 10), "hospital"),
        NHS[2]: (None, None),
        NHS[3]: (date(2026, 8, 20), "hospital"),
        NHS[4]: (None, None),
        NHS[5]: (date(2026, 1, 10), "gp"),
    }


def test_a_patient_dead_in_hospital_is_in_no_cohort_from_that_date(
    con: duckdb.DuckDBPyConnection,
) -> None:
    before, after = date(2026, 6, 9), date(2026, 6, 10)
    rows = features_at(con, before, after, AS_OF)
    ids = dict(
        con.execute("select nhs_number, patient_id from core.core_patient_identity").fetchall()
    )
    assert (ids[NHS[1]], before) in rows
    assert (ids[NHS[1]], after) not in rows  # dead on the discharge date
    assert (ids[NHS[3]], after) in rows
    assert {pid for pid, day in rows if day == AS_OF} == {ids[n] for n in NHS[:5]} - {
        ids[NHS[1]],
        ids[NHS[3]],
    }


def test_deaths_known_only_from_hospital_are_counted(con: duckdb.DuckDBPyConnection) -> None:
    assert died_in_hospital_only(con, AS_OF) == 2  # Bert and Dev; Fred's GP knew first
    assert died_in_hospital_only(con, date(2026, 7, 1)) == 1  # Dev had not died yet
    assert died_in_hospital_only(con, date(2026, 6, 9)) == 0
