"""Great Expectations suites run on the warehouse after a load, and their Data Docs.

Path chosen: GX's SQL datasource on the DuckDB warehouse file, so data are validated where
they are (no copy into pandas), over the typed tables the load wrote rather than a second
parse of every extract row (ingest evaluates each rule once, in the scan that stages a file):
- one suite per extract file over its load's quarantine: one expectation per contract rule
  (`rules.py`; the rule's SQL shown in its metadata), counting the rows quarantined for it,
  compared with `audit.rule_counts`, which the load counted from its own pass over the rows;
- one suite per `core` table built from one file: every typed column the contract bounds
  holds no value outside it (dates from 1900 to the extract date, required values present,
  a patient id on every row), so a row that should have been quarantined and was not is
  found and reported.
Each expectation is an `UnexpectedRowsExpectation` counting rows with an aggregate metric, so
GX reads each table once for all of its expectations. GX 1.24 returns an empty cursor from
DuckDB unless the result is buffered before its pooled connection is released; the patch below
buffers it (`freeze`).

GX is imported lazily: importing it takes seconds.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from foundation.audit import latest_snapshot
from foundation.contract import FILES, ColumnType
from foundation.warehouse import connect
from pipelines.ingest.load import core_source_files
from pipelines.ingest.rules import rules_for

log = logging.getLogger("casefinder.ingest")

_PATCHED = False
_RULE_EXPECTATION: type | None = None


@dataclass(frozen=True)
class ValidationReport:
    """What GX found: per file, failing rows per expectation; where the Data Docs are."""

    docs_index: Path | None
    unexpected: dict[str, dict[str, int]] = field(default_factory=dict)
    mismatches: tuple[str, ...] = ()
    typed: dict[str, dict[str, int]] = field(default_factory=dict)  # core table -> check -> rows

    @property
    def consistent(self) -> bool:
        return not self.mismatches


def _buffer_duckdb_results() -> None:
    """Make GX's SQL engine buffer query results inside the connection's `with` block."""
    global _PATCHED
    if _PATCHED:
        return
    # deferred: great_expectations takes seconds to import; only validating a snapshot needs it
    from great_expectations.execution_engine.sqlalchemy_execution_engine import (
        SqlAlchemyExecutionEngine,
    )

    original = SqlAlchemyExecutionEngine._execute_query_with_recovery

    def buffered(connection: Any, query: Any) -> Any:
        result = original(connection, query)
        if getattr(result, "returns_rows", False):
            return result.freeze()()
        return result

    SqlAlchemyExecutionEngine._execute_query_with_recovery = staticmethod(buffered)
    _PATCHED = True


def _dispose_engines() -> None:
    """Release every DuckDB connection GX opened, so the warehouse can be opened again.

    GX keeps execution engines on several copies of the datasource; DuckDB refuses a new
    connection with another configuration while any of them lives.
    """
    # deferred: sqlalchemy (great_expectations' engine) is only loaded by a validation
    import sqlalchemy

    gc.collect()
    for obj in gc.get_objects():
        if isinstance(obj, sqlalchemy.engine.Engine) and obj.url.drivername == "duckdb":
            obj.dispose()
    gc.collect()


def _contract_rule_expectation() -> type:
    """The expectation "no row breaks this contract rule", and the metric it reads.

    The metric `contract_rule.failing_rows` is a GX aggregate (`AGGREGATE_FN`) over the
    batch: `count(*) filter (where <condition>)`. GX bundles the aggregates of one batch into
    a single query, so a file's suite costs one scan of its rows whatever its number of
    rules (a query per rule cost 162 scans of `raw` for one extract set). The classes are
    defined on first use because importing GX takes seconds.
    """
    global _RULE_EXPECTATION
    if _RULE_EXPECTATION is not None:
        return _RULE_EXPECTATION
    # deferred: great_expectations takes seconds to import; only validating a snapshot needs it
    from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
    from great_expectations.core.metric_domain_types import MetricDomainTypes
    from great_expectations.core.metric_function_types import MetricPartialFunctionTypes
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine
    from great_expectations.expectations import UnexpectedRowsExpectation
    from great_expectations.expectations.metrics.metric_provider import metric_partial
    from great_expectations.expectations.metrics.table_metric_provider import (
        TableMetricProvider,
    )

    class ContractRuleFailingRows(TableMetricProvider):
        """How many rows of the batch make one rule's SQL condition true."""

        metric_name = "contract_rule.failing_rows"
        value_keys = ("failing_row_condition",)

        @metric_partial(
            engine=SqlAlchemyExecutionEngine,
            partial_fn_type=MetricPartialFunctionTypes.AGGREGATE_FN,
            domain_type=MetricDomainTypes.TABLE,
        )
        def _sqlalchemy(
            cls,  # noqa: N805 - GX calls metric functions with the provider class
            execution_engine: Any,
            metric_domain_kwargs: dict,
            metric_value_kwargs: dict,
            metrics: dict,
            runtime_configuration: dict,
        ) -> tuple[Any, dict, dict]:
            # literal_column, not text(): a condition's colons (`[[:space:]]`) are not binds.
            condition = sa.literal_column(f"({metric_value_kwargs['failing_row_condition']})")
            return sa.func.count().filter(condition), metric_domain_kwargs, {}

    class ExpectNoRowsToBreakContractRule(UnexpectedRowsExpectation):
        """Rows that break one contract rule are counted (and were quarantined by the load).

        `unexpected_rows_query` is the rule as a query, shown in Data Docs;
        `failing_row_condition` is the same rule as the condition GX counts.
        """

        # Optional only so that Data Docs can still render results stored before it existed.
        failing_row_condition: str | None = None
        # A check of a typed table that no row may fail (else the expectation fails).
        must_hold: bool = False
        metric_dependencies: ClassVar[tuple[str, ...]] = ("contract_rule.failing_rows",)
        success_keys: ClassVar[tuple[str, ...]] = (
            "unexpected_rows_query",
            "failing_row_condition",
            "must_hold",
        )

        def _validate(
            self,
            metrics: dict,
            runtime_configuration: dict | None = None,
            execution_engine: Any = None,
        ) -> dict:
            # GX runs after the load committed: every file validated here loaded, its rows
            # that break a rule quarantined. The status says so (the count is the observed
            # value); a file the run refuses stops the run before GX and has no page.
            failing = int(metrics["contract_rule.failing_rows"])
            success = failing == 0 if self.must_hold else True
            return {"success": success, "result": {"observed_value": failing}}

    _RULE_EXPECTATION = ExpectNoRowsToBreakContractRule
    return _RULE_EXPECTATION


def _gx_query(condition: str) -> str:
    """An `unexpected_rows_query` for GX: braces doubled except the `{batch}` placeholder.

    Only a count is shown: the quarantine holds the failing rows' values.
    """
    escaped = condition.replace("{", "{{").replace("}", "}}")
    return f"select count(*) from {{batch}} where {escaped}"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _rule_row(file: str, rule: str) -> str:
    """The condition picking one file's (or table's) rows of one rule in a suite's batch."""
    return f"file = {_literal(file)} and rule = {_literal(rule)}"


def quarantine_query(load_ids: list[int]) -> str:
    """File and rule of every row (and secondary value) the loads quarantined."""
    loads = ", ".join(str(int(i)) for i in load_ids)
    return (
        f"select file, rule from quarantine.rejected_rows where load_id in ({loads}) "
        f"union all select file, rule from quarantine.rejected_diagnoses "
        f"where load_id in ({loads})"
    )


def core_breaches_query(checks: dict[str, list[CoreCheck]]) -> str:
    """Table and check of every `core` row that breaks a typed check (none, when all is well):
    one scan of each table, whatever its number of checks."""
    parts = []
    for table, table_checks in checks.items():
        picks = " union all ".join(
            f"select {_literal(table)} as file, {_literal(c.name)} as rule "
            f"from {table}_rows where {c.name}"
            for c in table_checks
        )
        flags = ", ".join(f"({c.condition}) as {c.name}" for c in table_checks)
        parts.append(
            f"select * from (with {table}_rows as (select {flags} from core.{table} "
            f"where {' or '.join(f'({c.condition})' for c in table_checks)}) {picks})"
        )
    return " union all ".join(parts)


@dataclass(frozen=True)
class CoreCheck:
    """A condition no row of a `core` table may meet (true = the row breaks the contract)."""

    name: str
    column: str
    description: str
    condition: str


def core_checks(columns: set[str], file: str, as_of: date) -> list[CoreCheck]:
    """The typed checks of one `core` table built from extract file `file`.

    Every contract column of the file that the table keeps under its own name is checked
    for its type's bounds and, when the contract requires it, for presence; `patient_id`
    (the pseudonym every keyed row carries) must be present.
    """
    checks: list[CoreCheck] = []
    if "patient_id" in columns:
        checks.append(
            CoreCheck(
                "patient_id_present",
                "patient_id",
                "every row has a patient id",
                "patient_id is null",
            )
        )
    as_of_sql = f"date '{as_of.isoformat()}'"
    for col in FILES[file].columns:
        c = col.name
        if c not in columns:
            continue
        if col.required:
            checks.append(CoreCheck(f"{c}_present", c, f"{c} is present", f"{c} is null"))
        if col.type in (ColumnType.DATE, ColumnType.DATETIME):
            day = c if col.type is ColumnType.DATE else f"cast({c} as date)"
            checks.append(
                CoreCheck(
                    f"{c}_in_range",
                    c,
                    f"{c} is from 1900-01-01 to the extract date",
                    f"{day} < date '1900-01-01' or {day} > {as_of_sql}",
                )
            )
    return checks


def _replace(factory: Any, name: str, item: Any) -> Any:
    """Store a suite, validation definition or checkpoint under `name`, replacing any.

    GX's `add_or_update` compares every expectation with every stored one (quadratic: half a
    minute for a hundred expectations); a re-run of the same snapshot simply replaces them.
    """
    # deferred: great_expectations takes seconds to import; only validating a snapshot needs it
    from great_expectations.exceptions import DataContextError

    with contextlib.suppress(DataContextError):
        factory.delete(name)
    return factory.add(item)


_RULES_SUITE = "quarantine_by_rule_v2"
_CORE_SUITE = "core_typed_checks_v1"


def _core_columns(
    con: duckdb.DuckDBPyConnection, snapshot_id: int
) -> dict[str, tuple[str, set[str]]]:
    """`core` table -> (the extract file it is built from, its columns a typed check may
    read), when `core` holds this snapshot (the latest); else nothing."""
    latest = latest_snapshot(con)
    if latest is None or latest[0] != snapshot_id:
        return {}
    found: dict[str, tuple[str, set[str]]] = {}
    for table, file in core_source_files().items():
        columns = {
            str(name)
            for name, kind in con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'core' and table_name = ?",
                [table],
            ).fetchall()
            if name == "patient_id"
            or str(kind).upper().startswith(("DATE", "TIMESTAMP"))
            or name in _required_columns(file)
        }
        if columns:
            found[table] = (file, columns)
    return found


def _required_columns(file: str) -> set[str]:
    return {c.name for c in FILES[file].columns if c.required}


def validate_snapshot(
    warehouse: Path, snapshot_id: int, as_of: date, docs_dir: Path
) -> ValidationReport:
    """Run the GX suites of a snapshot (its quarantine per file, its `core` tables) and write
    Data Docs.

    GX's count of each rule's quarantined rows is compared with `audit.rule_counts`, and any
    row of `core` that breaks a typed check is reported; either is a mismatch.
    """
    # deferred: great_expectations takes seconds to import; only validating a snapshot needs it
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _buffer_duckdb_results()
    counted = _contract_rule_expectation()
    with connect(warehouse, read_only=True) as con:
        loads = con.execute(
            "select file, load_id from audit.loads where snapshot_id = ? order by load_id",
            [snapshot_id],
        ).fetchall()
        expected = {
            (str(f), str(r)): int(n)
            for f, r, n in con.execute(
                "select c.file, c.rule, c.n_failing from audit.rule_counts c "
                "join audit.loads l using (load_id) where l.snapshot_id = ?",
                [snapshot_id],
            ).fetchall()
        }
        core_columns = _core_columns(con, snapshot_id)
    load_ids = {str(f): int(i) for f, i in loads}
    docs_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(docs_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.save()
    # One datasource per snapshot: a resupplied extract set for the same date (a new
    # snapshot) adds its own, so the earlier snapshot's stored definitions still resolve.
    source = context.data_sources.add_or_update_sql(
        name=f"warehouse_snapshot_{snapshot_id}",
        connection_string=f"duckdb:///{Path(warehouse).resolve()}",
        kwargs={"connect_args": {"read_only": True}},
    )
    definitions = []

    def add_suite(asset_name: str, query: str, suite_name: str, expectations: list) -> None:
        asset = source.add_query_asset(name=asset_name, query=query)
        batch = asset.add_batch_definition_whole_table(name=f"{asset_name}_batch")
        suite = _replace(
            context.suites,
            suite_name,
            gx.ExpectationSuite(name=suite_name, expectations=expectations),
        )
        name = f"{asset_name}_validation"
        definitions.append(
            _replace(
                context.validation_definitions,
                name,
                gx.ValidationDefinition(data=batch, suite=suite, name=name),
            )
        )

    rule_expectations = [
        counted(
            unexpected_rows_query=_gx_query(_rule_row(file, rule.name)),
            failing_row_condition=_rule_row(file, rule.name),
            description=f"{file}.{rule.name}: {rule.expectation}",
            meta={"file": file, "rule": rule.name, "column": rule.column, "sql": rule.condition},
        )
        for file in load_ids
        for rule in rules_for(FILES[file], as_of, load_ids)
    ]
    if rule_expectations:
        add_suite(
            f"quarantine_snapshot_{snapshot_id}",
            quarantine_query(list(load_ids.values())),
            _RULES_SUITE,
            rule_expectations,
        )
    checks = {
        table: core_checks(columns, file, as_of) for table, (file, columns) in core_columns.items()
    }
    core_expectations = [
        counted(
            unexpected_rows_query=_gx_query(_rule_row(table, check.name)),
            failing_row_condition=_rule_row(table, check.name),
            must_hold=True,
            description=f"core.{table}.{check.name}: {check.description}",
            meta={
                "file": table,
                "rule": check.name,
                "column": check.column,
                "sql": check.condition,
            },
        )
        for table, table_checks in checks.items()
        for check in table_checks
    ]
    if core_expectations:
        add_suite(
            f"core_snapshot_{snapshot_id}",
            core_breaches_query(checks),
            _CORE_SUITE,
            core_expectations,
        )
    checkpoint = _replace(
        context.checkpoints,
        f"ingest_snapshot_{snapshot_id}",
        gx.Checkpoint(
            name=f"ingest_snapshot_{snapshot_id}",
            validation_definitions=definitions,
            actions=[UpdateDataDocsAction(name="update_data_docs")],
            result_format={"result_format": "SUMMARY"},
        ),
    )
    # A run id of the snapshot and its date, not the clock: the same snapshot validated again
    # (a re-run after a crash) writes the same Data Docs pages under the same names.
    # deferred: great_expectations takes seconds to import; only validating a snapshot needs it
    from great_expectations.core.run_identifier import RunIdentifier

    run_id = RunIdentifier(
        run_name=f"snapshot_{snapshot_id}",
        run_time=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC),
    )
    try:
        result = checkpoint.run(run_id=run_id)
    except Exception as exc:  # noqa: BLE001 - the load is committed; report, do not crash
        log.warning("GX validation failed (%s); the load itself is complete", type(exc).__name__)
        return ValidationReport(None, {}, (f"GX validation failed ({type(exc).__name__})",))
    finally:
        _dispose_engines()
    unexpected: dict[str, dict[str, int]] = {}
    typed: dict[str, dict[str, int]] = {}
    mismatches: list[str] = []
    for run_result in result.run_results.values():
        is_core = run_result.suite_name == _CORE_SUITE
        for expectation_result in run_result.results:
            meta = expectation_result.expectation_config.meta
            name, rule = str(meta.get("file")), str(meta.get("rule"))
            if expectation_result.exception_info and expectation_result.exception_info.get(
                "raised_exception"
            ):
                mismatches.append(f"{name}.{rule}: GX raised an exception")
                continue
            observed = expectation_result.result.get("observed_value")
            n = int(observed) if observed is not None else 0
            if is_core:
                typed.setdefault(name, {})[rule] = n
                if n:
                    mismatches.append(f"core.{name}.{rule}: {n} rows break it")
                continue
            unexpected.setdefault(name, {})[rule] = n
            if expected.get((name, rule)) != n:
                mismatches.append(
                    f"{name}.{rule}: GX counted {n}, quarantine {expected.get((name, rule))}"
                )
    for problem in mismatches:
        log.warning("validation mismatch: %s", problem)
    sites = context.get_docs_sites_urls()
    index = None
    if sites:
        url = sites[0].get("site_url") or ""
        index = Path(url.removeprefix("file://")) if url else None
    return ValidationReport(
        docs_index=index, unexpected=unexpected, mismatches=tuple(mismatches), typed=typed
    )
