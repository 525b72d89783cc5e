"""Keeping Prefect's records of expected errors off the console: the CLI prints one line."""

from __future__ import annotations

import logging

from pipelines.errors import CasefinderError

PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect.flow_runs.runner")


class QuietExpectedErrors(logging.Filter):
    """Drop Prefect's records (and tracebacks) of expected errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, CasefinderError):
            return False
        return not any(
            marker in record.getMessage()
            for marker in ("ExtractError", "CasefinderError", "WarehouseBusyError")
        )


def quiet_expected_errors() -> None:
    """Install `QuietExpectedErrors` on Prefect's flow and task run loggers."""
    quiet = QuietExpectedErrors()
    for name in PREFECT_RUN_LOGGERS:
        logging.getLogger(name).addFilter(quiet)
