"""The feature build: table shape, evidence models, the Prefect flow and `casefinder features`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from helpers.core_tables import (
    add_patient,
    create_core_tables,
    events,
    features_at,
    insert,
    new_core_db,
)

from features.build import MODELS, TRAINING_FEATURES, build_features
from features.dictionary import FEATURES, KEY_COLUMNS, feature_names
from foundation.warehouse import connect, query_model

D = date(2024, 6, 30)


def test_feat_patients_has_the_keys_then_every_dictionary_feature_in_order() -> None:
    con = new_core_db()
    add_patient(con, "p")
    features_at(con, D)
    cols = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'features' "
            "and table_name = 'feat_patients' order by ordinal_position"
        ).fetchall()
    ]
    assert cols == [*KEY_COLUMNS, *feature_names()]
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'features' and table_name = 'feat_patients'"
        ).fetchall()
    )
    expected_type = {
        "bool": {"BOOLEAN", "INTEGER", "BIGINT"},
        "int": {"INTEGER", "BIGINT"},
        "float": {"DOUBLE"},
        "category": {"VARCHAR"},
    }
    for f in FEATURES:
        assert types[f.name] in expected_type[f.dtype], f.name


def test_one_row_per_patient_per_index_date_over_many_dates() -> None:
    con = new_core_db()
    for pid in ("a", "b", "c"):
        add_patient(con, pid)
    dates = [date(2023, m, 1) for m in range(1, 13)]
    rows = features_at(con, *dates)
    assert len(rows) == 36
    dupes = con.execute(
        "select count(*) from (select patient_id, index_date from features.feat_patients "
        "group by all having count(*) > 1)"
    ).fetchall()
    assert dupes == [(0,)]


def test_training_features_leave_the_as_of_features_as_they_were() -> None:
    con = new_core_db()
    add_patient(con, "young", birth_month="1990-01-01")
    add_patient(con, "old", birth_month="1940-01-01")
    build_features(con, [D])
    before = con.execute("select * from features.feat_patients order by all").fetchall()
    dates = [date(2023, 6, 30), date(2023, 12, 31)]
    build_features(con, dates, {"training_candidates_only": True}, TRAINING_FEATURES)
    assert con.execute("select * from features.feat_patients order by all").fetchall() == before
    training = con.execute(
        f"select distinct patient_id, index_date from features.{TRAINING_FEATURES} order by all"
    ).fetchall()
    assert training == [("old", d) for d in dates]


def test_evidence_models_list_dated_records_up_to_as_of_only() -> None:
    con = new_core_db()
    add_patient(con, "p")
    insert(
        con,
        "core_gp_events",
        events(
            "p",
            ("2024-01-01", "160689007"),
            ("2024-07-01", "1912002"),
            ("2023-01-01", "1011481000000105", 40.0),
        ),
    )
    insert(
        con,
        "core_gp_medications",
        [
            {
                "patient_id": "p",
                "issue_date": "2024-03-01",
                "bnf_code": "0212000B0AAAAAA",
                "description": "Atorvastatin",
            }
        ],
    )
    insert(
        con,
        "core_acute_spells",
        [
            {
                "spell_id": "s",
                "patient_id": "p",
                "admission_date": "2024-05-01",
                "discharge_date": "2024-05-03",
                "admission_method": "21",
            }
        ],
    )
    insert(
        con,
        "core_acute_diagnoses",
        [
            {
                "spell_id": "s",
                "patient_id": "p",
                "admission_date": "2024-05-01",
                "diagnosis_position": 1,
                "icd10_code": "F001",
            }
        ],
    )
    insert(
        con,
        "core_ae_attendances",
        [{"attendance_id": "a", "patient_id": "p", "arrival_datetime": "2024-06-01 10:00"}],
    )
    insert(
        con,
        "core_community_contacts",
        [
            {
                "contact_id": "c",
                "patient_id": "p",
                "contact_datetime": "2024-06-01 10:00",
                "team_type": "district_nursing",
            }
        ],
    )
    insert(
        con,
        "core_social_care_services",
        [
            {
                "patient_id": "p",
                "service_type": "home_care",
                "start_date": "2024-01-01",
                "planned_hours_per_week": 5,
            }
        ],
    )
    features_at(con, D)
    evidence_models = sorted({f.evidence for f in FEATURES if f.evidence})
    found: dict[str, set[str]] = {}
    for model in evidence_models:
        rel = query_model(con, model, {"as_of": D, "patient_ids": ["p"]})
        assert rel.columns == [
            "patient_id",
            "index_date",
            "feature",
            "source",
            "event_date",
            "code",
            "term",
        ]
        rows = rel.fetchall()
        assert all(r[4] is None or r[4] <= D for r in rows), model
        found[model] = {r[2] for r in rows}
    assert {"housebound", "efi_housebound", "efi_ckd"} <= found["evid_gp_records"]
    assert "n_falls_365d" not in found["evid_gp_records"]  # the fall is after D
    assert found["evid_hospital_diagnoses"] == {"hfrs"}
    assert "n_emergency_admissions_90d" in found["evid_acute_spells"]
    assert found["evid_medications"] == {"n_distinct_medicines_12m"}
    assert "n_ae_unplanned_90d" in found["evid_ae_attendances"]
    assert "n_contacts_district_nursing_90d" in found["evid_community_contacts"]
    assert "has_home_care" in found["evid_social_care"]
    names = set(feature_names())
    assert set().union(*found.values()) <= names


def _warehouse_with_two_patients(path: Path) -> None:
    con = connect(path)
    try:
        create_core_tables(con)
        add_patient(con, "p1", nhs_number="9990000018")
        add_patient(con, "p2", nhs_number="9990000026", date_of_death="2024-01-01")
        add_patient(con, "p3", nhs_number="9990000034")
        insert(con, "core_gp_events", events("p1", ("2020-01-01", "160689007")))
    finally:
        con.close()


@pytest.mark.usefixtures("prefect_harness")
def test_flow_builds_every_model_at_every_date(tmp_path: Path) -> None:
    from pipelines.flows.feature_build import build_features as flow

    warehouse = tmp_path / "w.duckdb"
    _warehouse_with_two_patients(warehouse)
    rows = flow(warehouse=warehouse, index_dates=[date(2023, 6, 30), D])
    assert rows == 2 + 3  # p2 died before D, alive at the earlier date
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'features'"
            ).fetchall()
        }
        assert set(MODELS) | {"feat_index_dates"} <= tables
    finally:
        con.close()


@pytest.mark.usefixtures("prefect_harness")
def test_cli_exports_parquet_with_nhs_number_as_the_only_identifier(tmp_path: Path, capsys) -> None:
    from pipelines.cli import main

    warehouse = tmp_path / "w.duckdb"
    _warehouse_with_two_patients(warehouse)
    out = tmp_path / "features.parquet"
    code = main(
        ["features", "--warehouse", str(warehouse), "--as-of", D.isoformat(), "--out", str(out)]
    )
    assert code == 0
    frame = pl.read_parquet(out)
    assert frame["nhs_number"].sort().to_list() == ["9990000018", "9990000034"]
    assert "patient_id" not in frame.columns
    for column in ("housebound", "efi", "efi_deficit_count", "hfrs", *feature_names()):
        assert column in frame.columns
    assert frame.filter(pl.col("nhs_number") == "9990000018")["housebound"].to_list() == [True]
    assert "2 patients" in capsys.readouterr().out


def test_cli_describe_and_bad_usage(tmp_path: Path, capsys) -> None:
    from pipelines.cli import main

    assert main(["features", "--describe"]) == 0
    text = capsys.readouterr().out
    assert "n_emergency_admissions_365d" in text and "sql/features/int_acute_use.sql" in text
    assert (
        main(
            [
                "features",
                "--warehouse",
                str(tmp_path / "none.duckdb"),
                "--as-of",
                "2024-01-01",
                "--out",
                str(tmp_path / "x.parquet"),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert main(["features", "--warehouse", str(tmp_path / "none.duckdb"), "--out", "x.csv"]) == 2


def test_build_requires_an_index_date() -> None:
    from foundation.errors import CasefinderError

    con = new_core_db()
    with pytest.raises(CasefinderError, match="no index date"):
        build_features(con, [])
