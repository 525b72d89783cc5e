"""What the console shows while a command runs, and the log file that keeps the rest.

The console (stderr) shows warnings and errors a person acts on, without tracebacks and
without Prefect's state reports ("Finished in state Completed()"): an expected problem then
ends stderr with the CLI's one line. Everything at INFO and above, tracebacks included, goes
to the log file (`Settings.log_path`), redacted like every other log line. `--verbose` (or
`--log-level DEBUG`) puts every record back on the console.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from foundation.privacy import install_redaction, redact

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers whose INFO records are noise even in a log file.
NOISY = ("great_expectations", "distributed", "urllib3", "httpx", "alembic")


class RedactingFormatter(logging.Formatter):
    """Formats a record, traceback included, then redacts NHS-number-shaped digits."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class ConsoleFilter(logging.Filter):
    """The console without `--verbose`: no tracebacks, no Prefect state reports, no warnings
    module noise; each of those is in the log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info or record.exc_text or record.stack_info:
            return False
        if record.name == "py.warnings":
            return False
        message = record.getMessage()
        if record.name.startswith("prefect") and (
            message.startswith(("Finished in state", "Encountered exception"))
            or "Traceback (most recent call last)" in message
        ):
            return False
        return "Traceback (most recent call last)" not in message


def configure(level: str, verbose: bool, log_file: Path | None) -> Path | None:
    """Set up the console handler and, when `log_file` can be written, the file handler.

    Returns the log file's path, or None when there is none (no file asked for, or its
    folder cannot be created: the console still works).
    """
    numeric = getattr(logging, level, logging.INFO)
    root = logging.getLogger()
    for handler in list(root.handlers):  # ours from an earlier call in this process
        if getattr(handler, "casefinder", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(min(numeric, logging.INFO))
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(RedactingFormatter(FORMAT))
    console.casefinder = True  # type: ignore[attr-defined]
    if verbose or numeric <= logging.DEBUG:
        console.setLevel(numeric)
    else:
        console.setLevel(max(numeric, logging.WARNING))
        console.addFilter(ConsoleFilter())
    root.addHandler(console)
    written: Path | None = None
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            file_handler = logging.FileHandler(log_file, encoding="utf-8", delay=True)
        except OSError:
            file_handler = None
        if file_handler is not None:
            file_handler.setFormatter(RedactingFormatter(FORMAT))
            file_handler.casefinder = True  # type: ignore[attr-defined]
            file_handler.setLevel(min(numeric, logging.INFO))
            root.addHandler(file_handler)
            written = log_file
    logging.captureWarnings(True)
    install_redaction()
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, numeric))
    return written
