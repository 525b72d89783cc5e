"""The `casefinder` command line: parses options, calls flows, prints results, sets exit codes.

Exit codes (docs/contract OUTPUTS.md): 0 done; 2 bad input or usage (one line on stderr, no
traceback); 1 anything unexpected. Each command lives in `pipelines/commands/<name>.py` and
exposes `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from pipelines import __version__
from pipelines.errors import CasefinderError
from pipelines.privacy import redact

# Only commands that work are listed here; each module is one command.
COMMAND_MODULES: tuple[str, ...] = ()

log = logging.getLogger("casefinder")


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _load_commands():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def _configure_logging(level: str) -> None:
    from pipelines.privacy import install_redaction

    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_redaction()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    from pipelines.settings import configure_prefect_environment, load_settings

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    settings = load_settings()
    _configure_logging(args.log_level or settings.log_level)
    configure_prefect_environment(settings)
    try:
        return int(args._run(args) or 0)
    except CasefinderError as exc:
        sys.stderr.write(f"casefinder: error: {redact(str(exc))}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("casefinder: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 1
        sys.stderr.write(
            f"casefinder: unexpected error ({type(exc).__name__}): {redact(str(exc))[:500]}\n"
            "Re-run with --log-level DEBUG for details.\n"
        )
        if (args.log_level or settings.log_level) == "DEBUG":
            import traceback

            sys.stderr.write(redact(traceback.format_exc()))
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
