"""Property-based: random rows and bytes never raise a traceback and never lose a row."""

from __future__ import annotations

import csv
import tempfile
from datetime import date
from pathlib import Path

import duckdb
from helpers.extract_set import write_extract_set
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundation.contract import FILES, nhs_number_is_valid
from foundation.errors import ExtractError
from foundation.warehouse import ensure_layers
from pipelines.ingest.extracts import discover
from pipelines.ingest.load import LoadResult, load_extract_set
from pipelines.ingest.rules import install_macros

KEY = b"k" * 32
EVENT_COLUMNS = FILES["gp_events"].column_names
# Text a hostile or careless extract might hold: separators, quotes, line breaks, unicode.
TEXT = st.text(
    alphabet=st.sampled_from([*"0123456789 -,;\"'\n\r\tAZaz.é€\u2028/:T", "\x00"]),
    max_size=20,
)
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_macros = duckdb.connect()
ensure_layers(_macros)
install_macros(_macros)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 -O", max_size=14))
def test_sql_nhs_check_agrees_with_the_contract(value: str) -> None:
    sql = _macros.execute("select raw.nhs_is_valid(?)", [value]).fetchone()[0]
    assert sql == nhs_number_is_valid(value.strip())


def _python_date(value: str) -> date | None:
    """The contract's date rule in Python: exactly YYYY-MM-DD (after trimming), a real day."""
    text = value.strip()
    digits = text[:4] + text[5:7] + text[8:]
    if len(text) != 10 or text[4] + text[7] != "--" or not (digits.isascii() and digits.isdigit()):
        return None
    try:
        return date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        return None


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.dates().map(date.isoformat),
        st.text(alphabet="0123456789-+ T:/.a", max_size=12),
        st.dates().map(lambda d: f" {d.isoformat()} "),
        st.dates().map(lambda d: f"{d.year}-{d.month}-{d.day}"),
    )
)
def test_sql_date_parsing_agrees_with_the_contract(value: str) -> None:
    sql = _macros.execute("select raw.parse_date(?)", [value]).fetchone()[0]
    assert sql == _python_date(value)


@SETTINGS
@given(st.lists(st.fixed_dictionaries({c: TEXT for c in EVENT_COLUMNS}), min_size=1, max_size=8))
def test_random_event_rows_are_loaded_or_quarantined_never_lost(rows: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = write_extract_set(Path(tmp) / "set", manifest=False)
        with (directory / "gp_events.csv").open("w", encoding="utf-8", newline="") as fh:
            # CRLF: the writer then quotes values holding a bare CR or LF (RFC 4180).
            writer = csv.DictWriter(fh, fieldnames=EVENT_COLUMNS, lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(rows)
        try:
            con, result = _load_with_as_of(directory)
        except ExtractError as exc:
            assert "\n" not in str(exc)
            return
        counts = result.files["gp_events"]
        assert counts.read == len(rows)
        assert counts.read == counts.loaded + counts.quarantined + counts.duplicates
        core = con.execute("select count(*) from core.core_gp_events").fetchone()[0]
        assert core == counts.loaded


def _load_with_as_of(directory: Path) -> tuple[duckdb.DuckDBPyConnection, LoadResult]:
    con = duckdb.connect()
    ensure_layers(con)
    return con, load_extract_set(con, discover(directory, date(2026, 11, 16)), KEY)


@SETTINGS
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_give_a_load_or_one_clear_error(payload: bytes, with_header: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = write_extract_set(Path(tmp) / "set", manifest=False)
        header = (",".join(EVENT_COLUMNS) + "\n").encode() if with_header else b""
        (directory / "gp_events.csv").write_bytes(header + payload)
        try:
            _con, result = _load_with_as_of(directory)
        except ExtractError as exc:
            message = str(exc)
            assert message.startswith("gp_events.csv")
            assert "\n" not in message
            return
        counts = result.files["gp_events"]
        assert counts.read == counts.loaded + counts.quarantined + counts.duplicates
        # Zero rows only for a header with nothing after it: present and valid (EXTRACTS 1.1).
        assert counts.read >= 1 or (with_header and not payload.strip())
