"""The local Prefect server's own log goes to PREFECT_HOME/server.log, not into a run's output.

The temporary Prefect server retries SQLite "database is locked" writes by itself but logs
each retry with a traceback; under load that traceback used to land in the middle of
`casefinder run`'s stderr. These tests start a fresh interpreter configured the way the CLI
configures itself, then set up Prefect's logging as the server process does when it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from foundation.settings import PREFECT_LOGGING_CONFIG

SCRIPT = textwrap.dedent(
    """
    import logging
    from foundation.settings import configure_prefect_environment, load_settings

    configure_prefect_environment(load_settings())
    from prefect.logging.configuration import setup_logging

    setup_logging()  # what the Prefect server does first (prefect.server.api.server.create_app)

    try:
        raise RuntimeError("database is locked")
    except RuntimeError:
        logging.getLogger("prefect.server.services.task_run_recorder").error(
            "Error flushing 3 events (3 to retry, 0 dropped)", exc_info=True
        )
    logging.getLogger("uvicorn.error").error("uvicorn noise")
    logging.getLogger("some.library").warning("a library warning for the terminal")
    """
)


def _run(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(CASEFINDER_PREFECT_HOME=str(tmp_path / "prefect"), CASEFINDER_DATA_DIR=str(tmp_path))
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )


def test_server_tracebacks_go_to_the_server_log_not_the_terminal(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "uvicorn noise" not in result.stderr
    assert "a library warning for the terminal" in result.stderr  # the console still works
    server_log = (tmp_path / "prefect" / "server.log").read_text(encoding="utf-8")
    assert "Error flushing 3 events" in server_log
    assert "Traceback" in server_log and "database is locked" in server_log
    assert "uvicorn noise" in server_log


def test_a_users_own_prefect_logging_file_is_kept(tmp_path: Path) -> None:
    own = tmp_path / "mine.yml"
    own.write_text(
        "version: 1\ndisable_existing_loggers: false\n"
        "handlers:\n  out:\n    class: logging.StreamHandler\n    stream: ext://sys.stderr\n"
        "root:\n  level: WARNING\n  handlers: [out]\n",
        encoding="utf-8",
    )
    result = _run(tmp_path, PREFECT_LOGGING_SETTINGS_PATH=str(own))
    assert result.returncode == 0, result.stderr
    assert "Traceback" in result.stderr  # their configuration, not ours, decided
    assert not (tmp_path / "prefect" / "server.log").exists()


def test_the_logging_file_ships_inside_the_package() -> None:
    assert PREFECT_LOGGING_CONFIG.is_file()
    assert PREFECT_LOGGING_CONFIG.parent.name == "foundation"  # beside the settings module
