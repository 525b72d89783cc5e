"""The `casefinder` command line: parses options, calls flows, prints results, sets exit codes.

Exit codes (docs/contract OUTPUTS.md): 0 done; 2 bad input or usage (one line on stderr, no
traceback); 1 anything unexpected. Each command lives in `pipelines/commands/<name>.py` and
exposes `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import atexit
import errno
import importlib
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from foundation import __version__
from foundation.errors import CasefinderError
from foundation.locking import warehouse_lock
from foundation.privacy import redact
from foundation.settings import Settings, configure_prefect_environment, load_settings
from pipelines import notify
from pipelines.console import configure

# Only commands that work are listed here; each module is one command.
COMMAND_MODULES: tuple[str, ...] = (
    # one line per working command, in the order `--help` lists them
    "pipelines.commands.synth",
    "pipelines.commands.demo",
    "pipelines.commands.check",
    "pipelines.commands.ingest",
    "pipelines.commands.features",
    "pipelines.commands.train",
    "pipelines.commands.models",
    "pipelines.commands.run",
    "pipelines.commands.explain",
    "pipelines.commands.serve",
)
# Commands that only read the warehouse: no lock, no log file, nothing written beside it.
READ_ONLY_COMMANDS = frozenset({"explain"})

log = logging.getLogger("casefinder")

SUPPRESS = argparse.SUPPRESS
VERBOSE_HELP = (
    "show every log line on the console (Prefect's included); without it the console shows "
    "warnings and errors and the log file beside the warehouse keeps the rest"
)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _load_commands() -> list[ModuleType]:
    return [importlib.import_module(name) for name in COMMAND_MODULES]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-command per module in `COMMAND_MODULES`."""
    parser = _Parser(
        prog="casefinder",
        description=(
            "Find housebound patients at risk of crisis before it happens: ingest GP, "
            "community and hospital extracts, build frailty features, score with a "
            "calibrated model and publish ranked proactive-care lists per neighbourhood."
        ),
        epilog="Run `casefinder COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"casefinder {__version__}")
    parser.add_argument(
        "--log-level",
        default=None,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="logging verbosity (default: INFO, or CASEFINDER_LOG_LEVEL)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _load_commands():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.add_argument(
            "-v", "--verbose", action="store_true", default=SUPPRESS, help=VERBOSE_HELP
        )
        cmd.set_defaults(_run=module.run)
    return parser


def _log_file(args: argparse.Namespace, settings: Settings) -> Path | None:
    """Where this command keeps its details: beside the warehouse it writes, else nowhere.

    `explain` writes nothing in or next to the warehouse (it is for read-only users).
    """
    warehouse = getattr(args, "warehouse", None)
    if warehouse is None or args.command in READ_ONLY_COMMANDS:
        return settings.log_file
    return settings.log_path(Path(warehouse))


def _prefect_home(args: argparse.Namespace, settings: Settings) -> tuple[Path, bool]:
    """Prefect's home for this command, and whether to create it: beside the warehouse (the
    demo's is in its --out); a command with neither (synth, check) runs no flow and creates
    no folder, so running the CLI from another folder leaves no `./data` there."""
    warehouse = getattr(args, "warehouse", None)
    if warehouse is None and args.command == "demo" and getattr(args, "out", None):
        warehouse = Path(args.out) / "warehouse.duckdb"
    home = settings.prefect_home_for(Path(warehouse) if warehouse else None)
    return home, warehouse is not None or not settings.prefect_home_default


_ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a folder in the path is a file",
    errno.EEXIST: "a file is in the way of a folder",
}
_ENVIRONMENT_TEXT = (
    ("No space left on device", errno.ENOSPC),
    ("Disk quota exceeded", errno.EDQUOT),
    ("Read-only file system", errno.EROFS),
    ("Permission denied", errno.EACCES),
)


def environment_problem(exc: BaseException) -> str | None:
    """One line for a fault of the machine rather than the data (disk full, read-only, ...).

    Looks through the exception and its causes for an `OSError` with a known errno, or a
    DuckDB I/O error whose text names one; returns None for anything else.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _ENVIRONMENT_ERRNOS:
            where = f" ({current.filename})" if current.filename else ""
            return f"{_ENVIRONMENT_ERRNOS[current.errno]}{where}; the run stopped"
        text = str(current)
        for marker, code in _ENVIRONMENT_TEXT:
            if marker in text:
                path = re.search(r'"([^"]+)"', text)
                where = f" ({path.group(1)})" if path else ""
                return f"{_ENVIRONMENT_ERRNOS[code]}{where}; the run stopped"
        current = current.__cause__ or current.__context__
    return None


def _run_holding_the_warehouse(args: argparse.Namespace) -> int:
    """Run the command; a command with `--warehouse` first takes the warehouse lock, so a
    second run on the same warehouse fails at once with one line (foundation/locking.py).
    A read-only command (`explain`) never takes it: it must work while a run holds it."""
    warehouse = getattr(args, "warehouse", None)
    if warehouse is None or args.command in READ_ONLY_COMMANDS:
        return int(args._run(args) or 0)
    with warehouse_lock(warehouse):
        return int(args._run(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    # Everything casefinder creates (warehouse, key, lists, reports, logs) is owner-only:
    # sharing a list with a team is a deliberate act (docs/governance.md).
    previous = os.umask(0o077)
    try:
        return _main(argv)
    finally:
        os.umask(previous)


def _main(argv: Sequence[str] | None) -> int:
    try:
        parser = build_parser()  # commands may read settings for their defaults
    except CasefinderError as exc:
        sys.stderr.write(f"casefinder: error: {redact(str(exc))}\n")
        return exc.exit_code
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
        notify.configure(settings.notify_webhook)  # the weekly flow's state hooks send here
        level = args.log_level or settings.log_level
        log_file = configure(level, args.verbose, _log_file(args, settings))
        if args.command not in READ_ONLY_COMMANDS:  # explain needs no Prefect, creates nothing
            configure_prefect_environment(settings, *_prefect_home(args, settings))
    except CasefinderError as exc:
        sys.stderr.write(f"casefinder: error: {redact(str(exc))}\n")
        return exc.exit_code
    except OSError as exc:  # e.g. PREFECT_HOME / data folder not writable
        sys.stderr.write(
            f"casefinder: error: cannot prepare {exc.filename or 'folders'}: "
            f"{exc.strerror or type(exc).__name__}\n"
        )
        return 2
    try:
        return _run_holding_the_warehouse(args)
    except CasefinderError as exc:
        log.debug("expected problem", exc_info=True)
        sys.stderr.write(f"casefinder: error: {redact(str(exc))}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("casefinder: interrupted\n")
        return 130
    except Exception as exc:
        # The traceback goes to the log file (and, with --verbose or DEBUG, the console).
        log.error("%s: %s", type(exc).__name__, redact(str(exc))[:2000], exc_info=True)
        problem = environment_problem(exc)
        if problem is not None:  # disk full, read-only or forbidden folder: exit 2, one line
            sys.stderr.write(f"casefinder: error: {redact(problem)}{_see(log_file)}\n")
            return 2
        first = redact(str(exc)).strip().splitlines()[:1] or [""]
        sys.stderr.write(
            f"casefinder: unexpected error ({type(exc).__name__}): {first[0][:500]}"
            f"{_see(log_file) or '; re-run with --verbose for details'}\n"
        )
        return 1


def _see(log_file: Path | None) -> str:
    """The end of an error line that names the log file with the details, if there is one."""
    return f" (details in {log_file})" if log_file is not None and log_file.exists() else ""


def quiet_interpreter_shutdown() -> None:
    """Send what the interpreter prints to stderr while it shuts down to /dev/null.

    DuckDB 2.0's nanobind bindings print a "nanobind: leaked N instances!" report (dozens of
    lines) when the interpreter exits with DuckDB's module-level objects still alive, which
    a full weekly run (Prefect, GX, DuckDB) does. The report is about memory the process is
    returning to the system anyway and would bury the run's last lines. Registered first, the
    handler runs after every other exit handler (Prefect stopping its server, logging's
    flush), so only the finalisation's own output goes. At log level DEBUG it is kept.
    """

    def silence_stderr() -> None:
        if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
            return
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    atexit.register(silence_stderr)


def console_main() -> int:
    """The `casefinder` console script: `main`, with a quiet interpreter shutdown."""
    quiet_interpreter_shutdown()
    return main()


if __name__ == "__main__":
    raise SystemExit(console_main())
