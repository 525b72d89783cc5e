"""`casefinder run` starts Prefect's temporary server early only when Prefect has no server."""

from __future__ import annotations

from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL, temporary_settings

from pipelines.commands.run import start_prefect_server


def test_no_early_start_when_prefect_has_a_server() -> None:
    # A user's own server (or the tests' harness): nothing is started in the background.
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert start_prefect_server() is None


def test_a_failed_early_start_is_stopped_for_the_flow_to_start_afresh(monkeypatch) -> None:
    stopped: list[bool] = []

    def fail(self: SubprocessASGIServer, timeout: int | None = None) -> None:
        raise RuntimeError("Timed out while attempting to connect to ephemeral Prefect API server.")

    monkeypatch.setattr(SubprocessASGIServer, "start", fail)
    monkeypatch.setattr(SubprocessASGIServer, "stop", lambda self: stopped.append(True))
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        thread = start_prefect_server()
    assert thread is not None
    thread.join()
    assert stopped == [True]
