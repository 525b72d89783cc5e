"""The hostile input corpus: extract sets that are broken or malicious in one way each.

Built at test time into temporary folders (no odd bytes are committed). Each case starts from
the small valid set of `tests.helpers.extract_set` and breaks one thing. `expect` says what
casefinder must do with it:

- `loads`: exit 0 and no more quarantined rows than the clean set (the input is legal).
- `quarantine`: exit 0, with quarantine rows for `file` that carry a reason.
- `quarantine_or_error`: either of the above for `file`, or exit 2 with one line naming it.
- `error`: exit 2 with one line on stderr naming `file`.
- `handled`: any of the above at ingest; the harm is downstream, so the full-run test
  checks it there (a neighbourhood code is only dangerous when it becomes a folder name).

Whatever the case: never a traceback, never a file outside the folders given on the command
line, never script in published HTML. Run `python tests/hostile_corpus.py DIR` to write every
case into `DIR/<case>/` for a look by hand. (Tests import it as `hostile_corpus`: pytest puts
`tests/` on the path through `tests/conftest.py`.)
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers.extract_set import (
    DEFAULT_ROWS,
    NHS,
    write_extract_set,
)

SCRIPT = "<script>alert('casefinder-xss')</script>"
IMG_ONERROR = '<img src=x onerror="alert(1)">'
# Markers searched for in published HTML: none may appear unescaped.
HTML_MARKERS = ("<script>alert", "<img src=x", "<b onmouseover")


def unsafe_html(text: str) -> list[str]:
    """What the corpus's script did to a page: elements, handlers or scripts it injected.

    Parses the page (escaped text such as `&lt;img src=x onerror=...&gt;` is harmless and
    is not reported); returns descriptions of injected markup.
    """
    from html.parser import HTMLParser

    found: list[str] = [m for m in HTML_MARKERS if m in text]

    class Finder(HTMLParser):
        in_script = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.in_script = tag == "script"
            for name, value in attrs:
                if name in ("onerror", "onmouseover") or (tag == "img" and value == "x"):
                    found.append(f"<{tag} {name}={value!r}>")

        def handle_endtag(self, tag: str) -> None:
            self.in_script = False

        def handle_data(self, data: str) -> None:
            if self.in_script and ("casefinder-xss" in data or "alert(1)" in data):
                found.append("injected script text")

    Finder().feed(text)
    return found


SQL_DROP = "1'; drop table core.core_patients; --"
LONG = 100_000

# Neighbourhood codes that try to leave the output folder.
TRAVERSAL_CODES = ("../../x", "../../../../../../../../x", "..\\..\\x")


@dataclass(frozen=True)
class HostileCase:
    """One broken extract set."""

    name: str
    description: str
    file: str  # the extract file (or manifest.json) that is broken
    expect: str  # loads | quarantine | quarantine_or_error | error | handled
    build: Callable[[Path], None]


def _rows(name: str) -> list[dict]:
    return [dict(r) for r in DEFAULT_ROWS[name]]


def _csv_text(rows: list[dict], columns: list[str] | None = None, delimiter: str = ",") -> str:
    columns = columns or list(rows[0])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", delimiter=delimiter)
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue()


def _set_control_total(dir: Path, name: str, rows: int | None) -> None:
    """Keep the manifest's control total in step with a file we rewrote (None drops it)."""
    path = dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if rows is None:
        manifest["files"].pop(name, None)
    else:
        manifest["files"][name] = {"rows": rows}
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _with(dir: Path, name: str, rows: list[dict]) -> None:
    write_extract_set(dir, overrides={name: rows})


def _event(nhs: str, date: str, code: str, value: str = "") -> dict:
    return {"nhs_number": nhs, "event_date": date, "snomed_code": code, "numeric_value": value}


# --- the cases ---------------------------------------------------------------------------


def _wrong_delimiter(dir: Path) -> None:
    write_extract_set(dir)
    rows = _rows("gp_events")
    (dir / "gp_events.csv").write_text(_csv_text(rows, delimiter=";"), encoding="utf-8")


def _tab_delimiter(dir: Path) -> None:
    write_extract_set(dir)
    rows = _rows("practices")
    (dir / "practices.csv").write_text(_csv_text(rows, delimiter="\t"), encoding="utf-8")


def _latin1(dir: Path) -> None:
    rows = _rows("gp_patients")
    rows[0]["given_name"] = "Zoë"
    rows[0]["family_name"] = "Müller-Ångström"
    write_extract_set(dir, overrides={"gp_patients": rows})
    text = (dir / "gp_patients.csv").read_text(encoding="utf-8")
    (dir / "gp_patients.csv").write_bytes(text.encode("latin-1"))


def _utf16(dir: Path) -> None:
    write_extract_set(dir)
    text = (dir / "practices.csv").read_text(encoding="utf-8")
    (dir / "practices.csv").write_bytes(text.encode("utf-16"))


def _bom(dir: Path) -> None:
    write_extract_set(dir)
    for name in ("gp_patients", "gp_events"):
        path = dir / f"{name}.csv"
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def _crlf(dir: Path) -> None:
    write_extract_set(dir)
    path = dir / "gp_events.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def _unbalanced_quotes(dir: Path) -> None:
    write_extract_set(dir)
    path = dir / "gp_events.csv"
    text = path.read_text(encoding="utf-8")
    text += f'{NHS[1]},"2025-01-01,160689007,\n{NHS[2]},2025-02-02,160689007,\n'
    path.write_text(text, encoding="utf-8")
    _set_control_total(dir, "gp_events", len(DEFAULT_ROWS["gp_events"]) + 1)


def _embedded_newlines(dir: Path) -> None:
    meds = _rows("gp_medications")
    meds[0]["description"] = "Paracetamol\n500mg tablets\r\ntake two"
    practices = _rows("practices")
    practices[0]["practice_name"] = "Riverside\nSurgery"
    write_extract_set(dir, overrides={"gp_medications": meds, "practices": practices})


def _nul_bytes(dir: Path) -> None:
    write_extract_set(dir)
    path = dir / "gp_events.csv"
    text = path.read_text(encoding="utf-8")
    text += f"{NHS[1]},2025-01-01,1606\x0089007,\n{NHS[2]},2025-02-02\x00,160689007,\n"
    path.write_text(text, encoding="utf-8")
    _set_control_total(dir, "gp_events", len(DEFAULT_ROWS["gp_events"]) + 2)


def _nul_in_name(dir: Path) -> None:
    rows = _rows("gp_patients")
    rows[1]["given_name"] = "Be\x00rt"
    write_extract_set(dir, overrides={"gp_patients": rows})


def _long_fields(dir: Path) -> None:
    patients = _rows("gp_patients")
    patients[2]["given_name"] = "A" * LONG
    meds = _rows("gp_medications")
    meds[1]["description"] = "x" * LONG
    events = _rows("gp_events")
    events.append(_event(NHS[1], "2025-01-01", "1" * LONG))
    write_extract_set(
        dir, overrides={"gp_patients": patients, "gp_medications": meds, "gp_events": events}
    )


def _huge_numbers(dir: Path) -> None:
    events = _rows("gp_events")
    events += [
        _event(NHS[1], "2025-01-01", "1048301000000107", "1e400"),
        _event(NHS[1], "2025-01-02", "1048301000000107", "9" * 400),
        _event(NHS[1], "2025-01-03", "1048301000000107", "-1e400"),
        _event(NHS[1], "2025-01-04", "1048301000000107", "NaN"),
        _event(NHS[1], "2025-01-05", "9" * 40, ""),
    ]
    contacts = _rows("community_contacts")
    contacts[0]["submission_id"] = "9" * 30
    contacts[1]["duration_minutes"] = "99999999999999999999"
    social = _rows("social_care_services")
    social[0]["planned_hours_per_week"] = "1e309"
    imd = _rows("lsoa_imd")
    imd[0]["imd_decile"] = "99999999999999999999"
    write_extract_set(
        dir,
        overrides={
            "gp_events": events,
            "community_contacts": contacts,
            "social_care_services": social,
            "lsoa_imd": imd,
        },
    )


def _extreme_dates(dir: Path) -> None:
    events = _rows("gp_events")
    events += [
        _event(NHS[1], "0001-01-01", "160689007"),
        _event(NHS[1], "9999-12-31", "160689007"),
        _event(NHS[1], "0000-00-00", "160689007"),
        _event(NHS[1], "2025-02-30", "160689007"),
        _event(NHS[1], "99999-01-01", "160689007"),
    ]
    patients = _rows("gp_patients")
    patients[1]["date_of_birth"] = "0001-01-01"
    patients[2]["registration_end_date"] = "9999-12-31"
    spells = _rows("acute_spells")
    spells[1]["admission_date"] = "0001-01-01"
    spells[1]["discharge_date"] = "9999-12-31"
    write_extract_set(
        dir, overrides={"gp_events": events, "gp_patients": patients, "acute_spells": spells}
    )


def _sql_strings(dir: Path) -> None:
    events = _rows("gp_events")
    events.append(_event(NHS[1], "2025-01-01", SQL_DROP))
    patients = _rows("gp_patients")
    patients[1]["given_name"] = "Robert'); DROP TABLE raw.gp_patients;--"
    patients[1]["family_name"] = "O'Brien\"; select * from core.core_patient_identity; --"
    meds = _rows("gp_medications")
    meds[0]["bnf_code"] = "0407'||chr(0)||'"
    spells = _rows("acute_spells")
    spells[0]["diag_02"] = "I50'; delete from raw.acute_spells; --"
    write_extract_set(
        dir,
        overrides={
            "gp_events": events,
            "gp_patients": patients,
            "gp_medications": meds,
            "acute_spells": spells,
        },
    )


def _traversal_neighbourhood(dir: Path) -> None:
    practices = _rows("practices")
    practices[0]["neighbourhood_code"] = TRAVERSAL_CODES[0]
    practices[0]["neighbourhood_name"] = "../../etc/passwd"
    practices[1]["neighbourhood_code"] = TRAVERSAL_CODES[1]
    practices.append(
        {
            "practice_code": "A81003",
            "practice_name": "Backslash Practice",
            "pcn_code": "U00003",
            "pcn_name": "West PCN",
            "neighbourhood_code": TRAVERSAL_CODES[2],
            "neighbourhood_name": "West",
        }
    )
    write_extract_set(dir, overrides={"practices": practices})


def _html_names(dir: Path) -> None:
    practices = _rows("practices")
    practices[0]["practice_name"] = f"Riverside {SCRIPT} Surgery"
    practices[0]["neighbourhood_name"] = '<b onmouseover="alert(1)">North</b>'
    practices[1]["practice_name"] = f"Hillside {IMG_ONERROR}"
    practices[1]["pcn_name"] = SCRIPT
    patients = _rows("gp_patients")
    for row in patients:
        row["family_name"] = f"Test{SCRIPT}"
    write_extract_set(dir, overrides={"practices": practices, "gp_patients": patients})


def _empty_file(dir: Path) -> None:
    write_extract_set(dir)
    (dir / "gp_events.csv").write_bytes(b"")
    _set_control_total(dir, "gp_events", None)


def _header_only_binary(dir: Path) -> None:
    write_extract_set(dir)
    (dir / "practices.csv").write_bytes(bytes(range(256)) * 8)
    _set_control_total(dir, "practices", None)


def _duplicate_header(dir: Path) -> None:
    write_extract_set(dir)
    path = dir / "gp_events.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] += ",snomed_code"
    lines[1:] = [line + ",999999" for line in lines[1:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _both_formats(dir: Path) -> None:
    write_extract_set(dir)
    scratch = dir.parent / f".{dir.name}-parquet"
    write_extract_set(scratch, fmt="parquet")
    (scratch / "gp_events.parquet").rename(dir / "gp_events.parquet")
    shutil.rmtree(scratch)


def _bad_manifest(dir: Path) -> None:
    write_extract_set(dir)
    (dir / "manifest.json").write_text('{"extract_date": "2026-11-16", "files": {', "utf-8")


def _manifest_bad_date(dir: Path) -> None:
    write_extract_set(dir)
    (dir / "manifest.json").write_text('{"extract_date": "../../etc", "files": {}}', "utf-8")


def _ragged_rows(dir: Path) -> None:
    write_extract_set(dir)
    path = dir / "gp_events.csv"
    text = path.read_text(encoding="utf-8")
    text += f"{NHS[1]},2025-01-01\n{NHS[2]},2025-02-02,160689007,,extra,extra2\n"
    path.write_text(text, encoding="utf-8")
    _set_control_total(dir, "gp_events", len(DEFAULT_ROWS["gp_events"]) + 2)


CASES: tuple[HostileCase, ...] = (
    HostileCase(
        "wrong_delimiter",
        "gp_events written with ';': the header is one unknown column",
        "gp_events",
        "error",
        _wrong_delimiter,
    ),
    HostileCase(
        "tab_delimiter",
        "practices written with tabs",
        "practices",
        "error",
        _tab_delimiter,
    ),
    HostileCase(
        "latin1_bytes",
        "gp_patients encoded as Latin-1 (invalid UTF-8 bytes in names)",
        "gp_patients",
        "quarantine_or_error",
        _latin1,
    ),
    HostileCase(
        "utf16",
        "practices encoded as UTF-16 with its BOM",
        "practices",
        "quarantine_or_error",
        _utf16,
    ),
    HostileCase(
        "bom", "UTF-8 BOM before the header (allowed by the contract)", "gp_patients", "loads", _bom
    ),
    HostileCase("crlf", "CRLF line endings (RFC 4180)", "gp_events", "loads", _crlf),
    HostileCase(
        "unbalanced_quotes",
        "a field opens a quote that never closes",
        "gp_events",
        "quarantine_or_error",
        _unbalanced_quotes,
    ),
    HostileCase(
        "embedded_newlines",
        "quoted fields holding LF and CRLF (legal RFC 4180)",
        "gp_medications",
        "loads",
        _embedded_newlines,
    ),
    HostileCase(
        "nul_bytes",
        "NUL bytes inside a code and a date",
        "gp_events",
        "quarantine_or_error",
        _nul_bytes,
    ),
    HostileCase(
        "nul_in_name",
        "a NUL byte inside a given name",
        "gp_patients",
        "quarantine_or_error",
        _nul_in_name,
    ),
    HostileCase(
        "long_fields",
        "100,000-character name, description and code",
        "gp_events",
        "quarantine_or_error",
        _long_fields,
    ),
    HostileCase(
        "huge_numbers",
        "1e400, 400 nines, NaN, a 30-digit submission id, a 20-digit decile",
        "gp_events",
        "quarantine",
        _huge_numbers,
    ),
    HostileCase(
        "extreme_dates",
        "dates 0001-01-01, 9999-12-31, 0000-00-00, 2025-02-30, 99999-01-01",
        "gp_events",
        "quarantine",
        _extreme_dates,
    ),
    HostileCase(
        "sql_strings",
        "SQL-looking text in codes and names",
        "gp_events",
        "quarantine",
        _sql_strings,
    ),
    HostileCase(
        "traversal_neighbourhood",
        "neighbourhood codes ../../x, ../../../../../../../../x and ..\\..\\x",
        "practices",
        "handled",
        _traversal_neighbourhood,
    ),
    HostileCase(
        "html_names",
        "practice, PCN, neighbourhood and family names holding HTML and script",
        "practices",
        "loads",
        _html_names,
    ),
    HostileCase(
        "empty_file",
        "gp_events.csv is zero bytes",
        "gp_events",
        "error",
        _empty_file,
    ),
    HostileCase(
        "binary_garbage",
        "practices.csv holds every byte value",
        "practices",
        "error",
        _header_only_binary,
    ),
    HostileCase(
        "duplicate_header",
        "gp_events names snomed_code twice",
        "gp_events",
        "quarantine_or_error",
        _duplicate_header,
    ),
    HostileCase(
        "both_formats",
        "gp_events.csv and gp_events.parquet side by side",
        "gp_events",
        "error",
        _both_formats,
    ),
    HostileCase(
        "bad_manifest",
        "manifest.json is not JSON",
        "manifest.json",
        "error",
        _bad_manifest,
    ),
    HostileCase(
        "manifest_bad_date",
        "manifest extract_date is '../../etc'",
        "manifest.json",
        "error",
        _manifest_bad_date,
    ),
    HostileCase(
        "ragged_rows",
        "rows with too few and too many fields",
        "gp_events",
        "quarantine_or_error",
        _ragged_rows,
    ),
)

BY_NAME = {case.name: case for case in CASES}


def build(name: str, dir: Path) -> Path:
    """Write case `name` into `dir` (created) and return `dir`."""
    dir.mkdir(parents=True, exist_ok=True)
    BY_NAME[name].build(dir)
    return dir


def main(argv: list[str]) -> int:
    """Write every case into `argv[0]/<case>/`."""
    if len(argv) != 1:
        sys.stderr.write("usage: python tests/hostile_corpus.py DIR\n")
        return 2
    root = Path(argv[0])
    for case in CASES:
        build(case.name, root / case.name)
        sys.stdout.write(f"{case.name}: {case.description} -> expect {case.expect}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
