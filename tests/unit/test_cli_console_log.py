"""The console log of the command line: no traceback (Prefect's included) unless DEBUG, and
nothing after a stopped run's last line from Prefect's temporary server stopping."""

from __future__ import annotations

import io
import logging

from pipelines.cli import console_handler
from pipelines.errors import QualityGateError


def _console(level: str, emit) -> str:
    handler = console_handler(level)
    stream = io.StringIO()
    handler.setStream(stream)
    logger = logging.getLogger("prefect.flow_runs.console-test")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def _failed_task(logger: logging.Logger) -> None:
    # What Prefect's task engine does when a task raises.
    try:
        raise QualityGateError("model not registered: housebound AUROC cannot be computed")
    except QualityGateError as exc:
        logger.error("Task run failed with exception: %r", exc, exc_info=True)


def test_a_failed_task_is_one_line_on_the_console():
    text = _console("INFO", _failed_task)
    assert "Traceback" not in text
    assert text.count("\n") == 1
    assert "Task run failed with exception: QualityGateError('model not registered" in text


def test_at_debug_level_the_traceback_is_shown():
    text = _console("DEBUG", _failed_task)
    assert "Traceback (most recent call last)" in text
    assert 'raise QualityGateError("model not registered' in text


def test_the_temporary_server_stopping_at_exit_prints_nothing():
    def server(logger: logging.Logger) -> None:
        logger.info("Starting temporary server on http://127.0.0.1:8759")
        logger.info("Stopping temporary server on %s", "http://127.0.0.1:8759")

    text = _console("INFO", server)
    assert "Starting temporary server" in text
    assert "Stopping" not in text
