"""Pseudonymisation and the opt-out policy: the keyed hash in SQL, where identifiers live.

Hazard log H1 (wrong patient) and H4 (opted-out patients); docs/governance.md.
"""

from __future__ import annotations

import hashlib
import hmac

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foundation.errors import CasefinderError
from foundation.settings import DEFAULT_OPT_OUT_POLICY, load_settings
from foundation.warehouse import install_pseudonym_macro, patient_id_of

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def _reference(key: bytes, nhs: str) -> str:
    """HMAC-SHA256 from the standard library, independent of casefinder's code."""
    return hmac.new(key, nhs.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


def _macro(con: duckdb.DuckDBPyConnection, key: bytes, nhs: str | None) -> str | None:
    install_pseudonym_macro(con, key)
    row = con.execute("select patient_id(?)", [nhs]).fetchone()
    return row[0] if row else None


@pytest.mark.parametrize(
    "key",
    [KEY, bytes(range(32)), bytes(range(64)), bytes(range(100)), b"\xff" * 16],
    ids=["16-bytes", "32-bytes", "64-bytes-one-block", "100-bytes-hashed", "all-ff"],
)
def test_sql_macro_equals_python_hmac(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    for nhs in ("9990000018", "9990000026", "0000000000", ""):
        assert _macro(con, key, nhs) == _reference(key, nhs) == patient_id_of(key, nhs)


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=16, max_size=80),
    nhs=st.text(alphabet="0123456789", min_size=10, max_size=10),
)
def test_sql_macro_equals_python_hmac_for_any_key_and_number(key: bytes, nhs: str) -> None:
    con = duckdb.connect(":memory:")
    try:
        assert _macro(con, key, nhs) == _reference(key, nhs)
    finally:
        con.close()


def test_macro_works_over_a_column_and_keeps_nulls(con: duckdb.DuckDBPyConnection) -> None:
    numbers = [f"999000{i:04d}" for i in range(500)]
    con.execute("create table t (nhs_number varchar)")
    con.executemany("insert into t values (?)", [[n] for n in numbers] + [[None]])
    install_pseudonym_macro(con, KEY)
    rows = con.execute("select nhs_number, patient_id(nhs_number) from t").fetchall()
    got = dict(rows)
    assert got.pop(None) is None
    assert got == {n: _reference(KEY, n) for n in numbers}
    assert len(set(got.values())) == len(numbers)


def test_reinstalling_with_another_key_changes_every_id(con: duckdb.DuckDBPyConnection) -> None:
    first = _macro(con, KEY, "9990000018")
    second = _macro(con, KEY[::-1], "9990000018")
    assert first != second
    assert second == _reference(KEY[::-1], "9990000018")


def test_key_is_not_in_the_macro_text(con: duckdb.DuckDBPyConnection) -> None:
    install_pseudonym_macro(con, KEY)
    definitions = con.execute("select macro_definition from duckdb_functions()").fetchall()
    text = " ".join(str(d[0]) for d in definitions if d[0])
    assert KEY.hex() not in text.lower()


def test_pads_are_temporary_and_not_in_the_warehouse_file(tmp_path) -> None:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    install_pseudonym_macro(con, KEY)
    con.close()
    con = duckdb.connect(str(path))
    try:
        tables = con.execute("select table_name from duckdb_tables()").fetchall()
        assert ("pseudonym_pads",) not in tables
    finally:
        con.close()


# --- the opt-out policy (configuration) ----------------------------------------------------


def test_opt_out_policy_defaults_and_overrides() -> None:
    assert DEFAULT_OPT_OUT_POLICY == {
        "direct_care_lists": ("type1",),
        "model_training": ("type1", "ndoo"),
        "analyst_outputs": ("type1", "ndoo"),
    }
    assert load_settings(env={}).opt_out_policy == DEFAULT_OPT_OUT_POLICY
    policy = load_settings(
        env={
            "CASEFINDER_OPT_OUT_DIRECT_CARE_LISTS": "",
            "CASEFINDER_OPT_OUT_MODEL_TRAINING": " type1 , ndoo ",
            "CASEFINDER_OPT_OUT_ANALYST_OUTPUTS": "ndoo",
        }
    ).opt_out_policy
    assert policy == {
        "direct_care_lists": (),
        "model_training": ("type1", "ndoo"),
        "analyst_outputs": ("ndoo",),
    }


def test_opt_out_override_of_one_purpose_leaves_the_others() -> None:
    policy = load_settings(env={"CASEFINDER_OPT_OUT_DIRECT_CARE_LISTS": "type1,ndoo"})
    assert policy.opt_out_policy["direct_care_lists"] == ("type1", "ndoo")
    assert policy.opt_out_policy["model_training"] == ("type1", "ndoo")
    assert policy.opt_out_policy["analyst_outputs"] == ("type1", "ndoo")


@pytest.mark.parametrize("value", ["tpye1", "type1,national", "TYPE1"])
def test_unknown_opt_out_type_is_refused_not_ignored(value: str) -> None:
    with pytest.raises(CasefinderError, match="CASEFINDER_OPT_OUT_DIRECT_CARE_LISTS"):
        load_settings(env={"CASEFINDER_OPT_OUT_DIRECT_CARE_LISTS": value})


# --- where identifiers live after a load and a feature build -------------------------------

IDENTITY_TABLE = ("core", "core_patient_identity")
# Layers that hold rows as landed (the audit trail, never exported) may hold identifiers.
AS_LANDED = {"raw", "quarantine"}


@pytest.fixture(scope="module")
def loaded_warehouse(tmp_path_factory: pytest.TempPathFactory):
    """The small extract set loaded and its features built at the extract date."""
    from datetime import date

    from helpers.extract_set import write_extract_set

    from features.build import build_features
    from foundation.warehouse import connect
    from pipelines.ingest.extracts import discover
    from pipelines.ingest.load import load_extract_set

    root = tmp_path_factory.mktemp("pseudonymised")
    extracts = write_extract_set(root / "extracts")
    con = connect(root / "warehouse.duckdb")
    load_extract_set(con, discover(extracts), KEY)
    build_features(con, [date(2026, 11, 16)])
    yield con, extracts
    con.close()


def _input_identifiers(extracts) -> dict[str, set[str]]:
    import csv

    with (extracts / "gp_patients.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {
        "nhs_number": {r["nhs_number"] for r in rows},
        "name": {r["given_name"] for r in rows} | {r["family_name"] for r in rows},
        "date_of_birth": {r["date_of_birth"] for r in rows},
    }


def test_identifiers_only_in_identity_table(loaded_warehouse) -> None:
    con, extracts = loaded_warehouse
    wanted = _input_identifiers(extracts)
    columns = con.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns"
        " where table_catalog = current_database()"
    ).fetchall()
    checked = set()
    for schema, table, column, dtype in columns:
        if schema in AS_LANDED or (schema, table) == IDENTITY_TABLE:
            continue
        checked.add(f"{schema}.{table}")
        assert column not in {"nhs_number", "given_name", "family_name", "date_of_birth"}, (
            f"{schema}.{table}.{column} is an identifier column outside the identity table"
        )
        if dtype.upper() == "VARCHAR":
            values = sorted(wanted["nhs_number"] | wanted["name"])
            hits = con.execute(
                f'select count(*) from "{schema}"."{table}"'
                f' where "{column}" in (select unnest(?::varchar[]))',
                [values],
            ).fetchone()[0]
            assert hits == 0, f"{schema}.{table}.{column} holds NHS numbers or names"
    assert {"core.core_patients", "core.core_gp_events", "features.feat_patients"} <= checked


def test_identity_table_is_keyed_by_the_same_pseudonym(loaded_warehouse) -> None:
    con, _ = loaded_warehouse
    rows = con.execute("select patient_id, nhs_number from core.core_patient_identity").fetchall()
    assert rows
    for patient_id, nhs in rows:
        assert patient_id == _reference(KEY, nhs)
    ids = {r[0] for r in rows}
    core_ids = {r[0] for r in con.execute("select patient_id from core.core_patients").fetchall()}
    assert core_ids == ids


def test_dates_of_birth_are_coarsened_outside_the_identity_table(loaded_warehouse) -> None:
    con, _ = loaded_warehouse
    rows = con.execute(
        "select distinct extract(day from birth_month) from core.core_patients"
    ).fetchall()
    assert rows == [(1,)], "birth_month must be the first of the month, not the date of birth"


def test_a_different_key_is_refused_by_a_built_warehouse(tmp_path) -> None:
    """A lost key file recreated silently would give every patient a new id (hazard H1)."""
    from datetime import date

    from helpers.extract_set import write_extract_set

    from foundation.warehouse import connect, key_fingerprint
    from pipelines.ingest.extracts import discover
    from pipelines.ingest.load import load_extract_set

    week1 = write_extract_set(tmp_path / "week1")
    week2 = write_extract_set(tmp_path / "week2", extract_date=date(2026, 11, 23))
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        load_extract_set(con, discover(week1), KEY)
        recorded = con.execute(
            "select value from audit.warehouse_meta where key = 'key_fingerprint'"
        ).fetchone()
        assert recorded == (key_fingerprint(KEY),)
        with pytest.raises(CasefinderError, match="not the one this warehouse was built with"):
            load_extract_set(con, discover(week2), KEY[::-1])
        assert con.execute("select count(*) from audit.snapshots").fetchone() == (1,)
        load_extract_set(con, discover(week2), KEY)  # the right key still works
        assert con.execute("select count(*) from audit.snapshots").fetchone() == (2,)
    finally:
        con.close()
