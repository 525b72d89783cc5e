"""`casefinder run`: the weekly job (ingest, features, train when needed, score, publish)."""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from foundation.errors import CasefinderError
from foundation.settings import load_settings
from pipelines.commands.options import add_dask_address, iso_date
from pipelines.ingest.capacity import read_capacity

NAME = "run"
HELP = (
    "the weekly job: ingest the extracts, build features at the as-of date, train when no "
    "model is registered (or --retrain), score and publish the lists per neighbourhood "
    "(or, with --pseudonymised, the analysts' file without identifiers)"
)

# The sub-folders of --out holding each kind of publication; one --out never holds both, so
# a folder given to analysts can never contain a direct-care list (and the reverse).
LISTS_FOLDER = "lists"
PSEUDONYMISED_FOLDER = "pseudonymised"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings = load_settings()
    parser.add_argument(
        "--extracts",
        type=Path,
        default=settings.extracts_dir,
        help="folder holding one extract set (default: %(default)s)",
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=settings.warehouse,
        help="DuckDB warehouse file (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=settings.out_dir,
        help="output folder for lists/ and reports/ (default: %(default)s)",
    )
    parser.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        help="list date (default: extract_date from the extract set's manifest)",
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="train and register a new model even when one is registered",
    )
    parser.add_argument(
        "--republish",
        action="store_true",
        help=(
            "replace the publication of an as-of that is already published from other "
            "extracts or another model (the replaced one stays in the audit trail and is "
            "named in the new run report); without it such a run stops before publishing"
        ),
    )
    parser.add_argument(
        "--capacity",
        type=Path,
        default=settings.capacity_file,
        metavar="FILE.csv",
        help=(
            "this week's review capacity, columns neighbourhood_code,weekly_reviews: that many "
            "patients per neighbourhood get this_week = true (default: "
            "CASEFINDER_CAPACITY_FILE; without it this_week is empty)"
        ),
    )
    parser.add_argument(
        "--feedback",
        type=Path,
        default=settings.feedback_dir,
        metavar="DIR",
        help=(
            "folder of published lists returned by the teams with review_outcome (and "
            "review_date) filled in, recorded once (default: CASEFINDER_FEEDBACK_DIR)"
        ),
    )
    add_dask_address(
        parser,
        settings.dask_address,
        "training (lightgbm.dask), scoring and list staging (one task per neighbourhood)",
    )
    parser.add_argument(
        "--pseudonymised",
        action="store_true",
        help=(
            "publish for analysts instead of direct care: one file keyed by the patient_id "
            "pseudonym under OUT/pseudonymised/<as_of>/, with no NHS number, name, date of "
            "birth or small-area code (age in 5-year bands), under the analyst_outputs "
            "opt-out policy; --out must not hold direct-care lists"
        ),
    )


def check_out_folder(out: Path, pseudonymised: bool, identifiable: tuple[Path, ...] = ()) -> None:
    """Refuse an --out that mixes the two kinds of publication (direct care and analysts).

    `identifiable` are files that must never be inside an analysts' folder (the warehouse,
    the pseudonymisation key).

    Raises:
        CasefinderError: --out is a file, holds the other kind of publication, or (for the
            pseudonymised publication) contains one of `identifiable`.
    """
    if out.exists() and not out.is_dir():
        raise CasefinderError(f"--out {out} exists and is not a folder")
    if pseudonymised:
        if (out / LISTS_FOLDER).exists():
            raise CasefinderError(
                f"--out {out} holds direct-care lists ({LISTS_FOLDER}/); give the "
                "pseudonymised publication a folder of its own"
            )
        inside = [p.name for p in identifiable if p.resolve().is_relative_to(out.resolve())]
        if inside:
            raise CasefinderError(
                f"--out {out} contains {' and '.join(inside)}; give the pseudonymised "
                "publication a folder apart from the warehouse and its key"
            )
    elif (out / PSEUDONYMISED_FOLDER).exists():
        raise CasefinderError(
            f"--out {out} holds a pseudonymised publication for analysts "
            f"({PSEUDONYMISED_FOLDER}/); give the direct-care lists a folder of their own"
        )


def start_prefect_server() -> threading.Thread | None:
    """Start Prefect's temporary server in the background, so that it boots while the flows
    are imported (each takes seconds before a run's first task); the thread to join before
    the flow runs, or None when Prefect has a server (PREFECT_API_URL).

    It is the server Prefect itself would start for the flow (one per process). When this
    start fails, its process is stopped and forgotten: the flow's own start then tries from
    scratch and reports the error as it always has.
    """
    # deferred: prefect's server module is only needed when the weekly run starts
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return None
    server = SubprocessASGIServer()

    def start() -> None:
        try:
            server.start()
        except Exception:  # noqa: BLE001 - the flow's own start tries again and reports it
            server.stop()

    thread = threading.Thread(target=start, name="prefect-server-start", daemon=True)
    thread.start()
    return thread


def weekly(
    extracts: Path,
    warehouse: Path,
    out: Path,
    as_of: date | None,
    retrain: bool,
    pseudonymised: bool = False,
    dask_address: str | None = None,
    republish: bool = False,
    capacity_file: Path | None = None,
    feedback: Path | None = None,
) -> dict[str, Any]:
    """Run the weekly flow after checking the paths, with the settings resolved once here
    (`dask_address`: the --dask-address override)."""
    if not extracts.is_dir():
        raise CasefinderError(f"--extracts {extracts} is not a folder")
    if capacity_file is not None:
        read_capacity(capacity_file)  # a malformed file stops the run before it starts
    if feedback is not None and not feedback.is_dir():
        raise CasefinderError(f"--feedback {feedback} is not a folder")
    settings = load_settings()
    check_out_folder(out, pseudonymised, (warehouse, settings.key_path(warehouse)))
    server = start_prefect_server()
    # deferred: prefect and the flows are only needed when the weekly run starts
    from pipelines.flows.weekly import weekly_run

    if server is not None:
        server.join()
    return weekly_run(
        extracts=extracts,
        warehouse=warehouse,
        out=out,
        as_of=as_of,
        retrain=retrain,
        pseudonymised=pseudonymised,
        republish=republish,
        settings=settings.for_run(dask_address),
        capacity_file=capacity_file,
        feedback=feedback,
    )


def print_training(result: dict[str, Any], out: TextIO) -> None:
    """The model trained by this run, and any warning (a retrain the quality gate rejected)."""
    if result.get("trained"):
        out.write(f"trained and registered model {result['trained']}\n")
    for warning in result.get("warnings", []):
        out.write(f"warning: {warning}\n")


def ranked_by(result: dict[str, Any]) -> str:
    """`model <version>`, or the fallback ranking and why (no model was fit to rank)."""
    if result.get("fallback_reason"):
        return f"ranked by the fallback points score: {result['fallback_reason']}"
    return f"model {result['model_version']}"


def print_result(result: dict[str, Any], out: TextIO | None = None) -> None:
    """Tell the user what was published and where."""
    out = out or sys.stdout
    print_training(result, out)
    if result.get("already_published"):
        before = result["already_published"]
        out.write(
            f"as of {result['as_of']} is already published from the same extracts (snapshot "
            f"{before['snapshot_id']}) and model ({before['model_version'] or 'none'}): "
            "nothing changed\n"
        )
        out.write(f"lists: {result['lists_dir']}\n")
        return
    cohort = result["cohort"]
    out.write(
        f"as of {result['as_of']}: {cohort['housebound']} housebound, "
        f"{cohort['excluded_opt_out']} excluded by opt-out, {cohort['excluded_other']} "
        f"excluded otherwise, {cohort['listed']} listed in {result['neighbourhoods']} "
        f"neighbourhoods ({ranked_by(result)})\n"
    )
    for code, item in sorted(result["lists"].items()):
        this_week = item.get("this_week")
        asked = "" if this_week is None else f", {this_week} to review this week"
        out.write(f"  {code}: {item['rows']} patients{asked}\n")
    feedback = result.get("feedback") or {}
    if feedback.get("files"):
        out.write(
            f"feedback: {feedback['files']} returned list(s), {feedback['recorded']} review(s)"
            f" recorded, {feedback['rejected']} row(s) rejected (not on that list)\n"
        )
    out.write(f"run summary and report: {result['reports_dir']}\n")
    out.write(f"lists: {result['lists_dir']}\n")


def print_pseudonymised_result(result: dict[str, Any], out: TextIO | None = None) -> None:
    """Tell the user what the analysts' publication holds and where (counts only)."""
    out = out or sys.stdout
    cohort = result["cohort"]
    print_training(result, out)
    out.write(
        f"as of {result['as_of']}: {cohort['housebound']} housebound, "
        f"{cohort['excluded_opt_out']} excluded by the analyst opt-out policy "
        f"({', '.join(result['opt_out_types']) or 'none'}), {cohort['excluded_other']} "
        f"excluded otherwise, {cohort['published']} in the pseudonymised publication "
        f"({ranked_by(result)})\n"
    )
    out.write(f"pseudonymised publication (no identifiers): {result['pseudonymised_dir']}\n")


def run(args: argparse.Namespace) -> int:
    result = weekly(
        Path(args.extracts),
        Path(args.warehouse),
        Path(args.out),
        args.as_of,
        args.retrain,
        pseudonymised=args.pseudonymised,
        dask_address=args.dask_address,
        republish=args.republish,
        capacity_file=args.capacity,
        feedback=args.feedback,
    )
    if args.pseudonymised:
        print_pseudonymised_result(result)
    else:
        print_result(result)
    return 0
