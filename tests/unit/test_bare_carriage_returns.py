"""Finding carriage returns that do not end a line, and marking their lines for the CSV reader."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from foundation.provenance import sha256_file
from pipelines.ingest.extracts import scan_file
from pipelines.ingest.land import (
    BARE_CR_ERROR,
    Landed,
    mark_bare_cr_lines,
    restore_bare_cr_lines,
    unquoted_cr,
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=40).map(
        lambda b: bytes(b"a\r\n,"[x % 4] for x in b)  # only 'a', CR, LF and comma
    ),
    chunk_size=st.integers(min_value=1, max_value=8),
)
def test_scan_finds_a_bare_cr_across_chunk_boundaries(
    tmp_path_factory, data: bytes, chunk_size: int
) -> None:
    path = tmp_path_factory.mktemp("scan") / "f.csv"
    path.write_bytes(data)
    scan = scan_file(path, chunk_size=chunk_size)
    assert scan.bare_carriage_returns == (re.search(rb"\r(?!\n)", data) is not None)
    assert scan.sha256 == sha256_file(path)


def test_marked_lines_keep_their_line_ends_and_originals(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,b\r\n1,x\ry\r\n2,z\r\n3,p\rq\r\n")
    target = tmp_path / "out.csv"
    originals = mark_bare_cr_lines(source, target)
    assert originals == ["1,x\ry", "3,p\rq"]
    out_lines = target.read_bytes().split(b"\r\n")
    assert out_lines[0] == b"a,b" and out_lines[2] == b"2,z"
    assert out_lines[1].endswith(b"0") and out_lines[3].endswith(b"1")
    assert b"\r" not in target.read_bytes().replace(b"\r\n", b"")


def test_a_bare_cr_in_the_header_is_left_to_the_header_checks(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,\rb\n1,2\n")
    target = tmp_path / "out.csv"
    assert mark_bare_cr_lines(source, target) == []
    assert target.read_bytes() == source.read_bytes()


def test_restore_gives_marker_rejects_their_line_and_reason(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,b\n1,x\ry\n2,z\n")
    target = tmp_path / "out.csv"
    originals = mark_bare_cr_lines(source, target)
    marker = target.read_bytes().split(b"\n")[1].decode()
    landed = Landed(
        rows_landed=1,
        csv_rejects=((1, "b", "MISSING COLUMNS", "\n" + marker), (5, "a", "OTHER", "5,q,r")),
    )
    restored = restore_bare_cr_lines(landed, originals, "in.csv")
    assert restored.csv_rejects == (
        (1, "", BARE_CR_ERROR, "1,x\ry"),
        (5, "a", "OTHER", "5,q,r"),
    )
    assert restored.rows_read == landed.rows_read


def test_a_cr_inside_a_quoted_value_is_a_character_not_a_defect(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    # row 1: CR inside quotes; row 2: a quoted value spanning lines, then a CR inside it;
    # row 3: a doubled quote inside a quoted value, then a CR outside any quote.
    source.write_bytes(b'a,b\n1,"x\ry"\n2,"p\nq\rr"\n3,"s""t",u\rv\n')
    originals = mark_bare_cr_lines(source, tmp_path / "out.csv")
    assert originals == ['3,"s""t",u\rv']


def test_unquoted_cr_tracks_quotes_across_lines() -> None:
    assert unquoted_cr(b'1,"open', False) == (False, True)
    assert unquoted_cr(b"still\rinside", True) == (False, True)
    assert unquoted_cr(b'closed",x\ry', True) == (True, False)
    assert unquoted_cr(b'"a""b"\r', False) == (True, False)
