"""End to end: `casefinder run --capacity ... --feedback ...` with a bad capacity file shows
one line naming the file, row and column, exits 2, and shows no traceback.

A malformed file is refused before the run starts; a neighbourhood the warehouse does not
know is found after ingest, inside the flow (the route where Prefect's own failure reports
could reach the console). Nothing is published either way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli_process import Sandbox, assert_clean_failure, run_casefinder
from helpers.extract_set import write_extract_set

pytestmark = pytest.mark.slow


def _run(root: Path, name: str, capacity: str) -> tuple[object, Path, Path]:
    extracts = write_extract_set(root / "extracts")
    path = root / name / "capacity.csv"
    path.parent.mkdir(parents=True)
    path.write_text(capacity, encoding="utf-8")
    feedback = root / name / "returned"
    feedback.mkdir()
    out = root / name / "out"
    result = run_casefinder(
        [
            "run",
            "--extracts",
            extracts,
            "--warehouse",
            root / name / "wh" / "warehouse.duckdb",
            "--out",
            out,
            "--capacity",
            path,
            "--feedback",
            feedback,
        ],
        Sandbox(root / name / "sandbox"),
    )
    return result, path, out


@pytest.mark.parametrize(
    ("name", "capacity", "expected"),
    [
        (
            "negative",
            "neighbourhood_code,weekly_reviews\nNB01,10\nNB02,-2\n",
            "row 3, column weekly_reviews: '-2' is not a whole number of reviews (0 or more)",
        ),
        (
            "duplicate",
            "neighbourhood_code,weekly_reviews\nNB01,10\nNB01,5\n",
            "row 3, column neighbourhood_code: 'NB01' is already given in row 2",
        ),
        (
            "unknown",
            "neighbourhood_code,weekly_reviews\nNB01,10\nNB99,5\n",
            "row 3, column neighbourhood_code: 'NB99' is not a neighbourhood in the warehouse",
        ),
    ],
)
def test_a_bad_capacity_file_is_one_line_and_publishes_nothing(tmp_path, name, capacity, expected):
    result, path, out = _run(tmp_path, name, capacity)
    line = assert_clean_failure(result, [str(path), expected])
    last = [x for x in result.stderr.splitlines() if x.strip()][-1]
    assert last == line
    assert not (out / "lists").exists()
