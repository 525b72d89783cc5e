"""The training set: index dates, outcomes, cohort, opt-outs, patient folds and subgroup labels."""

from __future__ import annotations

import calendar
import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import polars as pl

from features.build import TRAINING_FEATURES, build_features, feature_columns, memory_limit
from foundation.errors import CasefinderError
from foundation.warehouse import build_model

log = logging.getLogger("casefinder.models.training_set")

N_INDEX_DATES = 12
N_HOLDOUT_DATES = 3
# Patient folds by a seeded hash of the person key: percentages of people, not rows.
FOLD_SHARES: tuple[tuple[str, int], ...] = (("fit", 60), ("valid", 20), ("calib", 20))
# The trees grow on at most this many rows of the fit fold (a person-level sample, see
# `sample_people`). A 1,000,000-patient ICS has ~760,000 fit rows, so it is not sampled; the
# bound keeps fit time and memory flat for larger ICSs (docs/model.md, docs/scaling.md).
MAX_FIT_ROWS = 1_000_000
# Rows per Arrow batch when the training matrix is read from DuckDB.
_BATCH_ROWS = 262_144
# The columns the training steps read besides the model features: keys (`person_key` stands
# for the person in folds and samples: a hash of their rows without the pseudonym, so the model
# does not depend on the pseudonymisation key), outcome and period,
# the housebound flag (calibration population, evaluation cohort), the single-score baselines
# and the fairness columns (evaluation only).
INFO_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "person_key",
    "index_date",
    "period",
    "outcome",
    "housebound",
    "efi",
    "hfrs",
    "age",
    "sex_code",
    "ethnic_category_code",
    "imd_decile_code",
)

SEX_LABELS = {"1": "male", "2": "female", "9": "indeterminate", "X": "not known"}
# NHS ethnic category codes grouped as the ONS 2011 five high-level groups.
ETHNIC_GROUPS = {
    **dict.fromkeys("ABC", "White"),
    **dict.fromkeys("DEFG", "Mixed"),
    **dict.fromkeys("HJKL", "Asian"),
    **dict.fromkeys("MNP", "Black"),
    **dict.fromkeys("RS", "Other"),
}


def minus_months(day: date, months: int) -> date:
    """`day` moved back `months` calendar months (day clamped to the month's length)."""
    total = day.year * 12 + (day.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def index_dates_for(as_of: date, horizon_days: int, n_dates: int = N_INDEX_DATES) -> list[date]:
    """`n_dates` monthly index dates, the last one `horizon_days` before `as_of`, so that every
    outcome window (D, D + horizon] is complete by the as-of date. Oldest first."""
    if n_dates < 1 or horizon_days < 1:
        raise ValueError("need at least one index date and a positive horizon")
    last = as_of - timedelta(days=horizon_days)
    return [minus_months(last, k) for k in range(n_dates - 1, -1, -1)]


def latest_extract_date(con: duckdb.DuckDBPyConnection) -> date:
    """The extract date of the latest loaded snapshot (the default as-of of `train`)."""
    try:
        row = con.execute(
            "select extract_date from audit.snapshots where extract_date is not null "
            "order by loaded_at desc, snapshot_id desc limit 1"
        ).fetchone()
    except duckdb.CatalogException:
        row = None
    if row is None or row[0] is None:
        raise CasefinderError("the warehouse holds no snapshot: run `casefinder ingest` first")
    return row[0]


def build_training_candidate_features(con: duckdb.DuckDBPyConnection, dates: list[date]) -> int:
    """Features at the index dates for the people who may be in the training cohort only.

    Those aged 65+ at a date or with any housebound or care home record (`int_cohort`'s
    `training_candidates_only`): about a fifth of the registered population, and a superset
    of the cohort, which `feat_training_sample` then selects exactly. Written to
    `features.feat_training_patients`; `features.feat_patients` is left as it was.
    """
    return build_features(con, dates, {"training_candidates_only": True}, TRAINING_FEATURES)


def build_training_set(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    horizon_days: int,
    opt_out_types: Sequence[str],
    n_dates: int = N_INDEX_DATES,
    n_holdout: int = N_HOLDOUT_DATES,
    feature_builder: Callable[[duckdb.DuckDBPyConnection, list[date]], int] | None = None,
) -> dict[str, Any]:
    """Build features at the index dates, then `features.feat_outcomes` and
    `features.feat_training_sample`. Returns counts (no identifiers)."""
    if n_holdout < 1 or n_holdout >= n_dates:
        raise ValueError("the hold-out needs at least one index date and fewer than all of them")
    dates = index_dates_for(as_of, horizon_days, n_dates)

    if feature_builder is None:
        feature_builder = build_training_candidate_features
    n_feature_rows = feature_builder(con, dates)
    holdout_after = dates[-n_holdout - 1]
    # Under the features' DuckDB memory cap too (spill rather than grow): unbounded, the
    # outcome joins over 12 dates of a 1,000,000-patient ICS could take most of the machine.
    with memory_limit(con):
        n_outcome_rows = build_model(con, "feat_outcomes", {"horizon_days": horizon_days})
        n_sample = build_model(
            con,
            "feat_training_sample",
            {"opt_out_types": list(opt_out_types), "as_of": as_of, "holdout_after": holdout_after},
        )
    excluded = con.execute(
        "select count(distinct f.patient_id) from features.feat_training_patients f "
        "join core.core_opt_outs o on o.patient_id = f.patient_id "
        "where (f.age >= 65 or f.housebound) "
        "and list_contains(cast(? as varchar[]), o.opt_out_type) "
        "and (o.recorded_date is null or o.recorded_date <= ?)",
        [list(opt_out_types), as_of],
    ).fetchone()
    stats = con.execute(
        "select count(distinct patient_id), coalesce(sum(outcome::integer), 0), "
        "count(*) filter (where period = 'holdout') "
        "from features.feat_training_sample"
    ).fetchone()
    counts = {
        "as_of": as_of.isoformat(),
        "horizon_days": horizon_days,
        "index_dates": [d.isoformat() for d in dates],
        "holdout_index_dates": [d.isoformat() for d in dates[-n_holdout:]],
        "feature_rows": n_feature_rows,
        "outcome_rows": n_outcome_rows,
        "sample_rows": n_sample,
        "sample_patients": int(stats[0]) if stats else 0,
        "sample_outcomes": int(stats[1]) if stats else 0,
        "holdout_rows": int(stats[2]) if stats else 0,
        "excluded_opt_out_patients": int(excluded[0]) if excluded else 0,
        "opt_out_types": list(opt_out_types),
    }
    log.info(
        "training set: %d rows, %d patients, %d outcomes, %d patients excluded by opt-out",
        counts["sample_rows"],
        counts["sample_patients"],
        counts["sample_outcomes"],
        counts["excluded_opt_out_patients"],
    )
    return counts


def load_training_arrays(
    con: duckdb.DuckDBPyConnection,
    feature_names: Sequence[str],
    columns: Sequence[str] = INFO_COLUMNS,
) -> tuple[np.ndarray, pl.DataFrame]:
    """`features.feat_training_sample` as a float32 matrix of `feature_names` (table order;
    booleans 0/1, nulls NaN) and a polars frame of `columns` (the same rows).

    The matrix is filled from DuckDB's Arrow batches one column at a time, column-major (each
    column a contiguous write; row subsets `X[mask]` come out row-major): no wide frame and no
    float64 copy (at 1,000,000 patients: 1.7 million rows x 81 features = 0.55 GB, ~1 s).
    """
    cur = con.cursor()  # DuckDB 2.0: relation calls on a connection with a pending result fail
    try:
        present = set(feature_columns(cur, "feat_training_sample"))
        missing = [c for c in feature_names if c not in present]
        if missing:
            raise KeyError(f"feature columns missing: {missing}")
        listed = ", ".join(_quote(c) for c in columns if c in present)
        info = pl.from_arrow(
            cur.sql(f"select {listed} from features.feat_training_sample").to_arrow_table()
        )
        assert isinstance(info, pl.DataFrame)
        if "person_key" in columns and "person_key" not in present:
            # a training table written without it (older warehouses, hand-built tests)
            info = info.with_columns(pl.col("patient_id").alias("person_key"))
        columns_first = np.empty((len(feature_names), info.height), dtype=np.float32)
        if feature_names:
            select = ", ".join(f"cast({_quote(c)} as float) as {_quote(c)}" for c in feature_names)
            reader = cur.sql(f"select {select} from features.feat_training_sample")
            start = 0
            for batch in reader.to_arrow_reader(_BATCH_ROWS):
                stop = start + batch.num_rows
                for j in range(batch.num_columns):
                    columns_first[j, start:stop] = batch.column(j).to_numpy(zero_copy_only=False)
                start = stop
            if start != info.height:
                raise RuntimeError("features.feat_training_sample changed while it was read")
    finally:
        cur.close()
    return columns_first.T, info


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sample_people(
    patient_ids: pl.Series | Sequence[str],
    outcome: np.ndarray,
    candidates: np.ndarray,
    max_rows: int | None,
    seed: int,
) -> np.ndarray:
    """A boolean mask of at most `max_rows` of the `candidates` rows: whole people (all their
    candidate rows), stratified by whether they have any outcome there, at the same rate in
    both strata, people taken in the order of a seeded SHA-256 of their key (`patient_ids`:
    the training set's `person_key`, which does not depend on the pseudonymisation key).

    The same rate in both strata keeps the outcome rate of the candidates, so no sampling
    weights are needed. Deterministic for the same rows and seed. All candidates when they are
    no more than `max_rows` (or `max_rows` is None).
    """
    candidates = np.asarray(candidates, dtype=bool)
    n_rows = int(candidates.sum())
    if max_rows is None or n_rows <= max_rows:
        return candidates.copy()
    if max_rows < 1:
        raise ValueError("the training sample needs at least one row")
    ids = pl.Series("patient_id", patient_ids, dtype=pl.Utf8)
    rows = pl.DataFrame(
        {"patient_id": ids.filter(pl.Series(candidates)), "y": np.asarray(outcome)[candidates]}
    )
    people = rows.group_by("patient_id").agg(
        pl.len().alias("n"), (pl.col("y").cast(pl.Int8).max() > 0).alias("any_outcome")
    )
    salt = f"casefinder-sample:{seed}:".encode()
    people = people.with_columns(
        pl.Series(
            "rank",
            [
                hashlib.sha256(salt + pid.encode()).hexdigest()
                for pid in people["patient_id"].to_list()
            ],
        )
    ).sort(["any_outcome", "rank", "patient_id"])
    rate = max_rows / n_rows
    kept = people.filter(
        pl.col("n").cum_sum().over("any_outcome")
        <= (pl.col("n").sum().over("any_outcome") * rate).floor()
    )["patient_id"]
    return candidates & ids.is_in(kept.implode()).to_numpy()


def assign_folds(patient_ids: pl.Series | Sequence[str], seed: int) -> np.ndarray:
    """'fit' / 'valid' / 'calib' per row, by a seeded SHA-256 of the person's key (`patient_ids`:
    the training set's `person_key`): the same person is in the same fold at every index date
    (split by patient), and the split does not depend on the pseudonymisation key."""
    ids = pl.Series("patient_id", patient_ids, dtype=pl.Utf8)
    unique = ids.unique(maintain_order=True)
    salt = f"casefinder-fold:{seed}:".encode()
    buckets = np.fromiter(
        (
            int.from_bytes(hashlib.sha256(salt + pid.encode()).digest()[:4], "big") % 100
            for pid in unique.to_list()
        ),
        dtype=np.int64,
        count=len(unique),
    )
    labels = np.empty(len(unique), dtype=object)
    start = 0
    for name, share in FOLD_SHARES:
        labels[(buckets >= start) & (buckets < start + share)] = name
        start += share
    mapping = pl.DataFrame({"patient_id": unique, "fold": labels.astype(str)})
    return ids.to_frame().join(mapping, on="patient_id", how="left")["fold"].to_numpy()


def age_band(age: Any) -> str:
    """'<65', '65-74', '75-84', '85+' or 'unknown'."""
    if age is None or (isinstance(age, float) and np.isnan(age)):
        return "unknown"
    if age < 65:
        return "<65"
    if age < 75:
        return "65-74"
    if age < 85:
        return "75-84"
    return "85+"


def imd_quintile(decile: Any) -> str:
    """'1 (most deprived)' .. '5 (least deprived)' from an IMD decile, or 'unknown'."""
    if decile is None or (isinstance(decile, float) and np.isnan(decile)):
        return "unknown"
    q = (int(decile) + 1) // 2
    suffix = {1: " (most deprived)", 5: " (least deprived)"}.get(q, "")
    return f"{q}{suffix}"


def ethnic_group(code: Any) -> str:
    """The ONS high-level group of an NHS ethnic category code ('not stated/known' for Z, 99)."""
    if code is None or str(code).strip() in {"", "Z", "99"}:
        return "not stated/known"
    return ETHNIC_GROUPS.get(str(code).strip().upper()[:1], "not stated/known")


def _labels(values: pl.Series, label: Callable[[Any], str]) -> np.ndarray:
    """`label` of every value, computed once per distinct value."""
    table = {v: label(v) for v in values.unique().to_list()}
    return np.array(
        [table[v] if v in table else label(v) for v in values.to_list()],  # NaN != NaN
        dtype=object,
    )


def subgroup_labels(frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """Sex, age band, IMD quintile and ethnic group per row (for fairness metrics only)."""
    return {
        "sex": _labels(frame["sex_code"], lambda v: SEX_LABELS.get(str(v), "not known")),
        "age_band": _labels(frame["age"], age_band),
        "imd_quintile": _labels(frame["imd_decile_code"], imd_quintile),
        "ethnic_group": _labels(frame["ethnic_category_code"], ethnic_group),
    }
