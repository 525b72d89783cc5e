"""The weekly run on odd but legal sites (`tests/helpers/odd_sites.py`), as a user runs it.

Every case is one `casefinder run` through the real command line (`pipelines.cli.main`) in a
child process, with its stdout and stderr captured at the file-descriptor level, Prefect's
lines included (`helpers.cli_process.run_many`: one child per group of cases, on this
worker's Prefect server, tests/conftest.py). Two situations:

- `registered`: the site ran last week on an ordinary extract (the base set a week earlier),
  which trained and registered its model; this week's extract is odd. The run must publish
  lists holding exactly the eligible cohort (exit 0), or stop with one clear line (exit 2).
- `fresh`: a new site's first run, no model yet, so `run` trains on what it was given (the
  quality gate as shipped). A site with no housebound patients or no hospital spells is a
  valid site: exit 0, and it says what it could not do.

Never the word "Traceback" on the console. A few cases run in `make test` (each run costs
30-60 s: Great Expectations validates every file); every case alone runs under `heavy`.
Cases that wait for another change are `xfail(strict=True)` naming it, so they fail loudly
once it lands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import odd_sites
from helpers.cli_process import (
    GATE_OFF_STEP,
    GATE_ON_STEP,
    Invocation,
    Sandbox,
    error_lines,
    run_many,
)
from helpers.published import eligible_by_neighbourhood, read_lists

pytestmark = pytest.mark.slow

AS_OF = odd_sites.EXTRACT_DATE.isoformat()
LAST_WEEK = odd_sites.EXTRACT_DATE - timedelta(days=7)

# In `make test`: a site without hospital spells, one with many odd things at once, and the
# foreign EHR (nobody housebound) as a new site. The rest: `heavy`.
QUICK: tuple[tuple[str, str], ...] = (
    ("registered", "header_only_spells"),
    ("registered", "many_at_once"),
    ("fresh", "foreign_ehr"),
)
# A new site's first run trains: the cases issue 16 names as valid new sites.
FRESH_CASES = (
    "no_housebound",
    "header_only_spells",
    "zero_outcomes",
    "foreign_ehr",
    "foreign_ehr_housebound",
)
HEAVY: tuple[tuple[str, str], ...] = tuple(
    key
    for key in [("registered", c.name) for c in odd_sites.CASES]
    + [("fresh", name) for name in FRESH_CASES]
    if key not in QUICK
)
# Nobody is housebound at these sites.
NOBODY_HOUSEBOUND = frozenset({"no_housebound", "foreign_ehr"})

# Cases waiting for another change: `xfail(strict=True)` naming it (none today).
XFAIL: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class SiteRun:
    """One case's run: what the console showed, and where it read and wrote."""

    result: Invocation
    extracts: Path
    warehouse: Path
    out: Path


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The site's ordinary extract of last week and of this week (each case changes this
    week's)."""
    root = tmp_path_factory.mktemp("odd-sites")
    return {
        "root": root,
        "last_week": odd_sites.write_base(root / "extracts" / "_last_week", extract_date=LAST_WEEK),
        "base": odd_sites.write_base(root / "extracts" / "_base"),
    }


def run_sites(
    bases: dict[str, Path], keys: Iterable[tuple[str, str]], group: str, env: dict[str, str]
) -> dict:
    """Build each case's extract set, then in one child: last week's ordinary run, which
    trains and registers the site's model (the quality gate off for it only: a small
    synthetic site cannot show the AUROC gain the gate demands; the gate has its own tests),
    a copy of its warehouse folder per `registered` case, and `casefinder run` on each case
    with the gate as shipped."""
    root = bases["root"] / group
    last_week = root / "last-week"
    steps: list[tuple[str, list | str]] = [
        ("gate off", GATE_OFF_STEP),
        (
            "last week",
            [
                "run",
                "--extracts",
                bases["last_week"],
                "--warehouse",
                last_week / "warehouse.duckdb",
                "--out",
                root / "last-week-out",
            ],
        ),
    ]
    copies, cases = [], []
    runs: dict[tuple[str, str], SiteRun] = {}
    for mode, name in keys:
        extracts = root / "extracts" / name
        if not extracts.exists():
            odd_sites.build(name, bases["base"], extracts)
        if mode == "registered":  # last week's warehouse, key and model
            copies.append((str(last_week), str(root / mode / name / "wh")))
        warehouse = root / mode / name / "wh" / "warehouse.duckdb"
        out = root / mode / name / "out"
        args = ["run", "--extracts", extracts, "--warehouse", warehouse, "--out", out]
        cases.append((f"{mode}:{name}", args))
        runs[(mode, name)] = SiteRun(None, extracts, warehouse, out)  # type: ignore[arg-type]
    steps.append(("copy", f"import shutil\nfor a, b in {copies!r}:\n    shutil.copytree(a, b)\n"))
    steps.append(("gate on", GATE_ON_STEP))
    results = run_many(steps + cases, Sandbox(root / "sandbox"), env=env)
    assert results["last week"].returncode == 0, results["last week"].stderr[-3000:]
    return {
        key: SiteRun(results[f"{key[0]}:{key[1]}"], r.extracts, r.warehouse, r.out)
        for key, r in runs.items()
    }


@pytest.fixture(scope="module")
def quick_runs(
    bases: dict[str, Path], prefect_api: dict[str, str]
) -> dict[tuple[str, str], SiteRun]:
    return run_sites(bases, QUICK, "quick", prefect_api)


@pytest.fixture(scope="module")
def heavy_runs(
    bases: dict[str, Path], prefect_api: dict[str, str]
) -> dict[tuple[str, str], SiteRun]:
    return run_sites(bases, HEAVY, "heavy", prefect_api)


def _nhs(extracts: Path, name: str, where) -> set[str]:
    _header, rows = odd_sites.read_rows(extracts, name)
    return {r["nhs_number"].replace(" ", "").replace("-", "") for r in rows if where(r)}


def check_site(run: SiteRun, name: str) -> None:
    """What a user must see for case `name`."""
    stderr = run.result.stderr
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "Traceback" not in run.result.stdout, run.result.stdout[-3000:]
    if odd_sites.BY_NAME[name].expect == "stop":
        assert run.result.returncode == 2, stderr[-3000:]
        lines = error_lines(stderr)
        assert len(lines) == 1 and stderr.strip().splitlines()[-1] == lines[0], stderr[-3000:]
        assert odd_sites.BY_NAME[name].file in lines[0]
        assert not (run.out / "lists").exists()
        return
    assert run.result.returncode == 0, stderr[-3000:]
    lists = read_lists(run.out, AS_OF)
    listed = {hood: {r["nhs_number"] for r in rows} for hood, rows in lists.items() if rows}
    assert listed == eligible_by_neighbourhood(run.warehouse, AS_OF)
    everyone = {n for nhs in listed.values() for n in nhs}
    for rows in lists.values():
        assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    # Independently of the warehouse: the dead (by the GP record or a hospital spell
    # discharged to 79), the deregistered and type 1 opt-outs never appear, and everyone
    # listed has a housebound or residence record in the extracts.
    never = (
        _nhs(
            run.extracts,
            "gp_patients",
            lambda r: r["date_of_death"].strip() or r["registration_end_date"].strip(),
        )
        | _nhs(
            run.extracts,
            "acute_spells",
            lambda r: (
                r["discharge_destination"].strip() == "79"
                and "" < r["discharge_date"].strip() <= AS_OF
            ),
        )
        | _nhs(run.extracts, "opt_outs", lambda r: r["opt_out_type"].strip() == "type1")
    )
    assert not everyone & never
    recorded = _nhs(
        run.extracts, "gp_events", lambda r: r["snomed_code"] in odd_sites.HOUSEBOUND_CODES
    ) | _nhs(run.extracts, "ae_attendances", lambda r: r["accommodation_status_snomed"].strip())
    assert everyone <= recorded
    summary = json.loads((run.out / "reports" / AS_OF / "run_summary.json").read_text())
    assert summary["cohort"]["listed"] == len(everyone)
    if name in NOBODY_HOUSEBOUND:
        # Nobody to list, and every page says so.
        assert not everyone and summary["cohort"]["housebound"] == 0
        assert "0 housebound" in run.result.stdout
        for folder in (run.out / "lists" / AS_OF).iterdir():
            page = (folder / "proactive_care_list.html").read_text(encoding="utf-8")
            assert "No eligible housebound patients" in page
    else:
        assert everyone, "an ordinary site's housebound patients were not listed"


def _params(keys: Iterable[tuple[str, str]]) -> list:
    return [
        pytest.param(
            mode,
            name,
            id=f"{mode}-{name}",
            marks=[pytest.mark.xfail(strict=True, reason=XFAIL[(mode, name)])]
            if (mode, name) in XFAIL
            else [],
        )
        for mode, name in keys
    ]


@pytest.mark.parametrize(("mode", "name"), _params(QUICK))
def test_odd_site_publishes_the_eligible_cohort_or_stops_in_one_line(quick_runs, mode, name):
    check_site(quick_runs[(mode, name)], name)


@pytest.mark.heavy
@pytest.mark.parametrize(("mode", "name"), _params(HEAVY))
def test_every_odd_site_alone(heavy_runs, mode, name):
    check_site(heavy_runs[(mode, name)], name)
