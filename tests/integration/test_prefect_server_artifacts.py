"""A flow ending with casefinder's artifacts, final state and notification hook, under Prefect."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from pipelines import notify
from pipelines.flows.artifacts import final_state, publish_run_artifacts
from pipelines.notify import WARNING_STATE_NAME, flow_run_hook

NHS = "9990000018"


@dataclass(frozen=True)
class _Check:
    name: str
    value: float
    threshold: float
    breached: bool
    message: str


SUMMARY = {
    "as_of": "2026-11-16",
    "model_version": "m1",
    "extracts": {"gp_events": {"read": 10, "loaded": 8, "quarantined": 1, "duplicates": 1}},
    "cohort": {"housebound": 9, "listed": 8},
    "lists": {"NB01": {"rows": 5, "sha256": "x"}, "NB02": {"rows": 3, "sha256": "y"}},
}


@pytest.fixture
def webhook() -> Iterator[list[dict]]:
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # As the command line does with CASEFINDER_NOTIFY_WEBHOOK.
    notify.configure(f"http://127.0.0.1:{server.server_port}/")
    try:
        yield bodies
    finally:
        notify.configure(None)
        server.shutdown()
        server.server_close()
        thread.join()


def _flow(checks: list[_Check]):
    from prefect import flow, task

    @task
    def artifacts(summary: dict, found: list[_Check]) -> int:
        return len(publish_run_artifacts(summary, found, report="out/run_report.html"))

    @flow(
        name="casefinder-artifacts-probe",
        on_completion=[flow_run_hook],
        on_failure=[flow_run_hook],
        on_crashed=[flow_run_hook],
    )
    def probe(as_of: str | None = None, out: str = "out", fail: bool = False):
        if fail:
            raise RuntimeError(f"extract broken near {NHS}")
        artifacts(SUMMARY, checks)
        data = {"listed": 8, "as_of": "2026-11-16", "reports_dir": "out/reports/2026-11-16"}
        return final_state(checks, data=data, report="out/run_report.html")

    return probe


def test_warning_run_has_artifacts_named_state_and_one_notification(
    prefect_harness: None, webhook: list[dict]
) -> None:
    from prefect.artifacts import Artifact

    checks = [
        _Check("volume:gp_events", -0.3, -0.2, True, "gp_events: rows read 1000 -> 700 (-30%)"),
        _Check("psi:efi", 0.05, 0.2, False, "feature efi: PSI 0.050 (stable)"),
    ]
    state = _flow(checks)(return_state=True)
    assert state.is_completed()
    assert state.name == WARNING_STATE_NAME
    assert "volume:gp_events" in state.message
    assert state.result()["listed"] == 8

    summary_md = Artifact.get("casefinder-run-summary")
    assert summary_md is not None
    assert "1 threshold(s) breached" in summary_md.data
    assert "| gp_events | 10 | 8 | 1 | 1 |" in summary_md.data
    checks_table = json.loads(Artifact.get("casefinder-run-checks").data)
    assert [row["breached"] for row in checks_table] == [True, False]
    lists = json.loads(Artifact.get("casefinder-list-sizes").data)
    assert lists == [{"neighbourhood": "NB01", "rows": 5}, {"neighbourhood": "NB02", "rows": 3}]

    assert len(webhook) == 1
    assert webhook[0]["event"] == "warning"
    assert webhook[0]["state"] == WARNING_STATE_NAME
    assert webhook[0]["as_of"] == "2026-11-16"
    assert webhook[0]["report"] == "out/reports/2026-11-16/run_report.html"


def test_clean_run_sends_nothing_and_failed_run_sends_one_redacted_message(
    prefect_harness: None, webhook: list[dict]
) -> None:
    ok = [_Check("psi:efi", 0.01, 0.2, False, "stable")]
    state = _flow(ok)(return_state=True)
    assert state.name == "Completed"
    assert webhook == []

    failed = _flow(ok)(fail=True, return_state=True)
    assert failed.is_failed()
    assert len(webhook) == 1
    assert webhook[0]["event"] == "failed"
    assert "extract broken near [redacted]" in webhook[0]["message"]
    assert webhook[0]["as_of"] is None  # failed before an as-of date was known
    assert NHS not in json.dumps(webhook)
