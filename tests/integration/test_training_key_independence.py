"""What the model sees does not depend on the pseudonymisation key: the same people under two
keys give the same training rows, in the same order, with the same folds and sample."""

from __future__ import annotations

import hashlib
from datetime import date

import duckdb
import numpy as np
import polars as pl
from helpers.core_tables import add_patient, create_core_tables, insert

from foundation.warehouse import build_model, ensure_layers
from models.training_set import assign_folds, load_training_arrays, sample_people

DATES = (date(2024, 1, 1), date(2024, 7, 1))
# 40 people: (age, eFI, housebound, emergency admission month or None); two pairs of twins
# (identical records) to show that identical people stay interchangeable.
PEOPLE = [
    (66 + (i * 7) % 30, round(((i * 11) % 9) / 36, 4), i % 3 == 0, (i % 4 == 0) and 2 + i % 9)
    for i in range(36)
] + [(80, 0.25, True, 3), (80, 0.25, True, 3), (90, 0.4, True, None), (90, 0.4, True, None)]


def _pid(key: str, person: int) -> str:
    """A stand-in for the HMAC pseudonym of person `person` under `key`."""
    return hashlib.sha256(f"{key}:{person}".encode()).hexdigest()[:16]


def _training_set(key: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_layers(con)
    create_core_tables(con)
    features = {
        "patient_id": "varchar",
        "index_date": "date",
        "practice_code": "varchar",
        "neighbourhood_code": "varchar",
        "practice_name": "varchar",
        "caseload_team": "varchar",
        "age": "integer",
        "housebound": "boolean",
        "efi": "double",
        "hfrs": "double",
    }
    columns = ", ".join(f"{name} {kind}" for name, kind in features.items())
    con.execute(f"create table features.feat_training_patients ({columns})")
    for n, (age, efi, housebound, admitted) in enumerate(PEOPLE):
        pid = _pid(key, n)
        add_patient(con, pid)
        for k, day in enumerate(DATES):
            con.execute(
                "insert into features.feat_training_patients"
                " values (?, ?, 'A81001', 'N1', 'Practice', null, ?, ?, ?, ?)",
                [pid, day, age + k, housebound, efi, 10 * efi + k],
            )
        if admitted:
            when = date(2024, admitted, 15).isoformat()
            insert(
                con,
                "core_acute_spells",
                [
                    {
                        "spell_id": f"s{n}",
                        "patient_id": pid,
                        "admission_date": when,
                        "discharge_date": when,
                        "admission_method": "21",
                        "discharge_destination": "19",
                    }
                ],
            )
    build_model(con, "feat_outcomes", {"horizon_days": 365})
    build_model(
        con,
        "feat_training_sample",
        {"opt_out_types": ["type1"], "as_of": date(2026, 6, 1), "holdout_after": DATES[0]},
    )
    return con


def test_two_keys_give_the_same_rows_folds_and_sample():
    seen = []
    for key in ("key-one", "key-two"):
        con = _training_set(key)
        x, frame = load_training_arrays(con, ["age", "efi", "hfrs"])
        con.close()
        folds = assign_folds(frame["person_key"], 42)
        y = frame["outcome"].cast(int).to_numpy()
        sample = sample_people(frame["person_key"], y, folds == "fit", 20, 42)
        seen.append((x, frame, folds, sample))
    (x1, f1, folds1, s1), (x2, f2, folds2, s2) = seen
    assert len(f1) == 2 * len(PEOPLE) and f1["outcome"].sum() > 0
    # the pseudonyms (and their order) differ; everything the model sees is the same
    assert f1["patient_id"].to_list() != f2["patient_id"].to_list()
    assert f1["person_key"].to_list() == f2["person_key"].to_list()
    np.testing.assert_array_equal(x1, x2)
    assert f1.drop("patient_id").equals(f2.drop("patient_id"))
    assert folds1.tolist() == folds2.tolist()
    assert set(folds1) == {"fit", "valid", "calib"}
    assert s1.tolist() == s2.tolist() and 0 < s1.sum() <= 20
    # each person has one key, the same at both index dates
    keys = f1.group_by("patient_id").agg(pl.col("person_key").n_unique().alias("n"))
    assert keys.height == len(PEOPLE) and keys["n"].max() == 1
