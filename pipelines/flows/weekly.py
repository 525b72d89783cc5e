"""Prefect flow `weekly_run`: ingest, train if needed, features, score, publish (wiring only)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from foundation.audit_copy import write_audit_copy
from foundation.locking import warehouse_lock
from foundation.settings import RunSettings, key_path_for
from foundation.warehouse import connect, connect_with_key
from models import registry
from pipelines.flows.artifacts import (
    final_state,
    retraining_rejected,
    run_artifacts,
)
from pipelines.flows.deploy import flow_run_hook, scheduled_settings
from pipelines.flows.feature_build import build_features
from pipelines.flows.ingest import ingest
from pipelines.flows.publish import publish, publish_pseudonymised
from pipelines.flows.score import score
from pipelines.flows.train import train
from pipelines.ingest import capacity as capacity_mod
from pipelines.ingest import feedback as feedback_mod
from reports import publish as pub
from reports.capacity import known_neighbourhoods


@task(name="resolve-as-of", cache_policy=NO_CACHE)
def resolve_as_of(as_of: date | None, ingested_as_of: str) -> date:
    """The run's as-of date: the one given, else the extract set's `extract_date`."""
    return as_of or date.fromisoformat(ingested_as_of)


@task(name="clean-stale-staging", cache_policy=NO_CACHE)
def clean_stale_staging(warehouse: Path, out: Path) -> int:
    """Remove the hidden staging folders that ended (e.g. killed) runs left in the model
    registry and under `out`; a live run's folders are held by it and left alone."""
    return registry.clean_stale_staging(registry.models_dir(warehouse)) + pub.clean_stale_staging(
        Path(out)
    )


@task(name="registered-model", cache_policy=NO_CACHE)
def registered_model(warehouse: Path) -> str | None:
    """The latest model registered beside the warehouse, or None."""
    return registry.latest_version(warehouse)


@task(name="check-publication", cache_policy=NO_CACHE)
def check_publication(
    warehouse: Path, out: Path, as_of: date, snapshot_id: Any, republish: bool
) -> dict[str, Any] | None:
    """Stop, skip or go on when `as_of` is already published (reports.publish)."""
    model = registry.latest_version(warehouse)
    with connect(warehouse) as con:
        return pub.check_republication(con, as_of, Path(out), snapshot_id, model, republish)


@task(name="load-capacity", cache_policy=NO_CACHE)
def load_capacity(warehouse: Path, capacity_file: Path | None) -> dict[str, int] | None:
    """This week's capacity per neighbourhood (None without a file); a neighbourhood the
    warehouse has never heard of stops the run (pipelines/ingest/capacity.py)."""
    if capacity_file is None:
        return None
    rows = capacity_mod.read_capacity(capacity_file)
    with connect(warehouse) as con:
        capacity_mod.check_neighbourhoods(capacity_file, rows, known_neighbourhoods(con))
    return capacity_mod.capacity_by_neighbourhood(rows)


@task(name="record-feedback", cache_policy=NO_CACHE)
def record_feedback(
    warehouse: Path,
    feedback: Path | None,
    as_of: date,
    key_file: Path | None,
    pseudonym_key: SecretStr | None,
) -> dict[str, int]:
    """Record the review outcomes of the lists returned into `feedback`, each once
    (pipelines/ingest/feedback.py), with the warehouse's pseudonymisation key; counts only."""
    if feedback is None:
        return {"files": 0, "recorded": 0, "duplicates": 0, "rejected": 0, "already_read": 0}
    key_hex = pseudonym_key.get_secret_value() if pseudonym_key else None
    with connect_with_key(warehouse, key_path_for(warehouse, key_file), key_hex) as (con, key):
        counts = feedback_mod.record_feedback(con, feedback, key, as_of)
    get_run_logger().info(
        "feedback: %(files)d new file(s), %(recorded)d review(s) recorded, %(rejected)d row(s)"
        " rejected, %(duplicates)d already recorded, %(already_read)d file(s) read before",
        counts,
    )
    return counts


@task(name="keep-audit-copy", cache_policy=NO_CACHE)
def keep_audit_copy(warehouse: Path) -> str:
    """Copy what `explain` reads of this publication beside the warehouse (audit_copy.py)."""
    with connect(warehouse) as con:
        return str(write_audit_copy(con, warehouse))


@flow(
    name="weekly_run",
    # One message on a failed, crashed or "Completed with warnings" run (pipelines/notify.py;
    # the hook of pipelines/flows/deploy.py knows the webhook in a process with no CLI).
    on_failure=[flow_run_hook],
    on_completion=[flow_run_hook],
    on_crashed=[flow_run_hook],
)
def weekly_run(
    extracts: Path,
    warehouse: Path,
    out: Path,
    as_of: date | None = None,
    retrain: bool = False,
    pseudonymised: bool = False,
    republish: bool = False,
    settings: RunSettings | None = None,
    capacity_file: Path | None = None,
    feedback: Path | None = None,
) -> dict[str, Any]:
    """The weekly job. Training writes its own `features.feat_training_patients`, so it may run
    before or after the as-of features; they are built once the publication check has passed.
    Returns paths and counts only.

    When no model is registered and none can be trained that passes the quality gate, the
    lists are ranked by the fallback points score and say so (OUTPUTS.md, "When no model is
    fit to rank"); a registered model is never replaced by a failing one.

    `settings` are the run's settings, resolved once by the command line; a scheduled run
    (no command line) gives none and they are resolved here, once, from the environment of
    the process serving it (pipelines/flows/deploy.py). The sub-flows get their values as
    parameters. With `settings.dask_address` training, scoring and list staging run on Dask
    (docs/data-engineer.md, "Scaling out with Dask").

    An as-of already published from the same extract checksums and model is left as it is
    (`already_published` in the result); from other inputs the run stops before publishing
    unless `republish` (OUTPUTS.md, "Publications are never silently replaced").

    With `capacity_file` (neighbourhood_code,weekly_reviews) the lists mark the patients to
    review this week; the lists returned into `feedback` are recorded first and shape the cut
    (`review_window_days`, `rise_threshold`: OUTPUTS.md "Weekly capacity and review feedback").

    With `pseudonymised`, the publication is the analysts' pseudonymised file under
    `out/pseudonymised/<as_of>/` instead of the direct-care lists and run report.
    """
    settings = settings or scheduled_settings()
    # The command line passes its --capacity / --feedback; a scheduled run has the settings'.
    capacity_file = capacity_file if capacity_file is not None else settings.capacity_file
    feedback = feedback if feedback is not None else settings.feedback_dir
    policy = settings.opt_out_policy
    # A second run on the same warehouse fails here at once (re-entrant under the CLI).
    with warehouse_lock(warehouse):
        clean_stale_staging(warehouse, out)
        ingested = ingest(
            extracts,
            warehouse,
            as_of=as_of,
            max_rejected_share=settings.max_rejected_share,
            key_file=settings.key_file,
            pseudonym_key=settings.pseudonym_key,
        )
        day = resolve_as_of(as_of, ingested["as_of"])
        # A bad capacity file stops the run before anything is trained or published.
        capacity = None if pseudonymised else load_capacity(warehouse, capacity_file)
        registered = registered_model(warehouse)
        trained, warnings, fallback_reason = None, [], None
        if retrain or registered is None:
            trained = train(
                warehouse,
                as_of=day,
                horizon_days=settings.horizon_days,
                seed=settings.seed,
                opt_out_types=tuple(policy["model_training"]),
                dask_address=settings.dask_address,
                raise_unfit=False,
            )
            if trained["unfit"] and registered is None:
                # Nothing fit to rank: the lists are ranked by the fallback score (OUTPUTS.md).
                fallback_reason = trained["unfit"]
                get_run_logger().warning("ranked by the fallback score: %s", fallback_reason)
            elif trained["unfit"]:
                warnings.append(retraining_rejected(trained["unfit"], registered))
                get_run_logger().warning("%s", warnings[-1].message)
        decided = None
        if not pseudonymised:
            decided = check_publication(warehouse, out, day, ingested["snapshot_id"], republish)
            if decided and "unchanged" in decided:
                keep_audit_copy(warehouse)  # in case a kill came between commit and copy
                return {
                    "as_of": day.isoformat(),
                    "snapshot_id": ingested["snapshot_id"],
                    "trained": trained["version"] if trained else None,
                    "warnings": [w.message for w in warnings],
                    "already_published": decided["unchanged"],
                    "lists_dir": str(Path(out) / "lists" / day.isoformat()),
                    "reports_dir": str(Path(out) / "reports" / day.isoformat()),
                }
            if decided and "replaces" in decided:
                warnings.insert(0, pub.republished_warning(decided["replaces"]))
            # Before the lists are built: returned outcomes shape this week's cut.
            record_feedback(warehouse, feedback, day, settings.key_file, settings.pseudonym_key)
        features = build_features(warehouse, [day])
        scored = score(
            warehouse,
            day,
            opt_out_types=tuple(policy["direct_care_lists"]),
            risk_tiers=settings.risk_tiers,
            dask_address=settings.dask_address,
            fallback_reason=fallback_reason,
        )
        if pseudonymised:
            analyst = publish_pseudonymised(
                warehouse, out, day, opt_out_types=tuple(policy["analyst_outputs"])
            )
            result = {
                "snapshot_id": ingested["snapshot_id"],
                "trained": trained["version"] if trained else None,
                "warnings": [w.message for w in warnings],
                "feature_rows": features,
                "scored": scored["scored"],
                "fallback_reason": fallback_reason or "",
                **analyst,
            }
            # No run report, so no thresholds to check: plain Completed unless retraining
            # was rejected.
            return final_state(warnings, data=result) if warnings else result
        published = publish(
            warehouse,
            out,
            day,
            data_docs=ingested.get("data_docs"),
            dask_address=settings.dask_address,
            run_warnings=warnings,
            change_threshold=settings.change_threshold,
            capacity=capacity,
            review_window_days=settings.review_window_days,
            risk_tiers=settings.risk_tiers,
        )
        # The run report's checks (the run's warnings first) decide the final state;
        # artifacts summarise the run.
        checks = published.pop("checks")
        keep_audit_copy(warehouse)  # explain answers from it while a later run is in progress
        run_artifacts(warehouse, out, day, checks)
        result = {
            "as_of": day.isoformat(),
            "snapshot_id": ingested["snapshot_id"],
            "trained": trained["version"] if trained else None,
            "warnings": [w.message for w in warnings],
            "feature_rows": features,
            "model_version": scored["model_version"],
            "fallback_reason": fallback_reason or "",
            "scored": scored["scored"],
            **published,
        }
    report = Path(out) / "reports" / day.isoformat() / "run_report.html"
    # "Completed with warnings" when a threshold is breached; callers still get `result`.
    return final_state(checks, data=result, report=str(report))
