"""An extract set through the ingest flow and `build-features`, as a new user would run them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from helpers.extract_set import NHS, write_extract_set

AS_OF = date(2026, 11, 16)  # the extract date of the helper's manifest


@pytest.mark.slow
def test_extract_set_to_features(prefect_harness: None, tmp_path: Path) -> None:
    from pipelines.flows.feature_build import build_features
    from pipelines.flows.ingest import ingest

    extracts = write_extract_set(tmp_path / "extracts")
    warehouse = tmp_path / "warehouse.duckdb"
    ingest(extracts=extracts, warehouse=warehouse)
    rows = build_features(warehouse=warehouse, index_dates=[AS_OF])
    assert rows == 5  # six patients, one died before the extract date

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute(
            """
            select identity.nhs_number, f.*
            from features.feat_patients as f
            inner join core.core_patient_identity as identity using (patient_id)
            """
        )
        names = [d[0] for d in cursor.description]
        by_nhs = {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}
    finally:
        con.close()
    assert set(by_nhs) == set(NHS[:5])
    ada, bert, dev, edna = by_nhs[NHS[0]], by_nhs[NHS[1]], by_nhs[NHS[3]], by_nhs[NHS[4]]
    # Ada: housebound code; spell with I50.0, F00.0, R69X in March 2026 -> F00 + R69
    assert ada["housebound"] is True
    assert ada["hfrs"] == pytest.approx(7.1 + 1.3)
    assert ada["efi_housebound"] == 1
    assert ada["n_distinct_medicines_12m"] == 2
    assert ada["n_emergency_admissions_365d"] == 1
    assert ada["social_care_hours_per_week"] == 7.5
    assert ada["n_contacts_district_nursing_90d"] == 2
    # Bert: a disability code (eFI activity limitation), not housebound
    assert (bert["housebound"], bert["efi_activity_limitation"], bert["efi_deficit_count"]) == (
        False,
        1,
        1,
    )
    # Dev: housebound since October 2026; one UCR referral
    assert dev["housebound"] is True
    assert dev["n_ucr_referrals_365d"] == 1
    # Edna: lives in a nursing home (care home residents count as housebound); in hospital now
    assert (edna["is_care_home_resident"], edna["housebound"]) == (True, True)
    assert edna["in_hospital"] is True
    assert edna["hfrs"] == pytest.approx(3.2 + 1.4)  # W19X, S720
    assert edna["on_caseload"] is True
