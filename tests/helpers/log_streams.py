"""Log handlers left writing to a stream that has been closed (an earlier test's captured
stderr) are pointed at a stream that is open."""

from __future__ import annotations

import logging
from typing import TextIO


def rebind_closed_streams(stream: TextIO) -> int:
    """Every console handler of every logger whose stream is closed writes to `stream` from
    now on, Prefect's rich console included; returns how many were rebound.

    Prefect binds its console handler to whatever `sys.stderr` is when it first configures
    logging, which under pytest is a test's capture; once that test ends the stream is
    closed, and a later record through the handler prints "--- Logging error ---" into
    whichever test is running then."""
    rebound = 0
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, logging.FileHandler) or not isinstance(
                handler, logging.StreamHandler
            ):
                continue
            if getattr(handler.stream, "closed", False):
                handler.stream = stream  # not setStream: it would flush the closed one
                rebound += 1
            console = getattr(handler, "console", None)  # Prefect's rich console
            if getattr(getattr(console, "file", None), "closed", False):
                console.file = stream
                rebound += 1
    return rebound
