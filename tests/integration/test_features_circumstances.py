"""Cohort, demographics and circumstances (housebound, care home, DNACPR, CFS, caseload) at D."""

from __future__ import annotations

from datetime import date

import pytest
from helpers.core_tables import add_patient, events, features_on, insert, new_core_db

D = date(2024, 6, 30)
HOUSEBOUND = "160689007"
NO_LONGER_HOUSEBOUND = "760661000000106"
GP_CARE_HOME = "248171000000108"  # Lives in care home
AE_RESIDENTIAL_HOME = "394923006"
AE_OTHER_ACCOMMODATION = "1234567"  # any non-care-home accommodation status


def _ae(pid: str, aid: str, day: str, accommodation: str) -> dict:
    return {
        "attendance_id": aid,
        "patient_id": pid,
        "arrival_datetime": f"{day} 12:00",
        "accommodation_status_snomed": accommodation,
    }


# patient: (GP events, A&E accommodation records, expected housebound, expected care home)
HOUSEBOUND_CASES = {
    "hb_then_no_longer": (
        [("2020-01-01", HOUSEBOUND), ("2022-01-01", NO_LONGER_HOUSEBOUND)],
        [],
        False,
        False,
    ),
    "no_longer_then_hb": (
        [("2020-01-01", NO_LONGER_HOUSEBOUND), ("2022-01-01", HOUSEBOUND)],
        [],
        True,
        False,
    ),
    "same_day_both": (
        [("2022-01-01", NO_LONGER_HOUSEBOUND), ("2022-01-01", HOUSEBOUND)],
        [],
        True,
        False,
    ),
    "hb_on_d": ([("2024-06-30", HOUSEBOUND)], [], True, False),
    "hb_after_d": ([("2024-07-01", HOUSEBOUND)], [], False, False),
    "gp_care_home": ([("2021-01-01", GP_CARE_HOME)], [], True, True),
    "ae_care_home": ([], [("2023-01-01", AE_RESIDENTIAL_HOME)], True, True),
    "care_home_then_home": (
        [("2020-01-01", GP_CARE_HOME)],
        [("2023-01-01", AE_OTHER_ACCOMMODATION)],
        False,
        False,
    ),
    "home_then_care_home": (
        [("2023-01-01", GP_CARE_HOME)],
        [("2020-01-01", AE_OTHER_ACCOMMODATION)],
        True,
        True,
    ),
    "no_longer_hb_in_care_home": (
        [("2022-01-01", NO_LONGER_HOUSEBOUND), ("2021-01-01", GP_CARE_HOME)],
        [],
        True,
        True,
    ),
    "nothing": ([], [], False, False),
}


def test_housebound_follows_the_contract_definition() -> None:
    con = new_core_db()
    for n, (pid, (gp, ae, _, _)) in enumerate(HOUSEBOUND_CASES.items()):
        add_patient(con, pid)
        insert(con, "core_gp_events", events(pid, *gp))
        insert(
            con, "core_ae_attendances", [_ae(pid, f"a{n}_{i}", d, c) for i, (d, c) in enumerate(ae)]
        )
    rows = features_on(con, D)
    got = {
        pid: (rows[pid]["housebound"], rows[pid]["is_care_home_resident"])
        for pid in HOUSEBOUND_CASES
    }
    assert got == {pid: (case[2], case[3]) for pid, case in HOUSEBOUND_CASES.items()}


def test_dnacpr_cfs_and_ever_recorded_flags() -> None:
    con = new_core_db()
    for pid in ("dnacpr_revoked", "dnacpr", "cfs", "flags"):
        add_patient(con, pid)
    insert(
        con,
        "core_gp_events",
        events("dnacpr_revoked", ("2020-01-01", "450476008"), ("2023-01-01", "304252001")),
    )
    insert(
        con,
        "core_gp_events",
        events("dnacpr", ("2020-01-01", "304252001"), ("2023-01-01", "304253006")),
    )
    # CFS 4 then 7, then an impossible 12 (ignored), then 2 after D (ignored)
    insert(
        con,
        "core_gp_events",
        events(
            "cfs",
            ("2021-01-01", "763264000", 4),
            ("2022-01-01", "445414007", 7),
            ("2023-01-01", "763264000", 12),
            ("2024-07-01", "763264000", 2),
        ),
    )
    insert(
        con,
        "core_gp_events",
        events(
            "flags",
            ("2010-01-01", "105529008"),
            ("2011-01-01", "133932002"),
            ("2012-01-01", "276039008"),
            ("2013-01-01", "52448006"),
            ("2014-01-01", "1912002"),
        ),
    )
    rows = features_on(con, D)
    assert (rows["dnacpr_revoked"]["has_dnacpr"], rows["dnacpr"]["has_dnacpr"]) == (False, True)
    assert rows["cfs"]["cfs_latest"] == 7.0
    assert rows["dnacpr"]["cfs_latest"] is None
    flags = rows["flags"]
    assert (
        flags["lives_alone"],
        flags["is_carer"],
        flags["has_no_carer"],
        flags["has_dementia"],
    ) == (True, True, True, True)
    assert flags["on_palliative_care_register"] is False


def test_caseload_and_in_hospital_are_open_at_d() -> None:
    con = new_core_db()
    for pid in (
        "open",
        "ended_on_d",
        "starts_after",
        "admitted_today",
        "discharged_on_d",
        "still_in",
        "maternity_spell",
    ):
        add_patient(con, pid)
    insert(
        con,
        "core_caseload",
        [
            {
                "patient_id": "open",
                "team": "t",
                "start_date": "2024-01-01",
                "end_date": "2024-07-01",
            },
            {
                "patient_id": "ended_on_d",
                "team": "t",
                "start_date": "2024-01-01",
                "end_date": "2024-06-30",
            },
            {"patient_id": "starts_after", "team": "t", "start_date": "2024-07-01"},
        ],
    )
    insert(
        con,
        "core_acute_spells",
        [
            {
                "spell_id": "1",
                "patient_id": "admitted_today",
                "admission_date": "2024-06-30",
                "admission_method": "21",
            },
            {
                "spell_id": "2",
                "patient_id": "discharged_on_d",
                "admission_date": "2024-06-01",
                "discharge_date": "2024-06-30",
                "admission_method": "21",
            },
            {
                "spell_id": "3",
                "patient_id": "still_in",
                "admission_date": "2024-06-01",
                "discharge_date": "2024-07-30",
                "admission_method": "11",
            },
            {  # open, but neither emergency nor elective (OUTPUTS.md): not "in hospital"
                "spell_id": "4",
                "patient_id": "maternity_spell",
                "admission_date": "2024-06-29",
                "admission_method": "31",
            },
        ],
    )
    rows = features_on(con, D)
    assert {p: r["on_caseload"] for p, r in rows.items() if r["on_caseload"]} == {"open": True}
    assert {p for p, r in rows.items() if r["in_hospital"]} == {"admitted_today", "still_in"}


def test_caseload_team_names_every_open_caseload_at_d_in_order() -> None:
    con = new_core_db()
    for pid in ("two_open", "ended_on_d", "none"):
        add_patient(con, pid)
    insert(
        con,
        "core_caseload",
        [
            {"patient_id": "two_open", "team": "Matron North", "start_date": "2024-01-01"},
            {
                "patient_id": "two_open",
                "team": "District nursing",
                "start_date": "2024-03-01",
                "end_date": "2024-12-31",
            },
            {  # ended on D: not open, its team not shown
                "patient_id": "two_open",
                "team": "Old team",
                "start_date": "2023-01-01",
                "end_date": "2024-06-30",
            },
            {
                "patient_id": "ended_on_d",
                "team": "Old team",
                "start_date": "2023-01-01",
                "end_date": "2024-06-30",
            },
        ],
    )
    rows = features_on(con, D)
    assert rows["two_open"]["caseload_team"] == "District nursing; Matron North"
    assert rows["ended_on_d"]["caseload_team"] is None
    assert rows["none"]["caseload_team"] is None
    assert not rows["ended_on_d"]["on_caseload"]


def test_cohort_is_alive_and_registered_at_d_with_demographics() -> None:
    con = new_core_db()
    insert(con, "core_lsoa_imd", [{"lsoa_code": "E01000009", "imd_decile": 2}])
    add_patient(con, "alive", birth_month="1940-07-01", ethnic_category="N", lsoa_code="E01000009")
    add_patient(con, "birthday_month", birth_month="1940-06-01", sex="1", ethnic_category=None)
    add_patient(con, "died_on_d", date_of_death="2024-06-30")
    add_patient(con, "dies_later", date_of_death="2024-07-01")
    add_patient(con, "left_on_d", registration_end_date="2024-06-30")
    add_patient(con, "joins_later", registration_start_date="2024-07-01")
    rows = features_on(con, D)
    assert set(rows) == {"alive", "birthday_month", "dies_later"}
    alive, bday = rows["alive"], rows["birthday_month"]
    assert (alive["age"], alive["sex_female"], alive["ethnic_group"], alive["imd_decile"]) == (
        83,
        1,
        "Black",
        2,
    )
    assert (bday["age"], bday["sex_female"], bday["ethnic_group"], bday["imd_decile"]) == (
        84,
        0,
        "Not known",
        None,
    )
    assert (alive["practice_code"], alive["neighbourhood_code"]) == ("A81001", "NB01")


@pytest.mark.parametrize("missing", ["core_gp_events", "core_caseload"])
def test_missing_core_table_is_one_clear_error(missing: str) -> None:
    from features.build import build_features
    from foundation.errors import CasefinderError

    con = new_core_db()
    con.execute(f"drop table core.{missing}")
    with pytest.raises(CasefinderError, match=f"no core table {missing}"):
        build_features(con, [D])
