"""Benchmark the ingest rules' per-row SQL: parsing macros and rule mask, before and after.

Usage:
    .venv/bin/python -m benchmarks.bench_rules --extracts /tmp/s300k \
        --files gp_events gp_medications --before 412024d

Each file (and `gp_patients`, which the `patient_exists` rule reads) is read once into an
in-memory `raw.<file>` table of text, as ingest lands it. Then, for the definitions of
`sql/macros` and `pipelines/ingest/rules.py` at git revision `--before` and for the ones in
the working tree, side by side:
  macro     each parsing expression of the file's columns (`parsed_columns`, and the
            presence test every rule starts with) over every row
  parse     the checked relation every rule reads (`checked_relation`), every parsed column
  rule      each rule's condition alone, over the checked relation already materialised
  mask      every rule as one bit mask over the checked relation: the query of
            `quarantine.find_failures`, parse included
Figures are CPU seconds of this process (user + system, all DuckDB threads; the lowest of
`--repeat` runs): steadier than wall time on a shared machine. Nothing is written.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
import types
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from foundation.contract import FILES
from foundation.warehouse import ensure_layers
from pipelines.ingest import rules as current_rules
from pipelines.ingest.land import ensure_tables

REPO = Path(__file__).resolve().parent.parent


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _git_show(revision: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "show", f"{revision}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def before_definitions(revision: str) -> tuple[list[str], types.ModuleType]:
    """The macro files and the rules module as they were at `revision`."""
    listing = subprocess.run(
        ["git", "-C", str(REPO), "ls-tree", "--name-only", revision, "sql/macros/"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    macros = [_git_show(revision, path) for path in listing if path.endswith(".sql")]
    module = types.ModuleType("rules_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(
        compile(_git_show(revision, "pipelines/ingest/rules.py"), "rules_before", "exec"),
        module.__dict__,
    )
    return macros, module


def install_before(con: duckdb.DuckDBPyConnection, macros: list[str]) -> None:
    """Create the old macros; a macro reading another is retried once the other exists."""
    pending = list(macros)
    while pending:
        failed = []
        for text in pending:
            try:
                con.execute(text)
            except duckdb.CatalogException:
                failed.append(text)
        if len(failed) == len(pending):
            raise RuntimeError("old macros reference something that does not exist")
        pending = failed


def land(con: duckdb.DuckDBPyConnection, extracts: Path, name: str) -> int:
    """Read one CSV file of the set into `raw.<name>` (text, load 1, numbered rows)."""
    columns = FILES[name].column_names
    con.execute(
        f"insert into raw.{name} select {', '.join(columns)}, 1, '{name}.csv', "
        "row_number() over () from read_csv($path, header = true, all_varchar = true)",
        {"path": str(extracts / f"{name}.csv")},
    )
    found = con.execute(f"select count(*) from raw.{name}").fetchone()
    return int(found[0]) if found else 0


def timed(con: duckdb.DuckDBPyConnection, sql: str, repeat: int) -> float:
    """The lowest CPU seconds of `repeat` runs of a query."""
    best = float("inf")
    for _ in range(repeat):
        started = _cpu_seconds()
        con.execute(sql).fetchall()
        best = min(best, _cpu_seconds() - started)
    return best


def measure(
    con: duckdb.DuckDBPyConnection,
    module: types.ModuleType,
    file: str,
    as_of: date,
    repeat: int,
) -> dict[str, float]:
    """CPU seconds of each step under one version of the macros and rules."""
    spec = FILES[file]
    load_ids = {"gp_patients": 1} if file != "gp_patients" else {}
    rules = module.rules_for(spec, as_of, load_ids)
    relation = module.checked_relation(spec, 1)
    first, second = module.parsed_columns(spec)
    figures: dict[str, float] = {}
    for col in spec.columns:
        figures[f"macro present({col.name})"] = timed(
            con, f"select count_if({module._present(col.name)}) from raw.{file}", repeat
        )
    for name, expression in first.items():
        figures[f"macro {name}"] = timed(con, f"select count({expression}) from raw.{file}", repeat)
    parsed = ", ".join(f"count({name})" for name in [*first, *second])
    figures["parse"] = timed(con, f"select {parsed} from ({relation})", repeat)
    con.execute(f"create or replace temp table _bench_checked as {relation}")
    for rule in rules:
        figures[f"rule {rule.name}"] = timed(
            con, f"select count_if({rule.condition}) from _bench_checked", repeat
        )
    con.execute("drop table _bench_checked")
    bits = " | ".join(
        f"(case when ({r.condition}) then {1 << i} else 0 end)" for i, r in enumerate(rules)
    )
    figures["mask (parse + every rule)"] = timed(
        con,
        f"select count(*), sum(mask) from (select ({bits}) as mask from ({relation})) "
        "where mask <> 0",
        repeat,
    )
    return figures


def report(file: str, rows: int, before: dict[str, float], after: dict[str, float]) -> str:
    """A plain-text table: step, CPU seconds before and after, how many times cheaper."""
    lines = [
        f"{file} ({rows:,} rows): CPU seconds",
        f"{'step':48} {'before':>8} {'after':>8} {'x':>6}",
    ]
    for step in dict.fromkeys([*before, *after]):
        old, new = before.get(step), after.get(step)
        ratio = f"{old / new:6.1f}" if old is not None and new else "     -"
        shown = [f"{v:8.2f}" if v is not None else f"{'-':>8}" for v in (old, new)]
        lines.append(f"{step:48} {shown[0]} {shown[1]} {ratio}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extracts", type=Path, required=True)
    parser.add_argument("--files", nargs="+", default=["gp_events", "gp_medications"])
    parser.add_argument("--before", default="412024d", help="git revision of the old definitions")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date.today())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    old_macros, old_rules = before_definitions(args.before)
    con = duckdb.connect()
    con.execute(f"set threads = {int(args.threads)}")
    con.execute("set enable_progress_bar = false")
    ensure_layers(con)
    ensure_tables(con)
    started = time.perf_counter()
    rows = {
        name: land(con, args.extracts, name) for name in dict.fromkeys(["gp_patients", *args.files])
    }
    seconds = time.perf_counter() - started
    print(f"read {sum(rows.values()):,} rows in {seconds:.1f} s (not timed below)")
    versions: list[tuple[str, Callable[[], None], types.ModuleType]] = [
        ("before", lambda: install_before(con, old_macros), old_rules),
        ("after", lambda: current_rules.install_macros(con), current_rules),
    ]
    for file in args.files:
        figures = {}
        for label, install, module in versions:
            install()
            figures[label] = measure(con, module, file, args.as_of, args.repeat)
        print()
        print(report(file, rows[file], figures["before"], figures["after"]), flush=True)


if __name__ == "__main__":
    main()
