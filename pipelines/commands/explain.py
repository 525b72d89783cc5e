"""`casefinder explain`: why one patient has their score, for a clinician's audit."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from features import dictionary
from foundation.contract import nhs_number_is_valid
from foundation.errors import CasefinderError, WarehouseBusyError
from foundation.locking import run_in_progress
from foundation.settings import load_settings
from pipelines.commands.options import iso_date

NAME = "explain"
HELP = (
    "why a patient has their score: risk, tier, rank, every feature's contribution, reasons "
    "with dated evidence and the score history (for clinicians' audit)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings = load_settings()
    parser.add_argument(
        "nhs_number",
        metavar="NHS_NUMBER",
        nargs="+",
        help="10 digits; written in groups (943 476 5919) with or without quotes",
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=settings.warehouse,
        help="DuckDB warehouse file (default: %(default)s)",
    )
    parser.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        help="list date to explain (default: the patient's latest scored date)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="output format on stdout (default: %(default)s)",
    )


def normalise_nhs_number(text: str) -> str:
    """Ten digits without spaces or hyphens; a one-line error (not echoing it) when invalid."""
    digits = text.strip().replace(" ", "").replace("-", "")
    if not nhs_number_is_valid(digits):
        raise CasefinderError(
            "the NHS number given is not valid (10 digits with a correct check digit)"
        )
    return digits


def source_for_explain(warehouse: Path) -> Path:
    """The database `explain` reads: the warehouse, or while a run is in progress (or another
    process writes the warehouse) the audit copy of the last completed publication.

    Takes no lock and creates nothing: it only reads (foundation/audit_copy.py).
    """
    # deferred: duckdb (foundation.audit_copy, .warehouse) is only needed when explain runs
    from foundation.audit_copy import audit_copy_path
    from foundation.warehouse import connect

    copy = audit_copy_path(warehouse)
    busy = run_in_progress(warehouse)
    if not busy:
        try:
            connect(warehouse, read_only=True).close()
        except WarehouseBusyError:
            busy = True
    if not busy:
        return warehouse
    if not copy.exists():
        raise CasefinderError(
            f"warehouse {warehouse} is being written by a casefinder run and no completed "
            "publication is kept beside it yet; try again when the run ends"
        )
    return copy


def explanation(warehouse: Path, nhs_number: str, as_of: date | None) -> dict[str, Any]:
    """The explain document (OUTPUTS.md `explain --format json`) for one NHS number."""
    # deferred: duckdb and numpy (models.explain) are only needed when explain runs
    from foundation.warehouse import connect
    from models.explain import explain_patient

    digits = normalise_nhs_number(nhs_number)
    if not Path(warehouse).exists():
        raise CasefinderError(f"warehouse {warehouse} does not exist: run `casefinder run` first")
    with connect(source_for_explain(Path(warehouse)), read_only=True) as con:
        found = con.execute(
            "select patient_id from core.core_patient_identity where nhs_number = ?", [digits]
        ).fetchone()
        if found is None:
            raise CasefinderError("the NHS number given is not in the warehouse")
        result = explain_patient(con, found[0], as_of)
    if result is None:
        when = f"on {as_of.isoformat()}" if as_of else "in any published week"
        raise CasefinderError(
            f"the NHS number given was not scored {when}: the patient was not in the listed "
            "housebound cohort (not housebound, opted out, or not registered)"
        )
    return {"nhs_number": digits, **result}


def feature_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The features as people read them, largest effect first: the dictionary description
    (the name when it has none), the value rounded as the feature is (`Feature.shown`), the
    name and the contribution."""
    return [
        {
            "description": f["description"] or f["name"],
            "name": f["name"],
            "shown": dictionary.shown(f["name"], f["value"]),
            "contribution": f["contribution"],
        }
        for f in doc["features"]
    ]


def render_text(doc: dict[str, Any]) -> str:
    """A plain-text explanation for the terminal."""
    lines = [
        f"NHS number {doc['nhs_number']}: risk {doc['risk_score']:.3f} ({doc['risk_tier']}), "
        f"rank {doc['rank'] if doc['rank'] is not None else '-'} in "
        f"{doc['neighbourhood_code']} on {doc['as_of']}",
        f"model {doc['model_version']}; base value {doc['base_value']:.4f} + contributions "
        f"{sum(f['contribution'] for f in doc['features']):.4f} = raw score "
        f"{doc['raw_score']:.4f} (log-odds)",
        "",
        "Reasons:",
    ]
    for i, reason in enumerate(doc["reasons"], start=1):
        lines.append(f"  {i}. {reason['text']}")
        for e in reason["evidence"]:
            code = f"  {e['code']}" if e["code"] else ""
            lines.append(f"       {e['date']}  {e['term']}  ({e['source']}{code})")
    if not doc["reasons"]:
        lines.append("  (no single factor stands out)")
    lines += ["", "Features (largest effect first; contribution, value, meaning):"]
    for f in feature_rows(doc):
        lines.append(
            f"  {f['contribution']:+.4f}  {f['shown'] or '-':>6}  {f['description']} [{f['name']}]"
        )
    lines += ["", "History:"]
    for h in doc["history"]:
        lines.append(f"  {h['as_of']}  risk {h['risk_score']:.3f}  rank {h['rank']}")
    return "\n".join(lines) + "\n"


def render_html(doc: dict[str, Any]) -> str:
    """A self-contained HTML explanation."""
    # deferred: jinja2 (reports.html_list) is only needed for --format html
    from reports.html_list import environment

    return (
        environment().get_template("list_explain.html").render(doc=doc, features=feature_rows(doc))
    )


def run(args: argparse.Namespace) -> int:
    number = args.nhs_number
    doc = explanation(
        Path(args.warehouse), " ".join([number] if isinstance(number, str) else number), args.as_of
    )
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif args.format == "html":
        sys.stdout.write(render_html(doc))
    else:
        sys.stdout.write(render_text(doc))
    return 0
