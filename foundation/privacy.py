"""Keeping identifiers out of logs and messages: redaction and a logging filter."""

from __future__ import annotations

import logging
import re

# Ten digits, possibly written in groups with spaces or hyphens (943 476 5919, 943-476-5919).
_NHS_NUMBER_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")


def redact(text: str) -> str:
    """Replace anything shaped like an NHS number with a placeholder."""
    return _NHS_NUMBER_LIKE.sub("[redacted]", text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts NHS-number-shaped digits from every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def install_redaction(logger_names: tuple[str, ...] = ("", "prefect", "casefinder")) -> None:
    """Attach the redacting filter to the root, Prefect and casefinder loggers' handlers."""
    flt = RedactingFilter()
    for name in logger_names:
        logger = logging.getLogger(name)
        logger.addFilter(flt)
        for handler in logger.handlers:
            handler.addFilter(flt)
