"""No flow module can shadow a package when Prefect loads a flow file by path.

A Prefect worker (and `prefect deploy`) loads `pipelines/flows/weekly.py` as a script with
`pipelines/flows/` first on `sys.path`; a module there named like a top-level package
(`features.py` vs the `features` package) then replaces that package for the whole run.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec
from pathlib import Path

FLOWS = Path(__file__).resolve().parents[2] / "pipelines" / "flows"


def _elsewhere(name: str) -> str | None:
    """Where a top-level `import name` finds a module (the flows folder is not on the path)."""
    assert all(Path(p or ".").resolve() != FLOWS for p in sys.path)
    spec = find_spec(name)
    return (spec.origin or "namespace package") if spec is not None else None


def test_no_flow_module_is_named_like_an_importable_module() -> None:
    modules = sorted(p.stem for p in FLOWS.glob("*.py") if p.stem != "__init__")
    assert "weekly" in modules
    clashes = {name: _elsewhere(name) for name in modules if _elsewhere(name)}
    assert clashes == {}


def test_the_check_sees_a_clash() -> None:
    """The helper finds the package a module named `features` would shadow."""
    assert _elsewhere("features") is not None
    assert _elsewhere("json") is not None
