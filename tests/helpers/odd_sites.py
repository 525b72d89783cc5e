"""Odd but legal sites: extract sets shaped as real sites bring them, not as casefinder writes.

Each case starts from one small clean synthetic set (`synthetic.generate`, no defects) and
changes one thing a real site could bring: no housebound patients, no hospital spells, no
outcomes, one neighbourhood, a practice with no patients, no usable diagnosis, no numeric
observations, patients with no events, every row twice, dates a century away, and a foreign
EHR converted to the contract (no housebound codes, no usable ICD-10, no numeric values; and
a variant with housebound codes). Every set stays within EXTRACTS.md 1.1, so each is a site
casefinder must run: `lists` (exit 0, the lists hold exactly the eligible cohort), except the
one that breaks the contract on purpose (`truncated_spells`: a header-only file whose control
total says rows), which must `stop` (exit 2, one clear line naming the file).

Run `python -m helpers.odd_sites DIR` from `tests/` to write every case into `DIR/<case>/`.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from helpers.extract_set import NHS

REPO_ROOT = Path(__file__).resolve().parents[2]
SNOMED_MISC = REPO_ROOT / "features" / "codelists" / "snomed_misc.csv"

EXTRACT_DATE = date(2026, 11, 16)
BASE_PATIENTS = 1500
BASE_SEED = 11

# Admission methods of EXTRACTS.md: the emergency ones, and an elective one to replace them.
EMERGENCY_METHODS = frozenset({"21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28"})
ELECTIVE_METHOD = "11"
# An ICD-10 code that says nothing (R69: unknown and unspecified causes of morbidity).
UNUSABLE_DIAGNOSIS = "R69X"


def write_base(
    dir: Path,
    patients: int = BASE_PATIENTS,
    seed: int = BASE_SEED,
    extract_date: date = EXTRACT_DATE,
) -> Path:
    """The clean synthetic set every case starts from (no defects, CSV, with a manifest).

    The same `patients` and `seed` with an `extract_date` a week earlier give the same site's
    previous week."""
    import synthetic

    synthetic.generate(
        dir, patients=patients, seed=seed, extract_date=extract_date, fmt="csv", defect_rate=0
    )
    return dir


# --- reading and writing the CSV files of a set -------------------------------------------


def read_rows(dir: Path, name: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of `name.csv` in `dir` (header names as written)."""
    with (dir / f"{name}.csv").open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def write_rows(dir: Path, name: str, header: list[str], rows: list[dict[str, str]]) -> None:
    """Rewrite `name.csv` and keep its control total in `manifest.json` in step."""
    with (dir / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    manifest_path = dir / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest.setdefault("files", {})[name] = {"rows": len(rows)}
        manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _edit(dir: Path, name: str, change: Callable[[list[dict[str, str]]], list[dict[str, str]]]):
    header, rows = read_rows(dir, name)
    write_rows(dir, name, header, change(rows))


def codes(*categories: str) -> frozenset[str]:
    """SNOMED CT codes of the given `snomed_misc.csv` categories."""
    with SNOMED_MISC.open(newline="", encoding="utf-8") as fh:
        return frozenset(r["code"] for r in csv.DictReader(fh) if r["category"] in categories)


HOUSEBOUND_CODES = codes("housebound", "care_home_residence")


def _diag_columns(header: list[str]) -> list[str]:
    return [c for c in header if c.strip().lower().startswith("diag_")]


# --- the changes ---------------------------------------------------------------------------


def no_housebound(dir: Path) -> None:
    """No housebound or care-home code anywhere: a site that does not record them."""

    def no_residence(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        for r in rows:
            r["accommodation_status_snomed"] = ""
        return rows

    _edit(
        dir, "gp_events", lambda rows: [r for r in rows if r["snomed_code"] not in HOUSEBOUND_CODES]
    )
    _edit(dir, "ae_attendances", no_residence)


def header_only_spells(dir: Path) -> None:
    """acute_spells.csv holds its header and no rows (a site without hospital data)."""
    header, _ = read_rows(dir, "acute_spells")
    write_rows(dir, "acute_spells", header, [])


def truncated_spells(dir: Path) -> None:
    """acute_spells.csv holds its header only, but the manifest's control total says rows."""
    header, rows = read_rows(dir, "acute_spells")
    write_rows(dir, "acute_spells", header, [])
    manifest = json.loads((dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["acute_spells"] = {"rows": len(rows)}
    (dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def zero_outcomes(dir: Path) -> None:
    """No emergency admission and no death, ever: nothing for a model to learn from."""

    def elective(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        for r in rows:
            if r["admission_method"] in EMERGENCY_METHODS:
                r["admission_method"] = ELECTIVE_METHOD
            if r.get("discharge_destination") == "79":
                r["discharge_destination"] = "19"
        return rows

    def alive(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        for r in rows:
            r["date_of_death"] = ""
        return rows

    _edit(dir, "acute_spells", elective)
    _edit(dir, "gp_patients", alive)


def one_neighbourhood(dir: Path) -> None:
    """Every practice in one neighbourhood."""

    def merge(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        for r in rows:
            r["neighbourhood_code"], r["neighbourhood_name"] = "NB-ALL", "Whole site"
        return rows

    _edit(dir, "practices", merge)


EMPTY_PRACTICE = "Y00001"
EMPTY_NEIGHBOURHOOD = "NB-EMPTY"


def empty_practice(dir: Path) -> None:
    """A practice, alone in its neighbourhood, with no registered patients."""

    def add(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        row = dict.fromkeys(rows[0], "")
        row.update(
            practice_code=EMPTY_PRACTICE,
            practice_name="Closed Lane Surgery",
            pcn_code="U99999",
            pcn_name="Closed PCN",
            neighbourhood_code=EMPTY_NEIGHBOURHOOD,
            neighbourhood_name="Nobody here",
        )
        return [*rows, row]

    _edit(dir, "practices", add)


def no_usable_diagnosis(dir: Path) -> None:
    """Every spell's only diagnosis is R69X (unknown and unspecified causes)."""
    header, rows = read_rows(dir, "acute_spells")
    diags = _diag_columns(header)
    for r in rows:
        for i, col in enumerate(diags):
            r[col] = UNUSABLE_DIAGNOSIS if i == 0 else ""
    write_rows(dir, "acute_spells", header, rows)


def no_numeric(dir: Path) -> None:
    """No numeric observation at all (numeric_value always empty)."""

    def blank(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        for r in rows:
            r["numeric_value"] = ""
        return rows

    _edit(dir, "gp_events", blank)


def patients_without_events(dir: Path) -> None:
    """Eight old patients registered at the first practice with no record anywhere else."""
    header, rows = read_rows(dir, "gp_patients")
    template = rows[0]
    for i, nhs in enumerate(NHS):
        row = dict.fromkeys(header, "")
        row.update(
            nhs_number=nhs,
            given_name="Quiet",
            family_name="Patient",
            date_of_birth=f"19{30 + i}-01-15",
            sex="2" if i % 2 else "1",
            practice_code=template["practice_code"],
            registration_start_date="2001-04-01",
        )
        rows.append(row)
    write_rows(dir, "gp_patients", header, rows)


def duplicated_rows(dir: Path) -> None:
    """Every data row of every file written twice (an extract appended to itself)."""
    for path in sorted(dir.glob("*.csv")):
        header, rows = read_rows(dir, path.stem)
        write_rows(dir, path.stem, header, [r for r in rows for _ in (0, 1)])


def century_dates(dir: Path) -> None:
    """Dates a century away: patients born in 1915, events in 1926 and 2126, a spell in 1926."""
    header, patients = read_rows(dir, "gp_patients")
    for r in patients[:5]:
        r["date_of_birth"] = "1915-06-01"
        r["registration_start_date"] = "1926-01-01"
    write_rows(dir, "gp_patients", header, patients)
    people = [r["nhs_number"] for r in patients[:5]]

    def events(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        extra = []
        for nhs in people:
            for day in ("1926-03-01", "2126-03-01"):
                extra.append(
                    {
                        "nhs_number": nhs,
                        "event_date": day,
                        "snomed_code": "1912002",
                        "numeric_value": "",
                    }
                )
        return rows + [{**dict.fromkeys(rows[0], ""), **e} for e in extra]

    def spells(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        first = dict(rows[0])
        first.update(
            spell_id="CENTURY-1",
            nhs_number=people[0],
            admission_date="1926-02-01",
            discharge_date="1926-02-20",
        )
        future = dict(first, spell_id="CENTURY-2", admission_date="2126-02-01", discharge_date="")
        return [*rows, first, future]

    _edit(dir, "gp_events", events)
    _edit(dir, "acute_spells", spells)


def foreign_ehr(dir: Path) -> None:
    """A public synthetic EHR converted to the contract: no housebound codes, no usable
    ICD-10 on spells, no numeric observations."""
    no_housebound(dir)
    no_usable_diagnosis(dir)
    no_numeric(dir)


def foreign_ehr_housebound(dir: Path) -> None:
    """The foreign EHR with its housebound codes kept."""
    no_usable_diagnosis(dir)
    no_numeric(dir)


def many_at_once(dir: Path) -> None:
    """Several odd things that leave the cohort alone, in one site: a practice with no
    patients, no usable diagnosis, no numeric observations, patients without events, every
    row twice, dates a century away."""
    for change in (
        empty_practice,
        no_usable_diagnosis,
        no_numeric,
        patients_without_events,
        century_dates,
        duplicated_rows,
    ):
        change(dir)


@dataclass(frozen=True)
class OddSite:
    """One odd site: how to make it from the base set, and what a run must do with it."""

    name: str
    build: Callable[[Path], None]
    expect: str = "lists"  # lists: exit 0 with exactly the eligible cohort | stop: exit 2
    file: str = ""  # for `stop`: the file the one error line names

    @property
    def description(self) -> str:
        return (self.build.__doc__ or "").strip().splitlines()[0]


CASES: tuple[OddSite, ...] = (
    OddSite("no_housebound", no_housebound),
    OddSite("header_only_spells", header_only_spells),
    OddSite("truncated_spells", truncated_spells, expect="stop", file="acute_spells.csv"),
    OddSite("zero_outcomes", zero_outcomes),
    OddSite("one_neighbourhood", one_neighbourhood),
    OddSite("empty_practice", empty_practice),
    OddSite("no_usable_diagnosis", no_usable_diagnosis),
    OddSite("no_numeric", no_numeric),
    OddSite("patients_without_events", patients_without_events),
    OddSite("duplicated_rows", duplicated_rows),
    OddSite("century_dates", century_dates),
    OddSite("foreign_ehr", foreign_ehr),
    OddSite("foreign_ehr_housebound", foreign_ehr_housebound),
    OddSite("many_at_once", many_at_once),
)
BY_NAME = {case.name: case for case in CASES}


def build(name: str, base: Path, dir: Path) -> Path:
    """Copy the base set `base` to `dir` (replaced) and apply case `name`; return `dir`."""
    if dir.exists():
        shutil.rmtree(dir)
    shutil.copytree(base, dir)
    BY_NAME[name].build(dir)
    return dir


def main(argv: list[str]) -> int:
    """Write the base set and every case into `argv[0]/`."""
    if len(argv) != 1:
        sys.stderr.write("usage: python -m helpers.odd_sites DIR\n")
        return 2
    root = Path(argv[0])
    base = write_base(root / "_base")
    for case in CASES:
        build(case.name, base, root / case.name)
        sys.stdout.write(f"{case.name}: {case.description} -> expect {case.expect}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
