"""Prefect flow `weekly_run`: ingest, train if needed, features, score, publish (wiring only)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from pipelines.flows.features import build_features
from pipelines.flows.ingest import ingest
from pipelines.flows.publish import publish
from pipelines.flows.score import score
from pipelines.flows.train import train


@task(name="resolve-as-of", cache_policy=NO_CACHE)
def resolve_as_of(as_of: date | None, ingested_as_of: str) -> date:
    """The run's as-of date: the one given, else the extract set's `extract_date`."""
    return as_of or date.fromisoformat(ingested_as_of)


@task(name="needs-training", cache_policy=NO_CACHE)
def needs_training(warehouse: Path, retrain: bool) -> bool:
    """True on `--retrain` or when no model is registered beside the warehouse."""
    from models.registry import latest_version

    return retrain or latest_version(warehouse) is None


@flow(name="weekly_run")
def weekly_run(
    extracts: Path,
    warehouse: Path,
    out: Path,
    as_of: date | None = None,
    retrain: bool = False,
) -> dict[str, Any]:
    """The weekly job. Training runs before the as-of features are built because it rebuilds
    `features.feat_patients` at its own index dates. Returns paths and counts only."""
    ingested = ingest(extracts, warehouse, as_of=as_of)
    day = resolve_as_of(as_of, ingested["as_of"])
    trained = train(warehouse, as_of=day) if needs_training(warehouse, retrain) else None
    features = build_features(warehouse, [day])
    scored = score(warehouse, day)
    published = publish(warehouse, out, day, data_docs=ingested.get("data_docs"))
    return {
        "as_of": day.isoformat(),
        "snapshot_id": ingested["snapshot_id"],
        "trained": trained["version"] if trained else None,
        "feature_rows": features,
        "model_version": scored["model_version"],
        "scored": scored["scored"],
        **published,
    }
