"""The parsing macros' fast paths return exactly what their old definitions returned.

`helpers.macros_before` keeps the definitions of `sql/macros` before the fast paths; each
test evaluates old and new side by side (`before.<macro>` and `raw.<macro>`) on adversarial
text (Unicode space separators, tabs, signs, leading zeros, impossible dates, long values)
and lists every value on which any macro differs.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest
from helpers.macros_before import BEFORE, install_before
from hypothesis import given, settings
from hypothesis import strategies as st

from foundation.warehouse import ensure_layers
from pipelines.ingest.rules import install_macros

# Characters an extract might hold, weighted to the ones the fast paths reason about:
# every space separator DuckDB's trim() removes, whitespace it keeps, signs, separators.
SPACES = " \u00a0\u1680\u2000\u2007\u200a\u202f\u205f\u3000"
KEPT = "\t\n\r\x0b\x0c\x00\x7f\u0085\u200b\ufeff"
ALPHABET = [*"0123456789", *SPACES, *KEPT, *"-+./:T_eExbB()AaZzé€", "\U0001f600"]
TEXT = st.text(alphabet=st.sampled_from(ALPHABET), max_size=24)
PADDING = st.text(alphabet=st.sampled_from([*SPACES, *KEPT]), max_size=3)


def _dressed(core: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A plausible value with space or control characters around it."""
    return st.builds(lambda a, v, b: a + v + b, PADDING, core, PADDING)


def _mutated(text: str, position: int, character: str) -> str:
    at = position % (len(text) + 1)
    return text[:at] + character + text[at + 1 :]


DATES = st.dates(min_value=date(1, 1, 1)).map(date.isoformat)
DATE_LIKE = st.one_of(
    DATES,
    st.builds(_mutated, DATES, st.integers(0, 10), st.sampled_from(ALPHABET)),
    st.builds(
        lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}",
        st.integers(0, 9999),
        st.integers(0, 99),
        st.integers(0, 99),
    ),
    st.builds(lambda d, t: f"{d}{t}", DATES, st.sampled_from([" 10:30", "T10:30:05.123456", "T"])),
)
NHS_LIKE = st.one_of(
    st.text(alphabet="0123456789", min_size=9, max_size=11),
    st.builds(
        _mutated,
        st.text(alphabet="0123456789", min_size=10, max_size=10),
        st.integers(0, 10),
        st.sampled_from(ALPHABET),
    ),
)
VALUES = st.lists(
    st.one_of(
        st.none(),
        TEXT,
        _dressed(DATE_LIKE),
        _dressed(NHS_LIKE),
        _dressed(st.sampled_from(["true", "FALSE", "True ", "-1.5", "+.5", "1.", "007"])),
    ),
    min_size=1,
    max_size=40,
)


_CON = duckdb.connect()
ensure_layers(_CON)
install_macros(_CON)
install_before(_CON)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return _CON.cursor()


def differences(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """(macro, value) for every value of `relation(v)` on which a macro's old and new differ."""
    checks = " union all ".join(
        f"select '{name}' as macro, v from values_ where before.{name}(v) is distinct from "
        f"raw.{name}(v)"
        for name in BEFORE
    )
    rows = con.execute(f"with values_ as ({relation}) {checks}").fetchall()
    return [(macro, repr(value)) for macro, value in rows]


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_every_macro_agrees_with_its_old_definition_on_adversarial_text(values: list) -> None:
    cursor = _CON.cursor()
    cursor.execute(
        "create or replace temp table adversarial as select unnest($v) as v", {"v": values}
    )
    assert differences(cursor, "select v from adversarial") == []


def test_every_day_of_the_calendar_parses_as_before(con: duckdb.DuckDBPyConnection) -> None:
    first, last = date(1, 1, 1), date(9999, 12, 31)
    days = (last - first).days
    relation = (
        f"select strftime(date '{first}' + cast(i as integer), '%Y-%m-%d') as v "
        f"from range({days + 1}) t(i)"
    )
    assert differences(con, relation) == []
    parsed = con.execute(f"select count(raw.parse_date(v)) from ({relation})").fetchone()[0]
    assert parsed == days + 1
    assert first + timedelta(days=days) == last


def test_every_month_and_day_number_parses_as_before(con: duckdb.DuckDBPyConnection) -> None:
    # Impossible dates (2023-02-30, month 13, day 00) and the year 0000 included.
    relation = (
        "select lpad(y::varchar, 4, '0') || '-' || lpad(m::varchar, 2, '0') || '-' "
        "|| lpad(d::varchar, 2, '0') as v from (values (0), (1), (99), (1582), (1899), "
        "(1900), (2000), (2023), (2024), (2100), (9999)) y(y), range(100) m(m), range(100) d(d)"
    )
    assert differences(con, relation) == []


def _characters_table(con: duckdb.DuckDBPyConnection, name: str, characters: list[str]) -> None:
    """Temp table `name(c)` of single characters (a NUL byte cannot travel inside SQL text)."""
    con.execute(f"create or replace temp table {name} as select unnest($c) as c", {"c": characters})


def test_one_or_two_odd_characters_in_a_date_parse_as_before(
    con: duckdb.DuckDBPyConnection,
) -> None:
    odd = ["1", " ", "\t", "\u00a0", "\u3000", "-", "+", "/", "\\", ".", "T", "x", "é", "\x00"]
    _characters_table(con, "odd", odd)
    relation = (
        "with t as (select '2024-02-29' as v union all select '1999-12-31'), "
        "one as (select left(v, i) || c || substr(v, i + 2) as v "
        "from t, range(10) r(i), odd), "
        "two as (select left(v, j) || c || substr(v, j + 2) as v "
        "from one, range(10) r(j), odd) "
        "select v from one union all select v from two "
        "union all select ' ' || v from one union all select v || ' ' from one"
    )
    assert differences(con, relation) == []


def test_values_with_each_space_separator_trim_as_before(con: duckdb.DuckDBPyConnection) -> None:
    characters = [*SPACES, *KEPT, "a", "é", "\U0001f600", "-"]
    _characters_table(con, "chars", characters)
    relation = (
        "select a.c || b.c || '9434765919' || c.c as v from chars a, chars b, chars c "
        "union all select a.c || v.v || b.c from chars a, chars b, (values ('2023-05-01'), "
        "('true'), ('1.5'), ('2023-05-01T10:00'), (''), ('1 2-3')) v(v)"
    )
    assert differences(con, relation) == []


def test_a_long_value_is_handled_as_before(con: duckdb.DuckDBPyConnection) -> None:
    relation = (
        "select repeat('9', 100000) as v union all select ' ' || repeat('1', 5000) || ' ' "
        "union all select repeat(' ', 1000) union all select repeat('\u3000', 100)"
    )
    assert differences(con, relation) == []
