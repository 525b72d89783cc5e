"""The notifier: one JSON message to a local HTTP receiver; failures never reach the pipeline."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from pipelines.notify import ATTEMPTS, event_for_state, notify, payload


@dataclass
class _Settings:
    notify_webhook: str | None


class _Receiver:
    """A local HTTP server on 127.0.0.1 (port 0) recording POSTs; answers from `statuses`."""

    def __init__(self, statuses: list[int]) -> None:
        self.bodies: list[dict] = []
        self.statuses = statuses
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    with _Receiver([]) as r:
        yield r


def test_one_clear_message_is_posted(receiver: _Receiver) -> None:
    ok = notify(
        "warning",
        "2 thresholds breached: gp_events volume -30%",
        _Settings(receiver.url),
        flow="weekly-run",
        as_of="2026-11-16",
        state="Completed with warnings",
        report="out/reports/2026-11-16/run_report.html",
    )
    assert ok
    assert receiver.bodies == [
        {
            "event": "warning",
            "flow": "weekly-run",
            "as_of": "2026-11-16",
            "state": "Completed with warnings",
            "message": "2 thresholds breached: gp_events volume -30%",
            "report": "out/reports/2026-11-16/run_report.html",
        }
    ]


def test_nhs_numbers_are_redacted_from_the_message() -> None:
    assert payload("failed", "bad row for 999 000 0018")["message"] == "bad row for [redacted]"


def test_server_errors_are_retried_then_delivered() -> None:
    pauses: list[float] = []
    with _Receiver([503, 500]) as r:
        assert notify("failed", "boom", _Settings(r.url), sleep=pauses.append)
    assert len(r.bodies) == 3
    assert len(pauses) == 2


def test_unreachable_receiver_returns_false_and_logs_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with _Receiver([]) as r:
        url = r.url  # the server is closed on exit: nothing listens on this port any more
    pauses: list[float] = []
    with caplog.at_level("WARNING", logger="casefinder.notify"):
        assert notify("failed", "boom", _Settings(url), sleep=pauses.append) is False
    assert len(pauses) == ATTEMPTS - 1
    assert "could not be delivered" in caplog.text
    assert url not in caplog.text  # the URL may carry a token


def test_client_error_is_not_retried() -> None:
    with _Receiver([404]) as r:
        assert notify("failed", "boom", _Settings(r.url), sleep=lambda s: None) is False
    assert len(r.bodies) == 1


def test_no_webhook_configured_sends_nothing() -> None:
    assert notify("failed", "boom", _Settings(None)) is False


def test_malformed_url_does_not_raise() -> None:
    assert notify("failed", "boom", _Settings("not a url"), sleep=lambda s: None) is False


@pytest.mark.parametrize(
    ("state_type", "name", "event"),
    [
        ("FAILED", "Failed", "failed"),
        ("CRASHED", "Crashed", "crashed"),
        ("COMPLETED", "Completed with warnings", "warning"),
        ("COMPLETED", "Completed", None),
        ("CANCELLED", "Cancelled", None),
    ],
)
def test_which_final_states_notify(state_type: str, name: str, event: str | None) -> None:
    assert event_for_state(state_type, name) == event


def test_only_http_urls_are_used(tmp_path) -> None:
    target = tmp_path / "x"
    target.write_text("")
    assert notify("failed", "boom", _Settings(target.as_uri()), sleep=lambda s: None) is False
