"""Prefect flow `score`: cohort, scores, contributions, reasons and evidence (wiring only)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from foundation.errors import CasefinderError
from foundation.settings import DEFAULT_OPT_OUT_POLICY, DEFAULT_RISK_TIERS
from foundation.warehouse import build_model, connect
from models import registry, scoring
from pipelines.flows.scaleout import dask_task_runner, score_distributed


@task(name="resolve-model-version", cache_policy=NO_CACHE)
def resolve_model_version(warehouse: Path, version: str | None) -> str:
    """The model to score with: the one given, else the latest registered."""
    found = version or registry.latest_version(warehouse)
    if not found:
        raise CasefinderError("no registered model: run `casefinder train` (or `run --retrain`)")
    return found


@task(name="build-score-cohort", cache_policy=NO_CACHE)
def build_score_cohort(warehouse: Path, as_of: date, opt_out_types: tuple[str, ...]) -> int:
    """Build `scores.score_cohort` (housebound at as-of, with exclusions); return its rows."""
    with connect(warehouse) as con:
        rows = build_model(
            con, "score_cohort", {"as_of": as_of, "opt_out_types": list(opt_out_types)}
        )
        if rows == 0:
            has = con.execute(
                "select count(*) from features.feat_patients where index_date = ?", [as_of]
            ).fetchone()
            if not has or not has[0]:
                raise CasefinderError(
                    f"no features at {as_of}: run `casefinder features` for that date first"
                )
        return rows


@task(name="score-and-explain", cache_policy=NO_CACHE)
def score_and_explain(
    warehouse: Path, as_of: date, version: str, risk_tiers: tuple[tuple[str, float], ...]
) -> int:
    """Score the listed cohort with TreeSHAP reasons and evidence; return patients scored."""
    model = registry.load(warehouse, version)
    with connect(warehouse) as con:
        return scoring.score_cohort(con, model, as_of, risk_tiers)


@task(name="score-with-fallback", cache_policy=NO_CACHE)
def score_with_fallback(
    warehouse: Path, as_of: date, reason: str, risk_tiers: tuple[tuple[str, float], ...]
) -> int:
    """Rank the listed cohort by the fallback points score, with its reasons and evidence."""
    with connect(warehouse) as con:
        return scoring.score_with_fallback(con, as_of, reason, risk_tiers)


@flow(name="score")
def score(
    warehouse: Path,
    as_of: date,
    model_version: str | None = None,
    opt_out_types: tuple[str, ...] = DEFAULT_OPT_OUT_POLICY["direct_care_lists"],
    risk_tiers: tuple[tuple[str, float], ...] = DEFAULT_RISK_TIERS,
    dask_address: str | None = None,
    fallback_reason: str | None = None,
) -> dict[str, object]:
    """Score the housebound cohort at `as_of` with a registered model (the latest by default).

    With `fallback_reason` (no model is fit to rank: why), the cohort is ranked by the
    fallback points score instead (models/fallback.py) and `model_version` is empty.

    Opt-out types and risk tiers come from the caller's settings (`opt_out_policy
    ["direct_care_lists"]`, `risk_tiers`). With `dask_address` each neighbourhood is scored
    and explained by its own task on Dask (pipelines/flows/scaleout.py), with the same
    results. Returns counts and the model version only.
    """
    opt_out_types = tuple(opt_out_types)
    risk_tiers = tuple(risk_tiers)
    if fallback_reason:
        housebound = build_score_cohort(warehouse, as_of, opt_out_types)
        scored = score_with_fallback(warehouse, as_of, fallback_reason, risk_tiers)
        return {
            "as_of": as_of.isoformat(),
            "model_version": "",
            "housebound": housebound,
            "scored": scored,
        }
    version = resolve_model_version(warehouse, model_version)
    housebound = build_score_cohort(warehouse, as_of, opt_out_types)
    if dask_address:
        scored = score_distributed.with_options(task_runner=dask_task_runner(dask_address))(
            warehouse, as_of, version, risk_tiers
        )
    else:
        scored = score_and_explain(warehouse, as_of, version, risk_tiers)
    return {
        "as_of": as_of.isoformat(),
        "model_version": version,
        "housebound": housebound,
        "scored": scored,
    }
