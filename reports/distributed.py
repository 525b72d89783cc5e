"""Publishing one neighbourhood at a time, so that a Dask worker can stage each list alone."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from foundation.errors import CasefinderError
from foundation.provenance import sha256_file
from reports.excel_list import write_workbook
from reports.html_list import write_page
from reports.lists import load_lists, render_csv
from reports.publish import CSV_NAME, HTML_NAME, XLSX_NAME
from reports.safety import folder_name

log = logging.getLogger("casefinder.publish")


def neighbourhood_folders(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Neighbourhood code -> folder name for every neighbourhood that gets a list.

    Raises when two codes map to the same folder (as `reports.publish.stage_lists` does).
    """
    codes = [
        str(r[0])
        for r in con.execute(
            "select distinct neighbourhood_code from core.core_practices"
            " where neighbourhood_code is not null order by 1"
        ).fetchall()
    ]
    folders: dict[str, str] = {}
    for code in codes:
        folder = folder_name(code)
        if folder in folders.values():
            other = next(c for c, f in folders.items() if f == folder)
            raise CasefinderError(
                f"neighbourhood codes {other!r} and {code!r} map to the same folder"
            )
        folders[code] = folder
    return folders


def stage_one_list(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    staging: Path,
    code: str,
    banners: Sequence[str] = (),
) -> dict[str, Any]:
    """Write one neighbourhood's CSV, XLSX and HTML into `staging/<folder>/`; return its
    manifest entry (folder, rows, checksums), exactly as `stage_lists` does for each one."""
    matches = [nl for nl in load_lists(con, as_of, banners) if nl.code == code]
    if not matches:
        raise CasefinderError(f"neighbourhood {code!r} has no list at {as_of}")
    nl = matches[0]
    target = staging / nl.folder
    if target.resolve().parent != staging.resolve():
        raise CasefinderError(f"neighbourhood code {nl.code!r} is not a usable folder name")
    target.mkdir()
    csv_path = target / CSV_NAME
    csv_path.write_bytes(render_csv(nl.rows))
    write_workbook(nl, target / XLSX_NAME)
    write_page(nl, target / HTML_NAME)
    return {
        "folder": nl.folder,
        "rows": len(nl.rows),
        "sha256": sha256_file(csv_path),
        "xlsx_sha256": sha256_file(target / XLSX_NAME),
        "html_sha256": sha256_file(target / HTML_NAME),
    }
