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

from pipelines.errors import CasefinderError
from pipelines.settings import DEFAULT_OPT_OUT_POLICY, load_settings
from pipelines.warehouse import install_pseudonym_macro, patient_id_of

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
