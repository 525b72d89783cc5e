"""A log handler left on a closed stream (an earlier test's capture) is pointed at an open one."""

from __future__ import annotations

import io
import logging

from helpers.log_streams import rebind_closed_streams
from prefect.logging.handlers import PrefectConsoleHandler


def _emit_after_rebinding(handler: logging.StreamHandler, to: io.StringIO, message: str) -> int:
    """Attach `handler` to a logger, rebind closed streams to `to`, emit `message` through it;
    returns how many handlers were rebound."""
    logger = logging.getLogger(f"casefinder.test.log-streams.{id(handler)}")
    logger.addHandler(handler)
    try:
        rebound = rebind_closed_streams(to)
        handler.emit(
            logging.LogRecord(logger.name, logging.WARNING, __file__, 1, message, None, None)
        )
    finally:
        logger.removeHandler(handler)
    return rebound


def test_a_handler_on_a_closed_stream_writes_to_the_open_one() -> None:
    closed, open_ = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(closed)
    closed.close()
    assert _emit_after_rebinding(handler, open_, "after the capture closed") >= 1
    assert "after the capture closed" in open_.getvalue()


def test_prefects_console_handler_on_a_closed_stream_writes_to_the_open_one() -> None:
    closed, open_ = io.StringIO(), io.StringIO()
    handler = PrefectConsoleHandler(stream=closed)
    closed.close()
    _emit_after_rebinding(handler, open_, "Prefect after the capture closed")
    assert "Prefect after the capture closed" in open_.getvalue()


def test_a_handler_on_an_open_stream_is_left_alone() -> None:
    mine, other = io.StringIO(), io.StringIO()
    _emit_after_rebinding(logging.StreamHandler(mine), other, "still mine")
    assert "still mine" in mine.getvalue() and other.getvalue() == ""
