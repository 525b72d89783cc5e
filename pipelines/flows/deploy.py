"""Scheduling the weekly run: a served deployment with a cron schedule (Monday 06:00 London)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from foundation.errors import CasefinderError
from foundation.settings import RunSettings, load_settings
from pipelines import notify

log = logging.getLogger("casefinder.deploy")

DEFAULT_CRON = "0 6 * * 1"  # Monday 06:00
DEFAULT_TIMEZONE = "Europe/London"  # follows GMT/BST, so the run stays at 06:00 local time
DEPLOYMENT_NAME = "casefinder-weekly"


def weekly_schedule(cron: str = DEFAULT_CRON, timezone: str = DEFAULT_TIMEZONE) -> Any:
    """A Prefect cron schedule in a named time zone."""
    # deferred: prefect is only needed to serve; `casefinder serve --help` reads the defaults
    from prefect.schedules import Cron

    return Cron(cron, timezone=timezone)


def deployment_parameters(
    extracts: Path, warehouse: Path, out: Path, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The run's parameters as JSON values: absolute paths (a worker may start elsewhere)."""
    params: dict[str, Any] = {
        "extracts": str(Path(extracts).resolve()),
        "warehouse": str(Path(warehouse).resolve()),
        "out": str(Path(out).resolve()),
    }
    params.update(extra or {})
    return params


def scheduled_settings() -> RunSettings:
    """The settings of a run with no command line (a scheduled or API-started run of the
    deployment): resolved once, at the weekly flow's entry, from the `CASEFINDER_*` variables
    of the process serving the deployment, which each run inherits. Also points the
    notification hooks at `CASEFINDER_NOTIFY_WEBHOOK`."""
    settings = load_settings()
    notify.configure(settings.notify_webhook)
    return settings.for_run()


def flow_run_hook(flow: Any, flow_run: Any, state: Any) -> None:
    """The weekly flow's notification hook (`notify.flow_run_hook`). A process with no command
    line that did not run the flow's body (a worker reporting a run it saw crash) resolves
    the settings here first, once; a bad setting is logged, never raised into Prefect."""
    if not notify.is_configured():
        try:
            scheduled_settings()
        except CasefinderError as exc:
            log.warning("no notification sent: %s", exc)
            return
    notify.flow_run_hook(flow, flow_run, state)


def serve_flow(
    flow: Any,
    parameters: Mapping[str, Any],
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
    name: str = DEPLOYMENT_NAME,
    paused: bool = False,
) -> None:
    """Register `flow` as a deployment with the schedule and serve it until interrupted.

    Blocks. Runs go through the Prefect API in `PREFECT_API_URL` (a `prefect server start`
    server); at most one run of the deployment at a time (`concurrency_limit=1`), and the
    warehouse lock refuses any other run on the same warehouse.
    """
    # deferred: prefect is only needed to serve; `casefinder serve --help` reads the defaults
    from prefect import serve
    from prefect.deployments.runner import EntrypointType

    # `prefect.serve(flow.to_deployment(...))`, not `flow.serve(...)`: the latter runs each
    # flow run from a pickled copy of the flow, whose functions lose the module globals that
    # `from __future__ import annotations` hints (Path, date) need, and every run fails
    # parameter validation (Prefect 3.8.8). A served deployment instead starts each run with
    # `python -m prefect.engine`, which imports the flow's module by its dotted path, as a
    # worker does.
    deployment = flow.to_deployment(
        name=name,
        schedules=[weekly_schedule(cron, timezone)],
        parameters=dict(parameters),
        paused=paused,
        concurrency_limit=1,
        tags=["casefinder"],
        description="casefinder weekly run: ingest, features, train, score, publish",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    serve(deployment, limit=1)
