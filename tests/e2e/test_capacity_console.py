"""End to end: `casefinder run --capacity ... --feedback ...` with a bad capacity file shows
one line naming the file, row and column, exits 2, and shows no traceback.

A malformed file is refused before the run starts; a neighbourhood the warehouse does not
know is found after ingest, inside the flow (the route where Prefect's own failure reports
could reach the console). Nothing is published either way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli_process import Invocation, Sandbox, assert_clean_failure, run_many
from helpers.extract_set import write_extract_set

pytestmark = pytest.mark.slow

CASES = [
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
]


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, prefect_api: dict[str, str]
) -> dict[str, tuple[Invocation, Path, Path]]:
    """Each case's `casefinder run`, one after another in one child on this worker's Prefect
    server (tests/conftest.py; `helpers.cli_process.run_many`: stdout and stderr captured per
    case at the file-descriptor level, the imports paid once)."""
    root = tmp_path_factory.mktemp("capacity-console")
    extracts = write_extract_set(root / "extracts")
    invocations: list[tuple[str, list]] = []
    files: dict[str, tuple[Path, Path]] = {}
    for name, capacity, _expected in CASES:
        path = root / name / "capacity.csv"
        path.parent.mkdir(parents=True)
        path.write_text(capacity, encoding="utf-8")
        feedback = root / name / "returned"
        feedback.mkdir()
        out = root / name / "out"
        invocations.append(
            (
                name,
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
            )
        )
        files[name] = (path, out)
    results = run_many(invocations, Sandbox(root / "sandbox"), env=prefect_api)
    return {name: (results[name], *files[name]) for name in files}


@pytest.mark.parametrize(("name", "capacity", "expected"), CASES)
def test_a_bad_capacity_file_is_one_line_and_publishes_nothing(runs, name, capacity, expected):
    result, path, out = runs[name]
    assert path.read_text(encoding="utf-8") == capacity
    line = assert_clean_failure(result, [str(path), expected])
    last = [x for x in result.stderr.splitlines() if x.strip()][-1]
    assert last == line
    assert not (out / "lists").exists()
