"""Shared pytest setup: Prefect stays local and quiet; one Prefect test harness and one Prefect
server for children per session (per worker), the slow test files first."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli_process import prefect_server
from helpers.log_streams import rebind_closed_streams

from foundation.settings import PREFECT_LOGGING_CONFIG  # imports no Prefect

# Before anything imports prefect: a throwaway home, no telemetry.
_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="casefinder-prefect-"))
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# As the CLI does: the temporary server's own log goes to PREFECT_HOME/server.log.
os.environ.setdefault("PREFECT_LOGGING_SETTINGS_PATH", str(PREFECT_LOGGING_CONFIG))

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = REPO_ROOT / "tests" / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a `slow` test first, each file whole: with `make test`'s two workers
    (`--dist loadfile --no-loadscope-reorder`, which keeps this order) the short files fill
    in at the end, instead of a long end-to-end file starting when the other worker is done."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # a stable sort


@pytest.fixture(autouse=True)
def console_log_handlers_on_this_tests_stderr() -> None:
    """A console log handler still writing to an earlier test's captured stderr (closed when
    that test ended) writes to this test's instead (helpers.log_streams), so that no test's
    result depends on which files ran before it on its worker."""
    rebind_closed_streams(sys.stderr)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test harness (temporary server and database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A local Prefect server for this worker's `casefinder` children (each would start a
    temporary one otherwise): the environment that points them at it."""
    with prefect_server(tmp_path_factory.mktemp("prefect-server")) as url:
        yield {"PREFECT_API_URL": url}
