"""The floors of the code, read from every module's imports (no module is imported).

foundation/ imports no other casefinder package; features/ -> models/ -> reports/ ->
pipelines/ only import downwards; synthetic/ imports only foundation. An import inside a
function is allowed only to defer a heavy dependency, with a `# deferred: ...` comment on its
line or just above it (or above the run of imports it starts); that rule covers benchmarks/ too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("foundation", "features", "models", "reports", "synthetic", "pipelines")
# What each package must not import (casefinder packages above it, or beside it).
FORBIDDEN = {
    "foundation": {"features", "models", "reports", "synthetic", "pipelines", "benchmarks"},
    "features": {"models", "reports", "synthetic", "pipelines", "benchmarks"},
    "models": {"reports", "synthetic", "pipelines", "benchmarks"},
    "reports": {"synthetic", "pipelines", "benchmarks"},
    "synthetic": {"features", "models", "reports", "pipelines", "benchmarks"},
    "pipelines": {"benchmarks"},
}
DEFERRED = "# deferred:"


def _modules(packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def imported_packages(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, top-level package) of every import in `tree`, `if TYPE_CHECKING:` included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module.split(".")[0]


def undeferred_function_imports(source: str) -> list[int]:
    """Lines of imports inside a function with no `# deferred:` comment on the line, on the
    line above, or above the first of the consecutive imports it belongs to."""
    lines = source.splitlines()
    found: list[int] = []

    def commented(line: int) -> bool:
        return DEFERRED in lines[line - 1] or (line > 1 and DEFERRED in lines[line - 2])

    def visit(node: ast.AST, in_function: bool) -> None:
        for field in ("body", "orelse", "finalbody", "handlers"):
            statements = getattr(node, field, None)
            if not isinstance(statements, list):
                continue
            run_start: int | None = None
            for stmt in statements:
                if isinstance(stmt, ast.Import | ast.ImportFrom):
                    run_start = run_start or stmt.lineno
                    if in_function and not (commented(stmt.lineno) or commented(run_start)):
                        found.append(stmt.lineno)
                else:
                    run_start = None
        for child in ast.iter_child_nodes(node):
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(ast.parse(source), False)
    return found


def test_no_package_imports_a_floor_above_it() -> None:
    upward = []
    for path in _modules():
        package = path.relative_to(ROOT).parts[0]
        for line, name in imported_packages(ast.parse(path.read_text(encoding="utf-8"))):
            if name in FORBIDDEN[package]:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert upward == []


def test_every_import_inside_a_function_says_why_it_is_deferred() -> None:
    bare = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _modules((*PACKAGES, "benchmarks"))
        for line in undeferred_function_imports(path.read_text(encoding="utf-8"))
    ]
    assert bare == []


def test_the_floor_check_sees_an_upward_import() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from pipelines.cli import main\n"
        "def f():\n"
        "    import reports.publish\n"
    )
    assert sorted(name for _, name in imported_packages(tree)) == [
        "pipelines",
        "reports",
        "typing",
    ]


@pytest.mark.parametrize(
    ("source", "bare"),
    [
        ("import json\n\n\ndef f():\n    return json\n", []),
        ("def f():\n    import json\n    return json\n", [2]),
        ("class A:\n    def f(self):\n        if True:\n            import json\n", [4]),
        ("def f():\n    # deferred: json is slow to import\n    import json\n", []),
        ("def f():\n    import json  # deferred: json is slow to import\n", []),
        ("def f():\n    # deferred: prefect is only needed here\n    import a\n    import b\n", []),
        (
            "def f():\n    # deferred: prefect is only needed here\n    import a\n    x = 1\n"
            "    import b\n",
            [5],
        ),
    ],
)
def test_the_deferral_check_reads_the_comments(source: str, bare: list[int]) -> None:
    assert undeferred_function_imports(source) == bare
