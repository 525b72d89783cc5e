"""`casefinder models list|show VERSION`: the registered risk models and their provenance."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from foundation.settings import load_settings

NAME = "models"
HELP = "list the registered risk models, or show one version's provenance and metrics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings = load_settings()
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    lst = sub.add_parser("list", help="registered versions, oldest first")
    lst.add_argument(
        "--warehouse",
        type=Path,
        default=settings.warehouse,
        help="DuckDB warehouse file (default: %(default)s)",
    )
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show = sub.add_parser("show", help="one version's metadata (provenance, settings, metrics)")
    show.add_argument("version", metavar="VERSION")
    show.add_argument(
        "--warehouse",
        type=Path,
        default=settings.warehouse,
        help="DuckDB warehouse file (default: %(default)s)",
    )
    show.add_argument("--json", action="store_true", help="print the full metadata as JSON")


def _num(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "n/a"


def _trainer(params: dict) -> str:
    trainer = params.get("trainer", "lightgbm")
    if params.get("dask_workers"):
        return f"{trainer} ({params['dask_workers']} Dask workers)"
    return f"{trainer} (one process)"


def run(args: argparse.Namespace) -> int:
    # deferred: lightgbm and scikit-learn (models.registry) are only needed to read the registry
    from models import registry

    out = sys.stdout
    if args.models_command == "list":
        rows = registry.list_versions(args.warehouse)
        if args.json:
            out.write(json.dumps(rows, indent=2, default=str) + "\n")
            return 0
        if not rows:
            out.write("no registered models\n")
            return 0
        out.write("version\tcreated_at\tas_of\tauroc_housebound\tauroc_efi\tslope\tcode_version\n")
        for r in rows:
            out.write(
                f"{r['version']}\t{r['created_at']}\t{r['as_of']}\t"
                f"{_num(r['auroc_housebound'])}\t{_num(r['auroc_housebound_efi'])}\t"
                f"{_num(r['calibration_slope_housebound'])}\t{r['code_version']}\n"
            )
        return 0
    meta = registry.show(args.warehouse, args.version)
    if args.json:
        out.write(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")
        return 0
    cohorts = meta.get("metrics", {}).get("cohorts", {})
    lines = [
        f"version: {meta['version']}",
        f"created_at: {meta.get('created_at')}",
        f"as_of: {meta.get('as_of')}  horizon_days: {meta.get('horizon_days')}",
        f"outcome: {meta.get('outcome')}",
        f"cohort: {meta.get('cohort')}",
        f"index dates: {meta['index_dates'][0]} .. {meta['index_dates'][-1]} "
        f"(hold-out {', '.join(meta.get('holdout_index_dates', []))})",
        f"code_version: {meta.get('code_version')}",
        f"snapshot_ids: {', '.join(meta.get('snapshot_ids', [])) or 'n/a'}",
        f"extract files: {len(meta.get('extract_checksums', {}))} (sha256 in metadata.json)",
        f"features: {len(meta.get('feature_names', []))}",
        f"best iteration: {meta.get('params', {}).get('best_iteration')}",
        # Models registered before the trainer was recorded were all trained in one process.
        f"trainer: {_trainer(meta.get('params', {}))}",
        f"calibration: {meta.get('calibration', {}).get('method')}",
        f"path: {meta['path']}",
    ]
    for cohort, scorers in cohorts.items():
        for scorer, m in scorers.items():
            lines.append(
                f"{cohort:>10} {scorer:<9} n={m['n']} AUROC {_num(m['auroc'])} "
                f"AUPRC {_num(m['auprc'])} Brier {_num(m['brier'])} "
                f"slope {_num(m['calibration_slope'])} ECE {_num(m['ece'])}"
            )
    out.write("\n".join(lines) + "\n")
    return 0
