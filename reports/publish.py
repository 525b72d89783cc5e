"""Publishing a week's lists: staged files, an audit record, then one atomic rename."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from foundation.errors import CasefinderError
from foundation.provenance import code_version, sha256_file
from foundation.settings import DEFAULT_CHANGE_THRESHOLD
from foundation.staging import abandoned, create_held, discard, holding, owns, release
from foundation.warehouse import apply_ddl, build_model, model_order, transaction
from reports.capacity import PlanSettings, build_plan, ensure_store
from reports.columns import week_select_lists
from reports.data_docs import FOLDER, copy_offline
from reports.excel_list import write_workbook
from reports.html_list import write_page
from reports.lists import load_lists, render_csv
from reports.run_report import (
    Check,
    build_run_report,
    drift_profiles,
    previous_summary_for,
    record_drift_profiles,
)
from reports.summary import build_run_summary, extracts_block, latest_snapshot_id, write_run_summary

log = logging.getLogger("casefinder.publish")

# The relations of the direct-care publication; built in the order their files read each other.
LIST_MODELS = ("list_week", "list_left_week", "list_profile", "list_service_standards")
CSV_NAME = "proactive_care_list.csv"
XLSX_NAME = "proactive_care_list.xlsx"
HTML_NAME = "proactive_care_list.html"

# The folders under OUT that publications are staged in, and the prefixes of their hidden
# staging (`.tmp-`) and renamed-away (`.old-`) folders.
PUBLICATION_FOLDERS = ("lists", "reports", "pseudonymised")
STAGING_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"

# The lists layer's history tables and the publications audit tables (`sql/lists`,
# `sql/audit`); `replaced_publications` holds the rows of `publications` replaced by
# `run --republish` (OUTPUTS.md "Publications are never silently replaced").
LIST_TABLES = ("list_entries", "left_list", "publications", "replaced_publications")


def ensure_list_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the lists layer's history tables and the publications audit table when missing."""
    for schema in ("lists", "audit"):
        con.execute(f"create schema if not exists {schema}")
    apply_ddl(con, LIST_TABLES)


def current_inputs(
    con: duckdb.DuckDBPyConnection, snapshot_id: Any, model_version: str | None
) -> dict[str, Any]:
    """What a publication is made from: the snapshot, its extract checksums and the model."""
    checksums = {f: v.get("sha256") for f, v in extracts_block(con, snapshot_id).items()}
    return {
        "snapshot_id": None if snapshot_id is None else str(snapshot_id),
        "extract_checksums": json.dumps(checksums, sort_keys=True),
        "model_version": model_version or "",
    }


def published_inputs(
    con: duckdb.DuckDBPyConnection, as_of: date, out_dir: Path
) -> dict[str, Any] | None:
    """The inputs of the publication of `as_of` under `out_dir`, or None when there is none.

    A lists folder without its audit record is what a run killed between its renames and its
    commit leaves: not a publication (the re-run replaces it).
    """
    if not (out_dir / "lists" / as_of.isoformat()).is_dir():
        return None
    ensure_list_tables(con)
    row = con.execute(
        "select snapshot_id, extract_checksums, model_version, max(published_at)"
        " from audit.publications where as_of = ? group by all"
        " order by max(published_at) desc limit 1",
        [as_of],
    ).fetchone()
    if row is None:
        return None
    return {
        "snapshot_id": row[0],
        "extract_checksums": row[1],
        "model_version": row[2] or "",
        "published_at": str(row[3]),
    }


def check_republication(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    out_dir: Path,
    snapshot_id: Any,
    model_version: str | None,
    republish: bool,
) -> dict[str, Any] | None:
    """Decide what a run does about an as-of that may already be published.

    Returns None to publish (nothing published yet, or `republish` with different inputs:
    then the replaced publication's inputs under "replaces"), {"unchanged": ...} when the
    same extract checksums and model published it (nothing to do).

    Raises:
        CasefinderError: already published from other inputs and `republish` not given.
    """
    before = published_inputs(con, as_of, out_dir)
    if before is None:
        return None
    now = current_inputs(con, snapshot_id, model_version)
    same = (before["extract_checksums"], before["model_version"]) == (
        now["extract_checksums"],
        now["model_version"],
    )
    if same:
        return {"unchanged": before}
    if not republish:
        differs = [
            what
            for what, key in (("extracts", "extract_checksums"), ("model", "model_version"))
            if before[key] != now[key]
        ]
        raise CasefinderError(
            f"as of {as_of.isoformat()} is already published in {out_dir / 'lists'} from other "
            f"{' and '.join(differs)} (snapshot {before['snapshot_id']}, model "
            f"{before['model_version'] or 'none'}); nothing was published. Give --republish "
            "to replace it (the replaced publication stays in the audit trail)"
        )
    return {"replaces": before}


def republished_warning(replaced: dict[str, Any]) -> Any:
    """The run report's first warning for a `--republish`: what was replaced."""
    checksums = json.loads(replaced.get("extract_checksums") or "{}")
    files = ", ".join(f"{name} {(sha or '')[:12]}" for name, sha in sorted(checksums.items()))
    return Check(
        name="republished",
        value="replaced",
        threshold="--republish",
        breached=True,
        message=(
            f"this publication replaced the one of {replaced.get('published_at', '?')} "
            f"(snapshot {replaced.get('snapshot_id')}, model "
            f"{replaced.get('model_version') or 'none'}; extract sha256: {files or 'none'}), "
            "kept in audit.replaced_publications"
        ),
        level="warning",
    )


def build_list_models(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
    plan: PlanSettings | None = None,
) -> dict[str, int]:
    """Build this week's list tables (`sql/lists/*.sql`); rows per table. A listed patient's
    `change` is `up` / `down` when the tier changed or the score moved by `change_threshold`;
    `lists.list_plan` (this week's review cut and the last reviews) follows with `plan`."""
    ensure_list_tables(con)
    ensure_store(con)
    params = {"as_of": as_of, "change_threshold": change_threshold}
    built = {
        name: build_model(
            con, name, params, select_lists=week_select_lists() if name == "list_week" else None
        )
        for name in model_order(LIST_MODELS, "lists")
    }
    built["list_plan"] = build_plan(con, as_of, plan)
    return built


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under `root` (and `root` itself) to disk."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            _fsync(Path(dirpath) / name)
        _fsync(Path(dirpath))


def staging_path(parent: Path, as_of: date) -> Path:
    """The hidden staging folder of this process for one publication."""
    return parent / f".tmp-{as_of.isoformat()}-{os.getpid()}"


def staging_dir(parent: Path, as_of: date) -> Path:
    """A fresh hidden folder inside `parent` for one publication (same filesystem as the target),
    held by this process until it is renamed into place or discarded. Staging folders of
    ended runs in `parent` are cleaned up first."""
    parent.mkdir(parents=True, exist_ok=True)
    clean_stale_folders(parent)
    path = staging_path(parent, as_of)
    if path.exists():
        if not owns(path):
            raise CasefinderError(
                f"staging folder {path.name} in {parent} is in use by another run"
            )
        discard(path)
    return create_held(path)


def discard_staging(parent: Path, as_of: date) -> None:
    """Remove this process's staging folder for `as_of` in `parent` (after a failure)."""
    discard(staging_path(parent, as_of))


def _renamed_away_target(path: Path) -> Path | None:
    """`.old-<name>-<pid>` -> `<name>` beside it (None for any other name)."""
    if not path.name.startswith(OLD_PREFIX):
        return None
    name = path.name.removeprefix(OLD_PREFIX).rpartition("-")[0]
    return path.parent / name if name else None


def clean_stale_folders(parent: Path) -> dict[str, int]:
    """Tidy what ended (e.g. killed) runs left in `parent`: their staging folders go; a
    previous publication renamed away just before the kill goes back in place when nothing
    replaced it (its audit record was rolled back with the kill), else it goes too.

    Folders of live runs are held by their process and left alone. Counts only are logged.
    """
    counts = {"removed": 0, "restored": 0}
    for path in abandoned(parent, (STAGING_PREFIX, OLD_PREFIX)):
        target = _renamed_away_target(path)
        if target is not None and not target.exists():
            path.rename(target)
            counts["restored"] += 1
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            counts["removed"] += 1
    if any(counts.values()):
        log.info(
            "cleaned up after ended runs in %s/: %d staging folder(s) removed, "
            "%d previous publication(s) put back",
            parent.name,
            counts["removed"],
            counts["restored"],
        )
    return counts


def clean_stale_staging(out_dir: Path) -> int:
    """`clean_stale_folders` for every publication folder under `OUT`; folders tidied."""
    return sum(sum(clean_stale_folders(out_dir / name).values()) for name in PUBLICATION_FOLDERS)


def stage_lists(
    con: duckdb.DuckDBPyConnection, as_of: date, out_dir: Path, banners: Sequence[str] = ()
) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Write every neighbourhood's CSV, XLSX and HTML into a staging folder under `OUT/lists`,
    each page and sheet showing the week's `banners` (reports/banners.py).

    Returns the staging folder and, per neighbourhood code, its folder name, rows and
    checksums (no identifiers).
    """
    staging = staging_dir(out_dir / "lists", as_of)
    try:
        manifest = _write_lists(con, as_of, staging, banners)
        fsync_tree(staging)
    except BaseException:
        discard(staging)
        raise
    log.info("staged %d neighbourhood lists for %s", len(manifest), as_of)
    return staging, manifest


def _write_lists(
    con: duckdb.DuckDBPyConnection, as_of: date, staging: Path, banners: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    manifest: dict[str, dict[str, Any]] = {}
    folders: dict[str, str] = {}
    for nl in load_lists(con, as_of, banners):
        folder = nl.folder
        if folder in folders:
            raise CasefinderError(
                f"neighbourhood codes {folders[folder]!r} and {nl.code!r} map to the same folder"
            )
        folders[folder] = nl.code
        if folder != nl.code:
            log.warning(
                "neighbourhood code %r is not a safe folder name; using %r", nl.code, folder
            )
        target = staging / folder
        if target.resolve().parent != staging.resolve():
            raise CasefinderError(f"neighbourhood code {nl.code!r} is not a usable folder name")
        target.mkdir()
        csv_path = target / CSV_NAME
        csv_path.write_bytes(render_csv(nl.rows))
        write_workbook(nl, target / XLSX_NAME)
        write_page(nl, target / HTML_NAME)
        manifest[nl.code] = {
            "folder": folder,
            "rows": len(nl.rows),
            "sha256": sha256_file(csv_path),
            "xlsx_sha256": sha256_file(target / XLSX_NAME),
            "html_sha256": sha256_file(target / HTML_NAME),
        }
    return manifest


def stage_reports(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    out_dir: Path,
    manifest: dict[str, dict[str, Any]],
    data_docs: str | None = None,
    run_warnings: Sequence[Any] = (),
) -> tuple[Path, dict[str, Any], list[Any]]:
    """Write `run_summary.json` and `run_report.html`.

    Returns the staging folder, the summary and the report's checks (`run_report.Check`s,
    `run_warnings` first): the weekly flow's final state is decided by them.
    """
    staging = staging_dir(out_dir / "reports", as_of)
    try:
        summary = build_run_summary(con, as_of, manifest)
        # The publication's own offline copy, so the report's link lives with it.
        if data_docs and copy_offline(Path(data_docs), staging / FOLDER) is not None:
            summary["data_docs"] = f"{FOLDER}/index.html"
        write_run_summary(summary, staging / "run_summary.json")
        previous = previous_summary_for(out_dir / "reports", as_of.isoformat())
        _, checks = build_run_report(
            con, summary, staging / "run_report.html", previous, run_warnings=run_warnings
        )
        fsync_tree(staging)
    except BaseException:
        discard(staging)
        raise
    return staging, summary, checks


def _swap_in(staging: Path, final: Path) -> None:
    """Rename `staging` to `final`; an existing `final` is renamed away first, then deleted.

    The renamed-away folder is held meanwhile, so only a run that has ended leaves one
    behind, and the next run's `clean_stale_folders` deals with it.
    """
    if not final.exists():
        staging.rename(final)
        release(staging)
        _fsync(final.parent)
        return
    old = final.parent / f"{OLD_PREFIX}{final.name}-{os.getpid()}"
    if old.exists():
        shutil.rmtree(old)
    with holding(final):
        final.rename(old)
        try:
            staging.rename(final)
        except BaseException:
            old.rename(final)
            raise
        release(staging)
        _fsync(final.parent)
        shutil.rmtree(old)


def commit_publication(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    out_dir: Path,
    lists_staging: Path,
    reports_staging: Path,
    manifest: dict[str, dict[str, Any]],
) -> Path:
    """Record the publication in the warehouse and make the files visible, all or nothing.

    In one transaction: this week's entries go to `lists.list_entries` / `lists.left_list`,
    one row per neighbourhood to `audit.publications`, the run's distributions to
    `audit.drift_profiles` (next week's drift baseline); then the reports folder and last the
    lists folder are renamed into place. If a rename fails the transaction rolls back.
    """
    ensure_list_tables(con)
    snapshot_id = latest_snapshot_id(con)
    checksums = {}
    if snapshot_id is not None:
        checksums = {f: v.get("sha256") for f, v in extracts_block(con, snapshot_id).items()}
    version_row = con.execute(
        "select min(model_version) from scores.scores where as_of = ?", [as_of]
    ).fetchone()
    version = (version_row[0] if version_row else None) or ""
    final_lists = out_dir / "lists" / as_of.isoformat()
    final_reports = out_dir / "reports" / as_of.isoformat()
    # Read before the transaction, which then only writes (a million patients' features).
    profiles = drift_profiles(con, as_of.isoformat(), version or None)
    try:
        with transaction(con):
            # A publication replaced (`--republish`) stays in the audit trail.
            con.execute(
                "insert into audit.replaced_publications"
                " select *, current_timestamp from audit.publications where as_of = ?",
                [as_of],
            )
            for table in ("lists.list_entries", "lists.left_list", "audit.publications"):
                con.execute(f"delete from {table} where as_of = ?", [as_of])
            con.execute(
                "insert into lists.list_entries select as_of, neighbourhood_code, rank,"
                " patient_id, practice_code, risk_score, risk_tier, change, model_version"
                " from lists.list_week"
            )
            con.execute(
                "insert into lists.left_list select as_of, neighbourhood_code, patient_id,"
                " previous_as_of, previous_rank, reason from lists.list_left_week"
            )
            for code, item in sorted(manifest.items()):
                con.execute(
                    "insert into audit.publications values"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
                    [
                        as_of,
                        code,
                        item["folder"],
                        version,
                        code_version(),
                        None if snapshot_id is None else str(snapshot_id),
                        json.dumps(checksums, sort_keys=True),
                        item["rows"],
                        item["sha256"],
                        item["xlsx_sha256"],
                        item["html_sha256"],
                    ],
                )
            record_drift_profiles(con, as_of.isoformat(), profiles)
            _swap_in(reports_staging, final_reports)
            _swap_in(lists_staging, final_lists)
    except BaseException:
        for leftover in (lists_staging, reports_staging):
            discard(leftover)
        raise
    log.info("published %d neighbourhood lists for %s", len(manifest), as_of)
    return final_lists
