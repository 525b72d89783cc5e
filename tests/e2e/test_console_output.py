"""What a person sees on the console: one line for an expected problem, little noise otherwise.

Each case runs the real command line (`pipelines.cli.main`) in a child process the way a data
engineer would, with Prefect's temporary server (no PREFECT_API_URL: the route where Prefect's
own tracebacks used to reach the console), and reads its stderr: no traceback from casefinder
or Prefect, the `casefinder: error: ...` line last, naming the file or option, exit 2. The
details go to the log file beside the warehouse. A clean `ingest` shows no INFO lines on the
console and `--verbose` brings Prefect's back; commands run from another folder through the
`casefinder` console script write only where they are pointed.

The bad-input cases and the clean ingests run one after another in one child
(`helpers.cli_process.run_many`, stdout and stderr captured per case at the file-descriptor
level): the temporary server and the imports are paid once, and each test reads its case.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers.cli_process import (
    CASEFINDER,
    Invocation,
    Sandbox,
    assert_clean_failure,
    child_env,
    run_many,
)
from helpers.extract_set import write_extract_set

pytestmark = pytest.mark.slow


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    return lines[-1]


def _assert_one_line(result: Invocation, *names: str) -> str:
    line = assert_clean_failure(result, names)
    assert _last_line(result.stderr) == line, result.stderr[-3000:]
    # Nothing of Prefect's failure reports either: the line says it all.
    assert "Finished in state" not in result.stderr, result.stderr[-3000:]
    assert len(result.stderr.splitlines()) <= 3, result.stderr[-3000:]
    return line


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("console")
    good = write_extract_set(root / "good")
    missing = write_extract_set(root / "missing")
    (missing / "gp_patients.csv").unlink()
    folder = root / "a-folder.duckdb"
    folder.mkdir()
    not_duckdb = root / "not-duckdb" / "warehouse.duckdb"
    not_duckdb.parent.mkdir()
    not_duckdb.write_text("this is a spreadsheet export, not a database\n", encoding="utf-8")
    return {
        "root": root,
        "good": good,
        "missing": missing,
        "folder": folder,
        "not_duckdb": not_duckdb,
    }


def _weekly(cases: dict, extracts: Path, warehouse: Path, name: str) -> list:
    """`casefinder run` as a data engineer types it, publishing into a folder of its own."""
    out = cases["root"] / f"out-{name}"
    return ["run", "--extracts", extracts, "--warehouse", warehouse, "--out", out]


@pytest.fixture(scope="module")
def console(cases: dict) -> dict[str, Invocation]:
    """Every bad-input case, then a clean ingest without and with `--verbose`, in this order,
    in one child; the first starts the server."""
    root: Path = cases["root"]
    return run_many(
        [
            (
                "missing",
                _weekly(
                    cases, cases["missing"], root / "wh-missing" / "warehouse.duckdb", "missing"
                ),
            ),
            ("folder", _weekly(cases, cases["good"], cases["folder"], "folder")),
            ("not-duckdb", _weekly(cases, cases["good"], cases["not_duckdb"], "not-duckdb")),
            ("no-extracts", ["run", "--extracts", root / "nowhere", "--out", root / "o1"]),
            ("bad-date", ["run", "--extracts", cases["good"], "--as-of", "23/11/2026"]),
            (
                "ingest-missing",
                [
                    "ingest",
                    "--extracts",
                    cases["missing"],
                    "--warehouse",
                    root / "wh-ingest" / "warehouse.duckdb",
                ],
            ),
            (
                "features-folder",
                [
                    "features",
                    "--warehouse",
                    cases["folder"],
                    "--as-of",
                    "2026-11-23",
                    "--out",
                    root / "f.parquet",
                ],
            ),
            (
                "quiet",
                ["ingest", "--extracts", cases["good"], "--warehouse", root / "q" / "w.duckdb"],
            ),
            (
                "verbose",
                [
                    "ingest",
                    "--verbose",
                    "--extracts",
                    cases["good"],
                    "--warehouse",
                    root / "v" / "w.duckdb",
                ],
            ),
        ],
        Sandbox(root / "many"),
        timeout=1800,
    )


def test_a_missing_gp_patients_file_is_one_line(cases: dict, console: dict) -> None:
    warehouse = cases["root"] / "wh-missing" / "warehouse.duckdb"
    _assert_one_line(console["missing"], "gp_patients.csv")
    log = (warehouse.parent / "logs" / "casefinder.log").read_text(encoding="utf-8")
    assert "gp_patients.csv" in log
    assert "Traceback" in log  # the details are in the log file


def test_a_warehouse_that_is_a_folder_is_one_line(cases: dict, console: dict) -> None:
    _assert_one_line(console["folder"], str(cases["folder"]))


def test_a_warehouse_that_is_not_duckdb_is_one_line(cases: dict, console: dict) -> None:
    _assert_one_line(console["not-duckdb"], str(cases["not_duckdb"]))
    assert cases["not_duckdb"].read_text(encoding="utf-8").startswith("this is a spreadsheet")


def test_other_bad_input_is_one_line_each(cases: dict, console: dict) -> None:
    expected = {
        "no-extracts": "nowhere",
        "bad-date": "23/11/2026",
        "ingest-missing": "gp_patients.csv",
        "features-folder": str(cases["folder"]),
    }
    for name, word in expected.items():
        result = console[name]
        assert "Traceback" not in result.stderr, (name, result.stderr[-3000:])
        assert result.returncode == 2, (name, result.stderr[-3000:])
        assert word in _last_line(result.stderr), (name, result.stderr[-3000:])
        assert _last_line(result.stderr).startswith("casefinder"), (name, result.stderr)


def test_a_clean_ingest_keeps_the_console_quiet_and_verbose_brings_it_back(
    cases: dict, console: dict
) -> None:
    root: Path = cases["root"]
    found = console
    quiet, verbose = found["quiet"], found["verbose"]
    assert quiet.returncode == 0 and verbose.returncode == 0, (quiet.stderr, verbose.stderr)
    assert " INFO " not in quiet.stderr, quiet.stderr[-3000:]
    assert "Finished in state" not in quiet.stderr
    assert len(quiet.stderr.splitlines()) <= 2, quiet.stderr[-3000:]
    assert "snapshot" in quiet.stdout  # the command's own summary
    assert "Finished in state Completed()" in verbose.stderr, verbose.stderr[-3000:]
    log = (root / "q" / "logs" / "casefinder.log").read_text(encoding="utf-8")
    assert "Finished in state Completed()" in log


def test_commands_run_from_another_folder_create_no_data_folder_there(
    cases: dict, tmp_path: Path
) -> None:
    """Without CASEFINDER_DATA_DIR, commands given their paths write only where pointed."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sandbox = Sandbox(tmp_path / "sandbox").make()
    env = {k: v for k, v in child_env(sandbox).items() if k not in {"CASEFINDER_DATA_DIR"}}
    env.pop("PREFECT_HOME")
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    for args in (
        ["synth", "--out", tmp_path / "synth", "--patients", "100"],
        ["ingest", "--extracts", cases["good"], "--warehouse", warehouse],
    ):
        result = subprocess.run(
            [str(CASEFINDER), *map(str, args)],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert list(elsewhere.iterdir()) == []
    assert (warehouse.parent / "prefect").is_dir()  # Prefect's home beside the warehouse
