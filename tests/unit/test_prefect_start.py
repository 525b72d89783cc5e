"""`casefinder run` starts Prefect's temporary server early only when Prefect has no server."""

from __future__ import annotations

from prefect.settings import PREFECT_API_URL, temporary_settings

from pipelines.commands.run import start_prefect_server


def test_no_early_start_when_prefect_has_a_server() -> None:
    # A user's own server (or the tests' harness): nothing is started in the background.
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert start_prefect_server() is None
