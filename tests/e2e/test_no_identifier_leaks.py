"""Leak tests: after a full weekly run, no identifier from the input outside the lists.

`casefinder synth` writes a small ICS (the model quality gate is off: see
`helpers.cli_process.GATE_OFF_PRELUDE`); its patients' names are replaced by invented ones that
are not English words (so a hit is a leak, not a coincidence); then `casefinder --log-level
DEBUG run` runs as a real process with its own `PREFECT_HOME`. Every NHS number (as written,
with spaces, with hyphens), given and family name (4 characters or more) and date of birth of
the input is searched for in: the run's stdout and stderr, every file under `PREFECT_HOME`
(Prefect's SQLite database, logs, result storage), every file under `--out` except the
direct-care list files, everything beside the warehouse except the warehouse itself and its
key (model files, Great Expectations Data Docs, lock file), and the working directory.

Also: output files and folders are owner-only; every opt-out exclusion is counted; hostile
practice and neighbourhood names in a full run give no script in HTML and no file outside
`--out`; the `run --pseudonymised` publication for analysts holds no identifier and no
patient with an opt-out. Hazard log H4, H8; docs/governance.md.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
import shutil
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import hostile_corpus as hc
import pytest
from helpers.cli_process import (
    Sandbox,
    assert_clean_failure,
    new_paths,
    outside,
    run_casefinder,
    run_casefinder_gate_off,
    tree,
)
from helpers.shared_build import copy_warehouse

from foundation.audit_copy import audit_copy_path
from foundation.warehouse import patient_id_of
from pipelines.ingest.store import store_path

pytestmark = pytest.mark.slow

PATIENTS = 1500
SEED = 11
LIST_FILES = {"proactive_care_list.csv", "proactive_care_list.xlsx", "proactive_care_list.html"}
SYLLABLES = ("zor", "vel", "quin", "bra", "dax", "mir", "tul", "sev", "kro", "yan", "phe", "wix")


@dataclass(frozen=True)
class Run:
    """A finished weekly run and where it wrote."""

    root: Path
    extracts: Path
    warehouse: Path
    out: Path
    sandbox: Sandbox
    stdout: str
    stderr: str
    returncode: int
    written: set[str]


def invented_names(n: int, seed: int) -> list[str]:
    """`n` distinct name-like words that are not English words: Zorvelquin, Braxmirtul, ..."""
    rng = random.Random(seed)
    names: set[str] = set()
    while len(names) < n:
        word = "".join(rng.choice(SYLLABLES) for _ in range(3))
        names.add(word.capitalize() + rng.choice("qxz"))
    return sorted(names)


def rename_patients(extracts: Path, seed: int) -> None:
    """Replace every given and family name in gp_patients.csv by an invented one."""
    path = extracts / "gp_patients.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    names = iter(invented_names(2 * len(rows), seed))
    for row in rows:
        row["given_name"] = next(names)
        row["family_name"] = next(names)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@dataclass(frozen=True)
class Identifiers:
    """The identifiers of the input, normalised: NHS numbers as 10 digits, names, ISO dates."""

    nhs_numbers: frozenset[str]
    names: frozenset[str]
    dates_of_birth: frozenset[str]

    def __len__(self) -> int:
        return len(self.nhs_numbers) + len(self.names) + len(self.dates_of_birth)


# One pass per file: every token that could be an identifier, then a set intersection.
# NHS numbers as written, with spaces or with hyphens, not inside a longer number or a decimal.
NHS_TOKEN = re.compile(rb"(?<![\d.])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")
NAME_TOKEN = re.compile(rb"(?<![A-Za-z])[A-Z][a-z]{3,}(?![a-z])")
DATE_TOKEN = re.compile(rb"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-])")


def identifiers(extracts: Path) -> Identifiers:
    """Every NHS number, name (4+ characters) and date of birth of gp_patients."""
    with (extracts / "gp_patients.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    numbers = {re.sub(r"\D", "", r["nhs_number"]) for r in rows}
    names = {n for r in rows for n in (r["given_name"], r["family_name"]) if len(n) >= 4}
    # Day 01 is skipped: `birth_month` (a coarsened, pseudonymised field) is the first of the
    # month, so a hit there would not be a date of birth.
    dobs = {
        r["date_of_birth"]
        for r in rows
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["date_of_birth"])
        and not r["date_of_birth"].endswith("-01")
    }
    return Identifiers(
        frozenset(n for n in numbers if len(n) == 10), frozenset(names), frozenset(dobs)
    )


def found_in(data: bytes, ids: Identifiers) -> list[str]:
    """The identifiers of `ids` that occur in `data`."""
    numbers = {b"".join(m.groups()).decode() for m in NHS_TOKEN.finditer(data)}
    names = {m.group().decode() for m in NAME_TOKEN.finditer(data)}
    dates = {m.group().decode() for m in DATE_TOKEN.finditer(data)}
    return sorted((numbers & ids.nhs_numbers) | (names & ids.names) | (dates & ids.dates_of_birth))


def readable_bytes(path: Path) -> Iterator[tuple[str, bytes]]:
    """The bytes of a file to search, unpacking zip (xlsx), gzip and Parquet containers."""
    data = path.read_bytes()
    yield str(path), data
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for member in zf.namelist():
                    yield f"{path}!{member}", zf.read(member)
        except zipfile.BadZipFile:
            pass
    elif data[:2] == b"\x1f\x8b":
        try:
            unpacked = gzip.decompress(data)
        except OSError:
            unpacked = b""
        yield f"{path}!gunzip", unpacked
    elif data[:4] == b"PAR1":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        yield f"{path}!parquet", json.dumps(table.to_pylist(), default=str).encode()


def find_leaks(sources: dict[str, bytes], ids: Identifiers) -> dict[str, list[str]]:
    """For each source, the identifiers found in it."""
    found: dict[str, list[str]] = {}
    for where, data in sources.items():
        hits = found_in(data, ids)
        if hits:
            found[where] = hits
    return found


def _describe(leaks: dict[str, list[str]]) -> str:
    # Test data are invented, but keep the habit: say where, and how many, not what.
    return "; ".join(f"{where}: {len(hits)} identifier(s)" for where, hits in leaks.items())


@pytest.fixture(scope="module")
def weekly(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("leaks")
    sandbox = Sandbox(root / "sandbox").make()
    extracts = root / "extracts"
    synth = run_casefinder(
        [
            "synth",
            "--out",
            extracts,
            "--patients",
            PATIENTS,
            "--seed",
            SEED,
            "--truth-dir",
            root / "truth",
        ],
        sandbox,
    )
    assert synth.returncode == 0, synth.stderr[-3000:]
    rename_patients(extracts, SEED)
    warehouse = root / "wh" / "warehouse.duckdb"
    out = root / "out"
    before = tree(root)
    result = run_casefinder_gate_off(
        [
            "--log-level",
            "DEBUG",
            "run",
            "--extracts",
            extracts,
            "--warehouse",
            warehouse,
            "--out",
            out,
        ],
        sandbox,
        timeout=1800,
    )
    written = new_paths(before, tree(root))
    return Run(
        root,
        extracts,
        warehouse,
        out,
        sandbox,
        result.stdout,
        result.stderr,
        result.returncode,
        written,
    )


def test_the_weekly_run_succeeds(weekly: Run) -> None:
    assert "Traceback" not in weekly.stderr
    assert weekly.returncode == 0, weekly.stderr[-3000:]
    assert list((weekly.out / "lists").glob("*/*/proactive_care_list.csv"))


def test_no_identifier_outside_direct_care_lists(weekly: Run) -> None:
    assert weekly.returncode == 0, weekly.stderr[-3000:]
    ids = identifiers(weekly.extracts)
    assert len(ids.nhs_numbers) > PATIENTS / 2 and len(ids.names) > PATIENTS

    sources: dict[str, bytes] = {
        "stdout": weekly.stdout.encode(),
        "stderr": weekly.stderr.encode(),
    }
    scanned_dirs = {
        "prefect home": weekly.sandbox.prefect_home,
        "out": weekly.out,
        "warehouse folder": weekly.warehouse.parent,
        "working directory": weekly.sandbox.cwd,
    }
    skipped = {
        weekly.warehouse,
        weekly.warehouse.with_name(weekly.warehouse.name + ".wal"),
        weekly.warehouse.parent / "casefinder.key",
        # explain's copy of the last publication: identifiable like the warehouse (0600).
        audit_copy_path(weekly.warehouse),
    }
    # `raw`: the extract files as they came, identifiable like the warehouse (0700 / 0600).
    store = store_path(weekly.warehouse)
    assert any(store.iterdir()), "the raw store was not found"
    assert store.stat().st_mode & 0o077 == 0
    skipped |= {p for p in store.rglob("*") if p.stat().st_mode & 0o077 == 0}
    listed = 0
    for label, folder in scanned_dirs.items():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path in skipped:
                continue
            if path.name in LIST_FILES and label == "out":
                listed += 1
                continue
            for where, data in readable_bytes(path):
                sources[f"{label}: {Path(where).relative_to(folder)}"] = data
    assert listed >= 3, "the direct-care lists were not found, so nothing was really tested"
    assert any("prefect" in k for k in sources), "Prefect's records were not found"

    leaks = find_leaks(sources, ids)
    assert leaks == {}, _describe(leaks)


def test_direct_care_lists_do_carry_the_identifiers(weekly: Run) -> None:
    """The scanner finds identifiers where they belong: a guard against a blind search."""
    ids = identifiers(weekly.extracts)
    lists = {str(p): p.read_bytes() for p in weekly.out.glob("lists/*/*/proactive_care_list.csv")}
    found = find_leaks(lists, ids)
    kinds = {k for hits in found.values() for k in hits}
    assert kinds & ids.nhs_numbers and kinds & ids.names and kinds & ids.dates_of_birth
    assert found, "no identifier found in the lists: the search is broken"


def test_output_permissions_are_restrictive(weekly: Run) -> None:
    assert weekly.returncode == 0, weekly.stderr[-3000:]
    loose = []
    for folder in (weekly.out, weekly.warehouse.parent):
        for path in [folder, *folder.rglob("*")]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode & 0o077:
                loose.append(f"{path.relative_to(weekly.root)} {oct(mode)}")
    assert loose == [], f"group/other can read: {loose[:10]}"


def test_nothing_written_outside_the_given_folders(weekly: Run) -> None:
    allowed = [
        str(weekly.out.relative_to(weekly.root)),
        str(weekly.warehouse.parent.relative_to(weekly.root)),
        str(weekly.sandbox.root.relative_to(weekly.root)),  # Prefect home and the cwd
    ]
    assert outside(weekly.written, allowed) == []
    # The working directory gets nothing: no default data/ folder when paths are given.
    assert [p.name for p in weekly.sandbox.cwd.iterdir()] == []


def test_exclusions_are_counted(weekly: Run) -> None:
    assert weekly.returncode == 0, weekly.stderr[-3000:]
    (summary_path,) = weekly.out.glob("reports/*/run_summary.json")
    cohort = json.loads(summary_path.read_text(encoding="utf-8"))["cohort"]
    with (weekly.extracts / "opt_outs.csv").open(encoding="utf-8-sig", newline="") as fh:
        opt_outs = list(csv.DictReader(fh))
    assert any(r["opt_out_type"] == "type1" for r in opt_outs), "synth wrote no type1 opt-outs"
    assert cohort["excluded_opt_out"] >= 0
    listed = sum(
        len(p.read_text(encoding="utf-8").splitlines()) - 1
        for p in weekly.out.glob("lists/*/*/proactive_care_list.csv")
    )
    assert cohort["listed"] == listed
    assert cohort["housebound"] == (
        cohort["listed"] + cohort["excluded_opt_out"] + cohort["excluded_other"]
    )


def test_hostile_names_and_codes_through_a_full_run(
    weekly: Run,
    prefect_api: dict[str, str],
    tmp_path: Path,
    small_publication: dict,
    synthetic_extracts: Callable[[int, int, date], Path],
) -> None:
    """Script in practice names, `../../x` as a neighbourhood code, in a real weekly run (on
    this worker's Prefect server, tests/conftest.py): the week after the session's small
    publication (tests/e2e/conftest.py), on a copy of its warehouse, which holds its model."""
    assert weekly.returncode == 0, weekly.stderr[-3000:]
    extracts = tmp_path / "extracts"
    next_week = date.fromisoformat(small_publication["as_of"]) + timedelta(days=7)
    shutil.copytree(
        synthetic_extracts(small_publication["patients"], small_publication["seed"], next_week),
        extracts,
    )
    path = extracts / "practices.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        practices = list(reader)
    for i, row in enumerate(practices):
        if i % 3 == 0:
            row["practice_name"] = f"{row['practice_name']} {hc.SCRIPT}"
            row["neighbourhood_name"] = f"{row['neighbourhood_name']} {hc.IMG_ONERROR}"
    # Every practice of one neighbourhood moves to a code that climbs out of the folder.
    target = practices[0]["neighbourhood_code"]
    for row in practices:
        if row["neighbourhood_code"] == target:
            row["neighbourhood_code"] = hc.TRAVERSAL_CODES[0]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(practices)
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    copy_warehouse(small_publication["warehouse"], deep / "wh")
    out = deep / "out"
    before = tree(tmp_path)
    result = run_casefinder_gate_off(
        [
            "run",
            "--extracts",
            extracts,
            "--warehouse",
            deep / "wh" / "warehouse.duckdb",
            "--out",
            out,
        ],
        Sandbox(tmp_path / "sandbox"),
        env=prefect_api,
        timeout=1800,
    )
    written = new_paths(before, tree(tmp_path))
    assert outside(written, ["a/b/c/out", "a/b/c/wh", "sandbox"]) == []
    if result.returncode == 2:
        assert_clean_failure(result, ["neighbourhood"])
        return
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    pages = list(out.rglob("*.html"))
    assert pages
    for page in pages:
        injected = hc.unsafe_html(page.read_text(encoding="utf-8"))
        assert injected == [], f"{page.relative_to(out)}: {injected}"
    # The hostile neighbourhood's list, if published, is inside lists/<as_of>/.
    for csv_path in out.rglob("proactive_care_list.csv"):
        assert csv_path.parent.parent.parent == out / "lists"


def test_pseudonymised_publication_has_no_identifiers(
    weekly: Run, prefect_api: dict[str, str], tmp_path: Path
) -> None:
    """Scans what the analysts get: the publication, stdout and stderr (the run on this
    worker's Prefect server)."""
    assert weekly.returncode == 0, weekly.stderr[-3000:]
    shutil.copytree(weekly.warehouse.parent, tmp_path / "wh")
    out = tmp_path / "analyst-out"
    result = run_casefinder_gate_off(
        [
            "run",
            "--pseudonymised",
            "--extracts",
            weekly.extracts,
            "--warehouse",
            tmp_path / "wh" / "warehouse.duckdb",
            "--out",
            out,
        ],
        Sandbox(tmp_path / "sandbox"),
        env=prefect_api,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".csv" for p in files), "the pseudonymised publication is empty"
    sources = {f"{where}": data for path in files for where, data in readable_bytes(path)}
    sources["stdout"], sources["stderr"] = result.stdout.encode(), result.stderr.encode()
    leaks = find_leaks(sources, identifiers(weekly.extracts))
    assert leaks == {}, _describe(leaks)
    # Analysts' folder only: no direct-care list; the analyst_outputs opt-out policy
    # (type1 and ndoo by default) keeps every opted-out patient out of the file.
    assert sorted(p.name for p in out.iterdir()) == ["pseudonymised"]
    (scores_csv,) = out.glob("pseudonymised/*/pseudonymised_scores.csv")
    with scores_csv.open(encoding="utf-8", newline="") as fh:
        published = {row["patient_id"] for row in csv.DictReader(fh)}
    key = bytes.fromhex((tmp_path / "wh" / "casefinder.key").read_text(encoding="ascii").strip())
    with (weekly.extracts / "opt_outs.csv").open(encoding="utf-8-sig", newline="") as fh:
        opted_out = {
            patient_id_of(key, re.sub(r"\D", "", row["nhs_number"])) for row in csv.DictReader(fh)
        }
    assert published and opted_out
    assert not published & opted_out, "an opted-out patient is in the analysts' file"
