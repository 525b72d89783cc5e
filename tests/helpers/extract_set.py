"""Write a minimal, valid extract set (contract 1.1) for tests: a few literal rows per file.

`write_extract_set(tmp_path)` writes every required file and every optional one, with a
`manifest.json`. `overrides={"gp_events": [...]}` replaces a file's rows (a list of dicts of
text; column order follows the contract, then any extra keys); `overrides={"caseload": None}`
leaves a file out. All NHS numbers are in the 999 test range and pass the modulus-11 check.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from foundation.contract import FILES

# Valid test NHS numbers (999 range, modulus-11 check digit correct).
NHS = (
    "9990000018",
    "9990000026",
    "9990000034",
    "9990000042",
    "9990000050",
    "9990000069",
    "9990000077",
    "9990000085",
)
HOUSEBOUND_SNOMED = "160689007"

PRACTICES = [
    {
        "practice_code": "A81001",
        "practice_name": "Riverside Surgery",
        "pcn_code": "U00001",
        "pcn_name": "North PCN",
        "neighbourhood_code": "NB01",
        "neighbourhood_name": "North",
    },
    {
        "practice_code": "A81002",
        "practice_name": "Hillside Practice",
        "pcn_code": "U00002",
        "pcn_name": "South PCN",
        "neighbourhood_code": "NB02",
        "neighbourhood_name": "South",
    },
]


def _patient(nhs: str, given: str, dob: str, sex: str, practice: str, **extra: str) -> dict:
    row = {
        "nhs_number": nhs,
        "given_name": given,
        "family_name": "Testpatient",
        "date_of_birth": dob,
        "sex": sex,
        "ethnic_category": "A",
        "lsoa_code": "E01000001",
        "practice_code": practice,
        "registration_start_date": "2001-04-01",
        "registration_end_date": "",
        "date_of_death": "",
    }
    row.update(extra)
    return row


GP_PATIENTS = [
    _patient(NHS[0], "Ada", "1931-02-11", "2", "A81001"),
    _patient(NHS[1], "Bert", "1938-07-30", "1", "A81001"),
    _patient(NHS[2], "Cleo", "1945-12-01", "2", "A81001"),
    _patient(NHS[3], "Dev", "1950-05-20", "1", "A81002"),
    _patient(NHS[4], "Edna", "1929-09-09", "2", "A81002"),
    _patient(NHS[5], "Fred", "1940-03-15", "1", "A81002", date_of_death="2026-01-10"),
]

GP_EVENTS = [
    {
        "nhs_number": NHS[0],
        "event_date": "2025-06-01",
        "snomed_code": HOUSEBOUND_SNOMED,
        "numeric_value": "",
    },
    {
        "nhs_number": NHS[0],
        "event_date": "2025-06-01",
        "snomed_code": "1048301000000107",
        "numeric_value": "34",
    },
    {
        "nhs_number": NHS[1],
        "event_date": "2024-02-10",
        "snomed_code": "21134002",
        "numeric_value": "",
    },
    {
        "nhs_number": NHS[3],
        "event_date": "2026-10-01",
        "snomed_code": HOUSEBOUND_SNOMED,
        "numeric_value": "",
    },
    {
        "nhs_number": NHS[4],
        "event_date": "2023-11-20",
        "snomed_code": "160734000",
        "numeric_value": "",
    },
]

GP_MEDICATIONS = [
    {
        "nhs_number": NHS[0],
        "issue_date": "2026-09-01",
        "dmd_code": "39720311000001101",
        "bnf_code": "0407010H0AAAMAM",
        "description": "Paracetamol 500mg tablets",
    },
    {
        "nhs_number": NHS[0],
        "issue_date": "2026-10-01",
        "dmd_code": "",
        "bnf_code": "0212000B0AAABAB",
        "description": "Atorvastatin 20mg tablets",
    },
    {
        "nhs_number": NHS[3],
        "issue_date": "2026-08-15",
        "dmd_code": "",
        "bnf_code": "0205051R0AAAAAA",
        "description": "Ramipril 2.5mg capsules",
    },
]


def _spell(spell_id: str, nhs: str, adm: str, dis: str, method: str, *diags: str) -> dict:
    row = {
        "spell_id": spell_id,
        "nhs_number": nhs,
        "provider_code": "RXX",
        "admission_date": adm,
        "discharge_date": dis,
        "admission_method": method,
        "discharge_destination": "19",
    }
    for i in range(1, 5):
        row[f"diag_{i:02d}"] = diags[i - 1] if i <= len(diags) else ""
    return row


ACUTE_SPELLS = [
    _spell("S0001", NHS[0], "2026-03-02", "2026-03-10", "21", "I500", "F00.0", "R69X"),
    _spell("S0002", NHS[3], "2025-07-14", "2025-07-15", "11", "K573"),
    _spell("S0003", NHS[4], "2026-11-12", "", "22", "W19X", "S720"),
]

AE_ATTENDANCES = [
    {
        "attendance_id": "E0001",
        "nhs_number": NHS[0],
        "arrival_datetime": "2026-03-02 09:41",
        "department_type": "01",
        "arrival_planned": "false",
        "chief_complaint_snomed": "267036007",
        "accommodation_status_snomed": "",
        "admitted": "true",
    },
    {
        "attendance_id": "E0002",
        "nhs_number": NHS[2],
        "arrival_datetime": "2026-05-20T22:05:00",
        "department_type": "03",
        "arrival_planned": "false",
        "chief_complaint_snomed": "",
        "accommodation_status_snomed": "",
        "admitted": "false",
    },
]


def _contact(cid: str, sub: str, nhs: str, when: str, team: str, **extra: str) -> dict:
    row = {
        "contact_id": cid,
        "submission_id": sub,
        "nhs_number": nhs,
        "referral_id": "R" + cid,
        "referral_received_datetime": "",
        "contact_datetime": when,
        "team_type": team,
        "priority": "routine",
        "attended": "true",
        "duration_minutes": "30",
        "location": "home",
    }
    row.update(extra)
    return row


COMMUNITY_CONTACTS = [
    _contact("C0001", "202609", NHS[0], "2026-09-03 10:00", "district_nursing"),
    _contact("C0002", "202609", NHS[0], "2026-09-10 10:00", "district_nursing"),
    _contact(
        "C0003",
        "202610",
        NHS[3],
        "2026-10-05 14:30",
        "urgent_community_response",
        priority="urgent_2h",
        referral_received_datetime="2026-10-05 13:00",
    ),
]

SOCIAL_CARE_SERVICES = [
    {
        "nhs_number": NHS[0],
        "service_type": "home_care",
        "start_date": "2025-01-06",
        "end_date": "",
        "planned_hours_per_week": "7.5",
    },
]
LSOA_IMD = [{"lsoa_code": "E01000001", "imd_decile": "3"}]
OPT_OUTS = [{"nhs_number": NHS[2], "opt_out_type": "ndoo", "recorded_date": "2022-01-01"}]
CASELOAD = [
    {"nhs_number": NHS[4], "team": "frailty_mdt", "start_date": "2026-06-01", "end_date": ""}
]

DEFAULT_ROWS: dict[str, list[dict]] = {
    "gp_patients": GP_PATIENTS,
    "gp_events": GP_EVENTS,
    "gp_medications": GP_MEDICATIONS,
    "acute_spells": ACUTE_SPELLS,
    "ae_attendances": AE_ATTENDANCES,
    "community_contacts": COMMUNITY_CONTACTS,
    "social_care_services": SOCIAL_CARE_SERVICES,
    "practices": PRACTICES,
    "lsoa_imd": LSOA_IMD,
    "opt_outs": OPT_OUTS,
    "caseload": CASELOAD,
}


def _columns(name: str, rows: list[dict]) -> list[str]:
    """Contract order first (only columns some row has, or all when there are no rows)."""
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    if not rows:
        return [c.name for c in FILES[name].columns if not c.name.startswith("diag_")] + [
            "diag_01"
        ] * (name == "acute_spells")
    contract = [c for c in FILES[name].column_names if c in keys] if name in FILES else []
    return contract + [k for k in keys if k not in contract]


def write_extract_set(
    dir: Path,
    overrides: dict[str, list[dict] | None] | None = None,
    fmt: str = "csv",
    extract_date: date = date(2026, 11, 16),
    manifest: bool = True,
) -> Path:
    """Write a small valid extract set into `dir` (created) and return `dir`."""
    dir.mkdir(parents=True, exist_ok=True)
    rows_by_file: dict[str, list[dict] | None] = dict(DEFAULT_ROWS)
    rows_by_file.update(overrides or {})
    counts: dict[str, dict[str, int]] = {}
    for name, rows in rows_by_file.items():
        if rows is None:
            continue
        columns = _columns(name, rows)
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table(
                {c: pa.array([r.get(c, "") or None for r in rows], pa.string()) for c in columns}
            )
            pq.write_table(table, dir / f"{name}.parquet")
        else:
            with (dir / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
                writer.writeheader()
                for row in rows:
                    writer.writerow({c: row.get(c, "") for c in columns})
        counts[name] = {"rows": len(rows)}
    if manifest:
        (dir / "manifest.json").write_text(
            json.dumps({"extract_date": extract_date.isoformat(), "files": counts}, indent=2),
            encoding="utf-8",
        )
    return dir
