"""The console script keeps interpreter shutdown chatter (nanobind leak reports) off stderr."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import atexit, logging, os, sys
    # Registered before the quiet handler, so it runs after it, as finalisation output does.
    atexit.register(lambda: os.write(2, b"nanobind: leaked 27 instances!\\n"))
    from pipelines.cli import quiet_interpreter_shutdown
    quiet_interpreter_shutdown()
    logging.basicConfig(level=getattr(logging, sys.argv[1]))
    sys.stderr.write("the run's last line\\n")
    """
)


def _stderr(level: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, level], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_shutdown_output_is_dropped_and_the_run_output_kept() -> None:
    err = _stderr("INFO")
    assert "the run's last line" in err
    assert "nanobind" not in err


def test_at_debug_level_the_shutdown_output_is_kept() -> None:
    assert "nanobind: leaked 27 instances!" in _stderr("DEBUG")
