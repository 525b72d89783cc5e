"""Prefect flow `build-features`: code lists, index dates, then each feature model (wiring only)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task

from features import build
from features.codelists import load_codelists
from foundation.warehouse import connect


@task(name="check-core-tables")
def check_core_tables(warehouse: Path) -> None:
    """Fail early, in one line, when the warehouse has no `core` layer yet."""
    with connect(warehouse) as con:
        build.check_core_tables(con)


@task(name="load-codelists")
def load_codelists_task(warehouse: Path) -> int:
    """Load `features/codelists/*.csv` into `ref.*`; return the number of tables."""
    with connect(warehouse) as con:
        return len(load_codelists(con))


@task(name="write-index-dates")
def write_index_dates(warehouse: Path, index_dates: list[date]) -> int:
    """Write `features.feat_index_dates`."""
    with connect(warehouse) as con:
        return build.write_index_dates(con, index_dates)


@task(name="build-feature-model")
def build_feature_model(warehouse: Path, name: str, params: dict[str, Any]) -> int:
    """Materialise one `sql/features` model; return its row count."""
    with connect(warehouse) as con:
        return build.build_one(con, name, params)


@flow(name="build-features")
def build_features(
    warehouse: Path,
    index_dates: list[date],
    hfrs_lookback_years: int = 2,
) -> int:
    """Build `features.feat_patients` at each index date; return its row count."""
    params = {"hfrs_lookback_years": hfrs_lookback_years}
    check_core_tables(warehouse)
    load_codelists_task(warehouse)
    write_index_dates(warehouse, index_dates)
    rows = {name: build_feature_model(warehouse, name, params) for name in build.MODELS}
    return rows["feat_patients"]
