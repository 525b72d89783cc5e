"""Build the feature layer: code lists, index dates, then each `sql/features` model in order."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from features.codelists import load_codelists
from features.dictionary import KEY_COLUMNS, efi_select_lists, feature_names, select_lists
from foundation.errors import CasefinderError
from foundation.warehouse import (
    apply_ddl,
    bind_used,
    build_model,
    fill_select_lists,
    model_order,
    read_sql,
    sql_files,
)

log = logging.getLogger("casefinder.features")

# What the layer above reads: the `features` relations named in the `sql/scores` files.
SCORES_INPUTS: tuple[str, ...] = tuple(
    sorted(
        {
            relation.removeprefix("features.")
            for file in sql_files().values()
            if file.path.parent.name == "scores"
            for relation in file.reads
            if relation.startswith("features.")
        }
    )
)
# The feature models that make them, each after the models it reads (derived from the files
# of `sql/features`; `core` and `ref` are inputs built before).
MODELS: tuple[str, ...] = tuple(model_order(SCORES_INPUTS, "features"))

# Models read once, by `feat_patients`, are views: computed inside its one query instead of
# being written to the warehouse first (wide tables of one row per patient per date cost
# more to write than to compute). The others are tables (read twice, or parameterised).
VIEW_MODELS: frozenset[str] = frozenset(
    {
        "int_efi",
        "int_circumstances",
        "int_acute_use",
        "int_urgent_care",
        "int_community_use",
        "int_social_care",
    }
)

# The `core` tables the feature SQL reads (named in the files of `MODELS`).
CORE_INPUTS: tuple[str, ...] = tuple(
    sorted(
        {
            relation.removeprefix("core.")
            for name in MODELS
            for relation in sql_files()[name].reads
            if relation.startswith("core.")
        }
    )
)

# `feat_patients.sql` at the training index dates (models/training_set.py), read by
# `feat_outcomes` and `feat_training_sample`.
TRAINING_FEATURES = "feat_training_patients"

# The models whose select lists are declared in the feature dictionary, filled when built.
SELECT_LISTS: dict[str, Callable[[], Mapping[str, Sequence[Any]]]] = {
    "int_efi": efi_select_lists,
    "feat_patients": select_lists,
}

DEFAULT_PARAMS: dict[str, Any] = {"hfrs_lookback_years": 2, "training_candidates_only": False}

# DuckDB's buffer limit while a feature model builds (its default is 80% of the machine's
# memory): keeps a 1,000,000-patient, 12-date build within the 8 GB budget by spilling to
# disk. Restored to the connection's own setting afterwards.
MEMORY_LIMIT = "5GB"


@contextmanager
def memory_limit(con: duckdb.DuckDBPyConnection, limit: str = MEMORY_LIMIT) -> Iterator[None]:
    """Cap DuckDB's memory for a block, then put the previous setting back."""
    previous = con.execute("select current_setting('memory_limit')").fetchall()[0][0]
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", limit):
        raise ValueError(f"not a memory size: {limit!r}")
    con.execute(f"set memory_limit = '{limit}'")
    try:
        yield
    finally:
        con.execute(f"set memory_limit = '{previous}'")


def check_core_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Stop with one clear line when the warehouse lacks a `core` table the features read."""
    present = {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'core'"
        ).fetchall()
    }
    missing = [t for t in CORE_INPUTS if t not in present]
    if missing:
        raise CasefinderError(
            f"warehouse has no core table {missing[0]}"
            f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}: "
            "run `casefinder ingest` first"
        )


def write_index_dates(con: duckdb.DuckDBPyConnection, index_dates: Iterable[date]) -> int:
    """Replace `features.feat_index_dates` with the given dates (one row each, distinct)."""
    dates = sorted(set(index_dates))
    if not dates:
        raise CasefinderError("no index date given")
    con.execute("create schema if not exists features")
    apply_ddl(con, ["feat_index_dates"])
    con.executemany("insert into features.feat_index_dates values (?)", [[d] for d in dates])
    return len(dates)


def params_with_defaults(params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The SQL parameters: defaults, overridden by `params`."""
    return {**DEFAULT_PARAMS, **(params or {})}


def build_one(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, Any] | None = None,
    table: str | None = None,
) -> int:
    """Materialise one feature model (as `features.<table>` when given), or define it as a
    view; its row count (0 for a view)."""
    if table is not None and name in VIEW_MODELS:
        raise ValueError(f"{name} is a view: it cannot be built under another name")
    existing = con.execute(
        "select table_type from information_schema.tables "
        "where table_schema = 'features' and table_name = ?",
        [table or name],
    ).fetchall()
    want = "VIEW" if name in VIEW_MODELS else "BASE TABLE"
    if existing and existing[0][0] != want:
        con.execute(f"drop {'view' if existing[0][0] == 'VIEW' else 'table'} features.{name}")
    if name in VIEW_MODELS:
        lists = SELECT_LISTS[name]() if name in SELECT_LISTS else None
        sql = fill_select_lists(read_sql(name), lists).rstrip().rstrip(";")
        if bind_used(sql, params_with_defaults(params)):
            raise ValueError(f"{name} takes parameters, so it cannot be a view")
        con.execute(f"create or replace view features.{name} as\n{sql}")
        log.info("defined view features.%s", name)
        return 0
    with memory_limit(con):
        lists = SELECT_LISTS[name]() if name in SELECT_LISTS else None
        build_model(con, name, params_with_defaults(params), table, select_lists=lists)
    # Counted again with fetchall(): build_model's fetchone() leaves a result open on `con`,
    # which makes DuckDB 2.0 refuse a later `con.sql()` (e.g. in models.explain).
    rows = int(con.execute(f"select count(*) from features.{table or name}").fetchall()[0][0])
    log.info("built features.%s: %d rows", table or name, rows)
    return rows


def build_features(
    con: duckdb.DuckDBPyConnection,
    index_dates: Iterable[date],
    params: Mapping[str, Any] | None = None,
    into: str = "feat_patients",
) -> int:
    """Load code lists, write the index dates and build every model; rows of `feat_patients`.

    With `into` (the training set's `TRAINING_FEATURES`), only the models of `feat_patients`
    are built and `feat_patients.sql` is materialised under that name: the `feat_patients`
    the scores layer reads is left as it was, so training may run after the as-of features.
    """
    check_core_tables(con)
    load_codelists(con)
    write_index_dates(con, index_dates)
    if into == "feat_patients":
        rows = {name: build_one(con, name, params) for name in MODELS}
    else:
        rows = {
            name: build_one(con, name, params, into if name == "feat_patients" else None)
            for name in model_order(["feat_patients"], "features")
        }
    return rows["feat_patients"]


def feature_columns(con: duckdb.DuckDBPyConnection, table: str = "feat_patients") -> list[str]:
    """The columns of a built table of the `features` schema (default `feat_patients`)."""
    return [
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'features' and table_name = ? "
            "order by ordinal_position",
            [table],
        ).fetchall()
    ]


def export_features(con: duckdb.DuckDBPyConnection, as_of: date, out: Path) -> int:
    """Write the features at `as_of` to Parquet with `nhs_number` as the only identifier.

    One row per patient alive and registered at `as_of`; `patient_id` is replaced by the
    NHS number from `core.core_patient_identity`. Returns the number of rows written.
    """
    built = feature_columns(con)
    expected = [*KEY_COLUMNS, *feature_names()]
    if built != expected:
        raise CasefinderError("features.feat_patients is out of date: rebuild the features")
    columns = ", ".join(f"feat_patients.{c}" for c in expected if c != "patient_id")
    query = f"""
        select identity.nhs_number, {columns}
        from features.feat_patients as feat_patients
        left join core.core_patient_identity as identity
            on feat_patients.patient_id = identity.patient_id
        where feat_patients.index_date = $as_of
        order by feat_patients.practice_code, identity.nhs_number
        """
    out.parent.mkdir(parents=True, exist_ok=True)
    # A cursor, so that no open result on `con` can block `sql()`.
    cursor = con.cursor()
    try:
        cursor.sql(query, params={"as_of": as_of}).write_parquet(str(out))
    finally:
        cursor.close()
    return pq.read_metadata(out).num_rows
