"""Great Expectations suites (one per extract file) run on the warehouse, and their Data Docs.

Path chosen: GX's SQL datasource on the DuckDB warehouse file, so data are validated where
they are (no copy into pandas) and each rule's one SQL definition (`rules.py`) is the
expectation itself (an `UnexpectedRowsExpectation` counting the rule's failing rows with an
aggregate metric, so GX scans each file once for all its rules). GX 1.24 returns an empty
cursor from DuckDB unless the result is buffered before its pooled connection is released;
the patch below buffers it (`freeze`). GX caps per-row indexes, so GX provides counts and Data Docs
while the quarantine (which runs the same SQL over every row) provides every failing row;
the two counts are compared for each rule.

GX is imported lazily: importing it takes seconds.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

from foundation.contract import FILES
from foundation.warehouse import connect
from pipelines.ingest.rules import checked_relation, rules_for

log = logging.getLogger("casefinder.ingest")

_PATCHED = False
_RULE_EXPECTATION: type | None = None


@dataclass(frozen=True)
class ValidationReport:
    """What GX found: per file, failing rows per expectation; where the Data Docs are."""

    docs_index: Path | None
    unexpected: dict[str, dict[str, int]] = field(default_factory=dict)
    mismatches: tuple[str, ...] = ()

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
        metric_dependencies: ClassVar[tuple[str, ...]] = ("contract_rule.failing_rows",)
        success_keys: ClassVar[tuple[str, ...]] = (
            "unexpected_rows_query",
            "failing_row_condition",
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
            return {"success": True, "result": {"observed_value": failing}}

    _RULE_EXPECTATION = ExpectNoRowsToBreakContractRule
    return _RULE_EXPECTATION


def _gx_query(condition: str) -> str:
    """An `unexpected_rows_query` for GX: braces doubled except the `{batch}` placeholder.

    Only the row number is selected: the quarantine holds the failing rows' values.
    """
    escaped = condition.replace("{", "{{").replace("}", "}}")
    return f"select _row_number from {{batch}} where {escaped}"


def validate_snapshot(
    warehouse: Path, snapshot_id: int, as_of: date, docs_dir: Path
) -> ValidationReport:
    """Run one GX suite per file of a snapshot against `raw`, and write Data Docs.

    The suites are rebuilt from the same rules the quarantine used; GX's unexpected counts
    are compared with `audit.rule_counts` and any difference is reported.
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
    rule_names: dict[str, list[str]] = {}
    for file, load_id in load_ids.items():
        rules = rules_for(FILES[file], as_of, load_ids)
        if not rules:
            continue
        asset = source.add_query_asset(
            name=f"{file}_snapshot_{snapshot_id}",
            query=checked_relation(FILES[file], load_id),
        )
        batch = asset.add_batch_definition_whole_table(name=f"{file}_load_{load_id}")
        suite = gx.ExpectationSuite(name=f"{file}_contract_v1")
        for rule in rules:
            suite.add_expectation(
                counted(
                    unexpected_rows_query=_gx_query(rule.condition),
                    failing_row_condition=rule.condition,
                    description=f"{rule.name}: {rule.expectation}",
                    meta={"rule": rule.name, "column": rule.column},
                )
            )
        suite = context.suites.add_or_update(suite)
        rule_names[file] = [r.name for r in rules]
        definitions.append(
            context.validation_definitions.add_or_update(
                gx.ValidationDefinition(
                    data=batch, suite=suite, name=f"{file}_snapshot_{snapshot_id}_validation"
                )
            )
        )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"ingest_snapshot_{snapshot_id}",
            validation_definitions=definitions,
            actions=[UpdateDataDocsAction(name="update_data_docs")],
            result_format={"result_format": "SUMMARY"},
        )
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
    mismatches: list[str] = []
    for run_result in result.run_results.values():
        suite_name = run_result.suite_name
        file = suite_name.removesuffix("_contract_v1")
        for expectation_result in run_result.results:
            rule = str(expectation_result.expectation_config.meta.get("rule"))
            if expectation_result.exception_info and expectation_result.exception_info.get(
                "raised_exception"
            ):
                mismatches.append(f"{file}.{rule}: GX raised an exception")
                continue
            observed = expectation_result.result.get("observed_value")
            n = int(observed) if observed is not None else 0
            unexpected.setdefault(file, {})[rule] = n
            if expected.get((file, rule)) != n:
                mismatches.append(
                    f"{file}.{rule}: GX counted {n}, quarantine {expected.get((file, rule))}"
                )
    for problem in mismatches:
        log.warning("validation mismatch: %s", problem)
    sites = context.get_docs_sites_urls()
    index = None
    if sites:
        url = sites[0].get("site_url") or ""
        index = Path(url.removeprefix("file://")) if url else None
    return ValidationReport(docs_index=index, unexpected=unexpected, mismatches=tuple(mismatches))
