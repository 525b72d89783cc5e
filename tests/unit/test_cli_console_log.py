"""The console log of the command line: no traceback (Prefect's included) unless DEBUG, and
nothing after a stopped run's last line from Prefect's temporary server stopping."""

from __future__ import annotations

import io
import logging

from pipelines.cli import console_handler
from pipelines.errors import QualityGateError


def _console(level: str, emit) -> tuple[str, str]:
    """What the console handler wrote, and what a handler before it on the logger wrote."""
    handler = console_handler(level)
    stream = io.StringIO()
    handler.setStream(stream)
    # As Prefect's API log handler does before the console sees a record: it formats it,
    # which caches the traceback text on the record.
    first = logging.StreamHandler(io.StringIO())
    logger = logging.getLogger("prefect.flow_runs.console-test")
    logger.propagate = False
    logger.addHandler(first)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        emit(logger)
    finally:
        logger.removeHandler(first)
        logger.removeHandler(handler)
    return stream.getvalue(), first.stream.getvalue()


def _failed_task(logger: logging.Logger) -> None:
    # What Prefect's task engine does when a task raises.
    try:
        raise QualityGateError("model not registered: housebound AUROC cannot be computed")
    except QualityGateError as exc:
        logger.error("Task run failed with exception: %r", exc, exc_info=True)


def test_a_failed_task_is_one_line_on_the_console():
    text, other = _console("INFO", _failed_task)
    assert "Traceback" not in text
    assert text.count("\n") == 1
    assert "Task run failed with exception: QualityGateError('model not registered" in text
    # The other handlers (Prefect's run log) keep the traceback.
    assert "Traceback (most recent call last)" in other


def test_at_debug_level_the_traceback_is_shown():
    text, _ = _console("DEBUG", _failed_task)
    assert "Traceback (most recent call last)" in text
    assert 'raise QualityGateError("model not registered' in text


def test_the_temporary_server_stopping_at_exit_prints_nothing():
    def server(logger: logging.Logger) -> None:
        logger.info("Starting temporary server on http://127.0.0.1:8759")
        logger.info("Stopping temporary server on %s", "http://127.0.0.1:8759")

    text, _ = _console("INFO", server)
    assert "Starting temporary server" in text
    assert "Stopping" not in text
