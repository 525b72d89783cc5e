"""Failure and warning notifications: one JSON message to a configurable webhook, never raising."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

from foundation.privacy import redact

log = logging.getLogger("casefinder.notify")

TIMEOUT_SECONDS = 5.0
ATTEMPTS = 3
BACKOFF_SECONDS = (0.5, 2.0)
# State names casefinder gives a run whose checks breached a threshold.
WARNING_STATE_NAME = "Completed with warnings"


class _HasWebhook(Protocol):
    notify_webhook: str | None


class _Webhook:
    """Where `flow_run_hook` sends its messages. Prefect state hooks take no parameters of
    ours, so the CLI (or a scheduled run's entry) sets it once with `configure`."""

    notify_webhook: str | None = None
    configured: bool = False


_HOOK_TARGET = _Webhook()


def configure(notify_webhook: str | None) -> None:
    """Send the state hooks' messages to `notify_webhook` (the setting; None: send nothing)."""
    _HOOK_TARGET.notify_webhook = notify_webhook
    _HOOK_TARGET.configured = True


def is_configured() -> bool:
    """Whether this process has been told the webhook (`configure`)."""
    return _HOOK_TARGET.configured


def payload(
    event: str,
    message: str,
    *,
    flow: str | None = None,
    as_of: str | None = None,
    state: str | None = None,
    report: str | None = None,
) -> dict[str, Any]:
    """The JSON body: `{"event", "flow", "as_of", "state", "message", "report"}` (redacted)."""
    return {
        "event": event,
        "flow": flow,
        "as_of": as_of,
        "state": state,
        "message": redact(message)[:2000],
        "report": report,
    }


def notify(
    event: str,
    message: str,
    settings: _HasWebhook,
    *,
    flow: str | None = None,
    as_of: str | None = None,
    state: str | None = None,
    report: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """POST one message to `settings.notify_webhook`; True when the receiver accepted it.

    Retries a few times with backoff on connection errors and 5xx answers, with a short
    timeout per attempt. Never raises into the pipeline: a failure is logged as a warning
    (without the URL, which may carry a token) and False is returned. With no webhook
    configured it does nothing and returns False.
    """
    url = getattr(settings, "notify_webhook", None)
    if not url:
        log.debug("no notify webhook configured; %s event not sent", event)
        return False
    if not url.lower().startswith(("http://", "https://")):
        log.warning("notify webhook is not an http(s) URL; %s event not sent", event)
        return False
    body = json.dumps(
        payload(event, message, flow=flow, as_of=as_of, state=state, report=report)
    ).encode("utf-8")
    problem = "not attempted"
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "casefinder-notify"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                if 200 <= response.status < 300:
                    log.info("notification sent (%s)", event)
                    return True
                problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
            if exc.code < 500:
                break  # the receiver refused the message; retrying will not help
        except (urllib.error.URLError, OSError, ValueError) as exc:
            problem = type(exc).__name__
        if attempt < ATTEMPTS:
            sleep(BACKOFF_SECONDS[min(attempt - 1, len(BACKOFF_SECONDS) - 1)])
    log.warning("notification (%s) could not be delivered: %s", event, problem)
    return False


def event_for_state(state_type: str, state_name: str | None) -> str | None:
    """Which event a final flow-run state raises: failed, crashed, warning, or None."""
    kind = state_type.upper()
    if kind == "FAILED":
        return "failed"
    if kind == "CRASHED":
        return "crashed"
    if kind == "COMPLETED" and state_name == WARNING_STATE_NAME:
        return "warning"
    return None


def _result_of(state: Any) -> dict[str, Any]:
    """The run's returned dict when the state still holds it in memory (paths, counts)."""
    if not state.is_completed():
        return {}
    try:
        value = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - a notification must never fail the run
        return {}
    return value if isinstance(value, dict) else {}


def flow_run_hook(flow: Any, flow_run: Any, state: Any) -> None:
    """A Prefect flow state hook: `@flow(on_failure=[flow_run_hook], on_completion=[...],
    on_crashed=[...])`. Sends one message for a failed, crashed or warning run; nothing for a
    clean completion. Reads only the run's name, state and its path/date parameters; the
    webhook is the one given to `configure`."""
    event = event_for_state(str(getattr(state.type, "value", state.type)), state.name)
    if event is None:
        return
    params = dict(getattr(flow_run, "parameters", None) or {})
    result = _result_of(state)
    as_of = params.get("as_of") or result.get("as_of")
    out = params.get("out") or params.get("out_dir")
    report = f"{out}/reports/{as_of}/run_report.html" if out and as_of else None
    if result.get("reports_dir"):
        report = f"{result['reports_dir']}/run_report.html"
    message = state.message or f"{flow.name} finished as {state.name}"
    notify(
        event,
        f"casefinder {flow.name} run {flow_run.name}: {message}",
        _HOOK_TARGET,
        flow=flow.name,
        as_of=str(as_of) if as_of else None,
        state=state.name,
        report=report,
    )
