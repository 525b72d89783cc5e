"""Benchmark stages with no command of their own, run by `run_all` in a fresh process each.

`python -m benchmarks.stages NAME --warehouse FILE --as-of D [--work DIR]` prints one JSON line:
  training-features  the training set's features at its 12 index dates, as `train` builds them
                     (`models.training_set.build_training_candidate_features`)
  hfrs               the HFRS model alone vs comorbidipy on the same diagnosis rows
  shap               TreeSHAP explanations per second vs plain `predict` per second
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from features.build import build_one, write_index_dates
from features.codelists import load_codelists
from foundation.settings import load_settings
from foundation.warehouse import connect
from models.training_set import build_training_candidate_features, index_dates_for

# HFRS is compared on (at most) this many rows of `core.core_acute_diagnoses`.
HFRS_ROWS = 1_000_000
# TreeSHAP is timed on at most this many rows (it costs ~100x a predict).
SHAP_ROWS = 20_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def training_dates(as_of: date) -> list[date]:
    """The 12 monthly index dates `casefinder train` builds its training set at."""
    return index_dates_for(as_of, load_settings().horizon_days)


def training_features(warehouse: Path, as_of: date) -> dict[str, Any]:
    """Time the training set's feature build at its 12 index dates (the candidates only)."""
    dates = training_dates(as_of)
    with connect(warehouse) as con:
        start = time.perf_counter()
        rows = build_training_candidate_features(con, dates)
        seconds = time.perf_counter() - start
    return {"dates": len(dates), "rows": rows, "seconds": seconds, "peak_mb": _peak_mb()}


def _comorbidipy() -> Any:
    # deferred: pandas and comorbidipy (a dev extra) are only needed by the hfrs stage
    import pandas

    # comorbidipy 0.5 imports a name pandas 3 moved (docs/ecosystem.md).
    pandas.core.common.SettingWithCopyWarning = getattr(  # type: ignore[attr-defined]
        pandas.errors, "SettingWithCopyWarning", type("SettingWithCopyWarning", (Warning,), {})
    )
    # deferred: comorbidipy (a dev extra) is only needed by the hfrs stage, after the patch above
    import comorbidipy

    return comorbidipy


def hfrs(warehouse: Path, as_of: date, work: Path) -> dict[str, Any]:
    """`features.int_hfrs` vs comorbidipy on the same (at most `HFRS_ROWS`) diagnosis rows.

    The rows are copied from the warehouse into a scratch DuckDB file with the tables HFRS
    reads (patients, practices, LSOA, code lists), so the timing is of HFRS alone. comorbidipy
    scores one date per call, so for 12 dates it runs once per date on the rows admitted in
    that date's 2-year lookback, as a user of it would.
    """
    # deferred: pandas and comorbidipy (a dev extra) are only needed by the hfrs stage
    import pandas

    comorbidipy = _comorbidipy()
    scratch = work / "hfrs.duckdb"
    scratch.unlink(missing_ok=True)
    con = duckdb.connect(str(scratch))
    con.execute(f"attach '{warehouse}' as wh (read_only)")
    for schema in ("core", "ref", "features"):
        con.execute(f"create schema {schema}")
    for table in ("core_patients", "core_practices", "core_lsoa_imd"):
        con.execute(f"create table core.{table} as select * from wh.core.{table}")
    # int_cohort names these (its training-candidates filter, off here): empty is enough.
    for table in ("core_gp_events", "core_ae_attendances"):
        con.execute(f"create table core.{table} as select * from wh.core.{table} limit 0")
    con.execute(
        "create table core.core_acute_diagnoses as select * from wh.core.core_acute_diagnoses"
        f" order by spell_id, diagnosis_position limit {HFRS_ROWS}"
    )
    con.execute("detach wh")
    load_codelists(con)
    dates = training_dates(as_of)
    result: dict[str, Any] = {}
    for label, chosen in (("one_date", [as_of]), ("twelve_dates", dates)):
        write_index_dates(con, chosen)
        build_one(con, "int_cohort")
        start = time.perf_counter()
        build_one(con, "int_hfrs")
        result[f"casefinder_{label}_s"] = time.perf_counter() - start
    diagnoses = con.execute(
        "select patient_id as id, icd10_code as code, admission_date from core.core_acute_diagnoses"
    ).df()
    con.close()
    scratch.unlink(missing_ok=True)
    result["diagnosis_rows"] = len(diagnoses)
    for label, chosen in (("one_date", [as_of]), ("twelve_dates", dates)):
        start = time.perf_counter()
        for day in chosen:
            end = pandas.Timestamp(day)
            begin = end - pandas.DateOffset(years=2)
            window = diagnoses[
                (diagnoses["admission_date"] > begin) & (diagnoses["admission_date"] <= end)
            ]
            comorbidipy.hfrs(window[["id", "code"]], id="id", code="code")
        result[f"comorbidipy_{label}_s"] = time.perf_counter() - start
    for label in ("one_date", "twelve_dates"):
        result[f"speedup_{label}"] = (
            result[f"comorbidipy_{label}_s"] / result[f"casefinder_{label}_s"]
        )
    result["peak_mb"] = _peak_mb()
    return result


def shap(warehouse: Path, as_of: date) -> dict[str, Any]:
    """Rows per second of TreeSHAP (`pred_contrib`) and of a plain predict, same model and rows.

    Plain predict runs on every patient in `features.feat_patients` at `as_of`; TreeSHAP on
    the first `SHAP_ROWS` of them (it is ~100x slower; the weekly run explains only the
    listed patients).
    """
    # deferred: lightgbm (models.registry) is only needed by the shap stage
    from models.registry import load

    model = load(warehouse)
    names = model.feature_names_
    cols = ", ".join(f'cast("{n}" as double) as "{n}"' for n in names)
    with connect(warehouse, read_only=True) as con:
        table = con.sql(
            f"select {cols} from features.feat_patients where index_date = ?", params=[as_of]
        ).to_arrow_table()
    matrix = np.column_stack(
        [table.column(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in names]
    )
    start = time.perf_counter()
    model.raw_score(matrix)
    predict_s = time.perf_counter() - start
    sample = matrix[:SHAP_ROWS]
    start = time.perf_counter()
    model.contributions(sample)
    shap_s = time.perf_counter() - start
    predict_rate = len(matrix) / predict_s
    shap_rate = len(sample) / shap_s
    return {
        "predict_rows": len(matrix),
        "predict_s": predict_s,
        "predict_rows_per_s": predict_rate,
        "shap_rows": len(sample),
        "shap_s": shap_s,
        "shap_rows_per_s": shap_rate,
        "shap_over_predict": shap_rate / predict_rate,
        "trees": model.booster.num_trees(),
        "peak_mb": _peak_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=("training-features", "hfrs", "shap"))
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args(argv)
    if args.name == "training-features":
        result = training_features(args.warehouse, args.as_of)
    elif args.name == "hfrs":
        args.work.mkdir(parents=True, exist_ok=True)
        result = hfrs(args.warehouse, args.as_of, args.work)
    else:
        result = shap(args.warehouse, args.as_of)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
