"""Utilisation at D: admissions, bed days, A&E, community teams, trends, social care, medicines."""

from __future__ import annotations

from datetime import date

from helpers.core_tables import add_patient, features_on, insert, new_core_db

D = date(2024, 6, 30)


def _spell(sid: str, admitted: str, discharged: str | None, method: str = "21") -> dict:
    return {
        "spell_id": sid,
        "patient_id": "p",
        "admission_date": admitted,
        "discharge_date": discharged,
        "admission_method": method,
    }


def test_admission_windows_bed_days_and_recency() -> None:
    con = new_core_db()
    add_patient(con, "p")
    insert(
        con,
        "core_acute_spells",
        [
            _spell("a", "2024-05-31", "2024-06-02"),  # D - 30: in 90d, not 30d; 2 bed days
            _spell("b", "2024-06-01", "2024-06-11"),  # D - 29: in 30d; 10 bed days
            _spell("c", "2024-06-28", None),  # open: bed days to D = 2
            _spell("d", "2023-07-01", "2023-07-04"),  # D - 365: outside the year
            _spell("e", "2023-07-02", "2023-07-05"),  # D - 364: inside; 3 bed days
            _spell("f", "2024-02-15", "2024-02-16", "11"),  # elective
            _spell("g", "2024-03-01", "2024-03-02", "31"),  # maternity: neither
            _spell("h", "2024-07-01", "2024-07-09"),  # after D
        ],
    )
    row = features_on(con, D)["p"]
    assert row["n_emergency_admissions_30d"] == 2  # b and c
    assert row["n_emergency_admissions_90d"] == 3
    assert row["n_emergency_admissions_prev_90d"] == 0
    assert row["n_emergency_admissions_365d"] == 4
    assert row["emergency_bed_days_365d"] == 2 + 10 + 2 + 3
    assert row["n_elective_admissions_365d"] == 1
    assert row["days_since_last_emergency_discharge"] == 19  # b, discharged 2024-06-11
    assert row["in_hospital"] is True


def test_unplanned_ae_and_falls() -> None:
    con = new_core_db()
    add_patient(con, "p")
    insert(
        con,
        "core_ae_attendances",
        [
            {
                "attendance_id": "1",
                "patient_id": "p",
                "arrival_datetime": "2024-06-30 23:59",
                "is_planned": False,
            },
            {
                "attendance_id": "2",
                "patient_id": "p",
                "arrival_datetime": "2024-06-01 10:00",
                "is_planned": None,
            },
            {
                "attendance_id": "3",
                "patient_id": "p",
                "arrival_datetime": "2024-06-02 10:00",
                "is_planned": True,
            },
            {
                "attendance_id": "4",
                "patient_id": "p",
                "arrival_datetime": "2024-02-01 10:00",
                "is_planned": False,
            },
            {
                "attendance_id": "5",
                "patient_id": "p",
                "arrival_datetime": "2023-06-30 10:00",
                "is_planned": False,
            },
        ],
    )
    insert(
        con,
        "core_gp_events",
        [
            {"patient_id": "p", "event_date": d, "snomed_code": c}
            for d, c in [
                ("2024-01-01", "1912002"),
                ("2024-01-01", "40104005"),
                ("2024-03-01", "1912002"),
                ("2023-06-30", "1912002"),
            ]
        ],
    )
    row = features_on(con, D)["p"]
    assert (
        row["n_ae_unplanned_90d"],
        row["n_ae_unplanned_prev_90d"],
        row["n_ae_unplanned_365d"],
    ) == (2, 1, 3)
    assert row["n_falls_365d"] == 2  # two fall days in the year; same-day codes once


def _contact(
    cid: str, day: str, team: str, referral: str | None = None, attended: bool = True
) -> dict:
    return {
        "contact_id": cid,
        "patient_id": "p",
        "referral_id": referral,
        "contact_datetime": f"{day} 10:00",
        "team_type": team,
        "is_attended": attended,
    }


def test_community_contacts_by_team_trend_ucr_and_reablement() -> None:
    con = new_core_db()
    add_patient(con, "p")
    insert(
        con,
        "core_community_contacts",
        [
            _contact("1", "2024-06-30", "district_nursing"),
            _contact("2", "2024-06-01", "district_nursing"),
            _contact("3", "2024-05-01", "therapy"),
            _contact("4", "2024-06-10", "district_nursing", attended=False),
            _contact("5", "2024-03-01", "district_nursing"),  # days 91-180: previous 90
            _contact("6", "2024-06-20", "urgent_community_response", "r1"),
            _contact("7", "2024-06-21", "urgent_community_response", "r1"),
            _contact("8", "2023-12-01", "urgent_community_response", "r2"),
            _contact("9", "2023-11-01", "urgent_community_response"),  # no referral id: itself
            _contact("10", "2024-04-01", "reablement", "r3"),
            _contact("11", "2024-07-01", "district_nursing"),  # after D
        ],
    )
    insert(
        con,
        "core_social_care_services",
        [
            {
                "patient_id": "p",
                "service_type": "reablement",
                "start_date": "2024-01-01",
                "end_date": "2024-02-01",
                "planned_hours_per_week": 10,
            },
            {
                "patient_id": "p",
                "service_type": "home_care",
                "start_date": "2023-01-01",
                "planned_hours_per_week": 7.5,
            },
            {
                "patient_id": "p",
                "service_type": "day_care",
                "start_date": "2023-01-01",
                "end_date": "2024-06-30",
                "planned_hours_per_week": 6,
            },
            {"patient_id": "p", "service_type": "nursing_care", "start_date": "2024-07-01"},
        ],
    )
    row = features_on(con, D)["p"]
    assert row["n_contacts_district_nursing_90d"] == 2
    assert row["n_contacts_therapy_90d"] == 1
    assert row["n_contacts_urgent_community_response_90d"] == 2
    assert row["n_community_contacts_90d"] == 5  # 1, 2, 3, 6, 7 (4 not attended)
    assert row["n_community_missed_90d"] == 1
    assert row["n_community_contacts_prev_90d"] == 2  # 5 and 10
    assert row["community_contacts_change_90d"] == 3
    assert row["n_ucr_referrals_365d"] == 3  # r1, r2 and contact 9
    assert row["n_reablement_episodes_365d"] == 2  # community r3 + the social care package
    assert row["social_care_hours_per_week"] == 7.5  # day care ended on D; nursing starts after
    assert (row["has_home_care"], row["has_care_home_placement"]) == (True, False)
