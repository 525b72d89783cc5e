"""Scoring the listed cohort: calibrated risk, tier, TreeSHAP contributions and reasons."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from features.build import feature_columns
from features.terms import evidence_in_words
from foundation.errors import CasefinderError
from foundation.warehouse import apply_layer_ddl, transaction
from models.explain import MAX_REASONS, collect_evidence, top_reasons
from models.fallback import FallbackScorer

log = logging.getLogger("casefinder.scoring")

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

# History tables of the scores layer (`sql/scores/*.sql` DDL), one batch of rows per as-of
# date (re-scoring a date replaces its rows). `scores.score_cohort` is built from
# `sql/scores/score_cohort.sql`; `scores.rankings` records how the date's scores were made:
# `model` (a registered model) or `fallback` (models/fallback.py) and why (OUTPUTS.md).
SCORE_HISTORY_TABLES = (
    "scores",
    "contributions",
    "base_values",
    "reasons",
    "evidence",
    "rankings",
)
MODEL_RANKING = ("model", "")


class ScoringModel(Protocol):
    """What scoring needs of a registered model (`models.train.RiskModel`)."""

    version: str
    feature_names_: list[str]

    def predict_proba(self, x: Any) -> np.ndarray: ...
    def raw_score(self, x: Any) -> np.ndarray: ...
    def contributions(self, x: Any) -> tuple[np.ndarray, np.ndarray]: ...


def ensure_score_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the scores layer's history tables when missing."""
    con.execute("create schema if not exists scores")
    apply_layer_ddl(con, "scores")


def risk_tiers(scores: np.ndarray, tiers: Sequence[tuple[str, float]]) -> np.ndarray:
    """The tier of each score: the first tier (highest bound first) whose lower bound it meets."""
    ordered = sorted(tiers, key=lambda t: t[1], reverse=True)
    out = np.full(scores.shape, ordered[-1][0], dtype=object)
    assigned = np.zeros(scores.shape, dtype=bool)
    for name, lower in ordered:
        hit = (scores >= lower) & ~assigned
        out[hit] = name
        assigned |= hit
    return out


def load_features(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    feature_names: Sequence[str],
    neighbourhoods: Sequence[str] | None = None,
) -> tuple[list[str], np.ndarray]:
    """Patient ids and the (n, f) float matrix of the listed cohort, ordered by patient_id.

    With `neighbourhoods`, only the listed patients of those neighbourhood codes.
    """
    for name in feature_names:
        if not _IDENT.match(name):
            raise ValueError(f"model feature name {name!r} is not a plain column name")

    columns = set(feature_columns(con))
    missing = [n for n in feature_names if n not in columns]
    if missing:
        raise CasefinderError(
            f"the registered model needs features missing from features.feat_patients "
            f"({', '.join(missing[:5])}); retrain with `casefinder run --retrain`"
        )
    cols = ", ".join(f'cast(f."{n}" as double) as "{n}"' for n in feature_names)
    in_neighbourhoods = ""
    params: list[Any] = [as_of, as_of]
    if neighbourhoods is not None:
        in_neighbourhoods = "and list_contains(cast(? as varchar[]), c.neighbourhood_code)"
        params.append(list(neighbourhoods))
    table = con.sql(
        f"""
        select f.patient_id, {cols}
        from features.feat_patients as f
        inner join scores.score_cohort as c on c.patient_id = f.patient_id
        where f.index_date = ? and c.as_of = ? and c.is_listed {in_neighbourhoods}
        order by f.patient_id
        """,
        params=params,
    ).to_arrow_table()
    ids = table.column("patient_id").to_pylist()
    if not feature_names:
        return ids, np.empty((len(ids), 0))
    matrix = np.column_stack(
        [table.column(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in feature_names]
    )
    return ids, matrix


def listed_neighbourhoods(con: duckdb.DuckDBPyConnection, as_of: date) -> list[str]:
    """The neighbourhood codes with listed patients at `as_of` (from `scores.score_cohort`).

    Every listed patient has one: a patient without a neighbourhood is not listed.
    """
    return [
        str(r[0])
        for r in con.execute(
            "select distinct neighbourhood_code from scores.score_cohort"
            " where as_of = ? and is_listed and neighbourhood_code is not null order by 1",
            [as_of],
        ).fetchall()
    ]


@dataclass(frozen=True)
class ScoredRows:
    """Scores and TreeSHAP contributions of some listed patients, in patient_id order.

    `values` and `contributions` are (n, f) in the model's feature order (NaN = missing);
    `raw_score`, `risk_score` (calibrated) and `base_value` are (n,).
    """

    patient_ids: list[str]
    values: np.ndarray
    raw_score: np.ndarray
    risk_score: np.ndarray
    contributions: np.ndarray
    base_value: np.ndarray

    def __len__(self) -> int:
        return len(self.patient_ids)

    def to_arrow(self, names: Sequence[str]) -> pa.Table:
        """One row per patient: ids, scores, then `value:<feature>` and `contribution:<feature>`
        columns (float64, NaN kept), so a Parquet round trip gives back the same bits."""
        columns: dict[str, pa.Array] = {
            "patient_id": pa.array(self.patient_ids, pa.string()),
            "raw_score": pa.array(self.raw_score, pa.float64()),
            "risk_score": pa.array(self.risk_score, pa.float64()),
            "base_value": pa.array(self.base_value, pa.float64()),
        }
        for j, name in enumerate(names):
            columns[f"value:{name}"] = pa.array(self.values[:, j], pa.float64())
        for j, name in enumerate(names):
            columns[f"contribution:{name}"] = pa.array(self.contributions[:, j], pa.float64())
        return pa.table(columns)

    @classmethod
    def from_arrow(cls, table: pa.Table, names: Sequence[str]) -> ScoredRows:
        """The rows `to_arrow` wrote (the same feature names, in the same order)."""
        missing = [n for n in names if f"value:{n}" not in table.column_names]
        if missing:
            raise ValueError(f"scored rows lack the model's features {missing[:5]}")

        def column(name: str) -> np.ndarray:
            return table.column(name).to_numpy().astype(np.float64, copy=False)

        def matrix(prefix: str) -> np.ndarray:
            if not names:
                return np.empty((table.num_rows, 0))
            return np.column_stack([column(f"{prefix}:{n}") for n in names])

        return cls(
            patient_ids=table.column("patient_id").to_pylist(),
            values=matrix("value"),
            raw_score=column("raw_score"),
            risk_score=column("risk_score"),
            contributions=matrix("contribution"),
            base_value=column("base_value"),
        )

    @classmethod
    def concat(cls, parts: Sequence[ScoredRows], n_features: int) -> ScoredRows:
        """Several batches as one, in patient_id order (as one `load_features` gives them)."""
        ids = [pid for part in parts for pid in part.patient_ids]
        if len(set(ids)) != len(ids):
            raise ValueError("a patient was scored in more than one batch")
        order = np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)

        def stack(attr: str, shape: tuple[int, ...]) -> np.ndarray:
            arrays = [getattr(p, attr) for p in parts]
            return np.concatenate(arrays)[order] if arrays else np.empty(shape)

        return cls(
            patient_ids=[ids[i] for i in order],
            values=stack("values", (0, n_features)),
            raw_score=stack("raw_score", (0,)),
            risk_score=stack("risk_score", (0,)),
            contributions=stack("contributions", (0, n_features)),
            base_value=stack("base_value", (0,)),
        )


def predict_rows(model: ScoringModel, ids: list[str], matrix: np.ndarray) -> ScoredRows:
    """Calibrated risk, raw score and TreeSHAP contributions of each row of `matrix`.

    Row by row: a row's results do not depend on the other rows in the batch, so scoring the
    cohort in parts (one per neighbourhood, on Dask) gives the same numbers as in one go.
    """
    f = len(model.feature_names_)
    if not ids:
        empty = np.empty(0)
        return ScoredRows([], np.empty((0, f)), empty, empty, np.empty((0, f)), empty)
    risk = model.predict_proba(matrix)[:, 1]
    raw = model.raw_score(matrix)
    contribs, base = model.contributions(matrix)
    gap = np.abs(base + contribs.sum(axis=1) - raw).max()
    if gap > 1e-6:
        log.warning("contributions differ from the raw score by up to %.2g", gap)
    return ScoredRows(ids, matrix, raw, risk, contribs, base)


def score_neighbourhoods(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    as_of: date,
    neighbourhoods: Sequence[str],
    path: Path,
) -> int:
    """Score and explain the listed patients of `neighbourhoods` and write them to the
    Parquet file `path` (for `write_scored_parts`); return the patients scored.

    Reads the warehouse only, so it can run on a Dask worker with a read-only connection.
    """
    names = list(model.feature_names_)
    ids, matrix = load_features(con, as_of, names, neighbourhoods)
    rows = predict_rows(model, ids, matrix)
    pq.write_table(rows.to_arrow(names), path)
    return len(rows)


def write_scored_parts(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    as_of: date,
    paths: Sequence[Path],
    tiers: Sequence[tuple[str, float]],
    max_reasons: int = MAX_REASONS,
    dictionary: ModuleType | None = None,
) -> int:
    """Gather the Parquet files of `score_neighbourhoods` and write them exactly as
    `score_cohort` does (tiers, reasons, evidence; one transaction); return patients scored.

    Raises when the parts do not hold exactly the listed cohort (a part missing or doubled).
    """
    names = list(model.feature_names_)
    parts = [ScoredRows.from_arrow(pq.read_table(p), names) for p in paths]
    rows = ScoredRows.concat(parts, len(names))
    listed = con.execute(
        "select count(*) from scores.score_cohort where as_of = ? and is_listed", [as_of]
    ).fetchone()
    if listed is None or listed[0] != len(rows):
        raise RuntimeError(
            f"scored {len(rows)} patients in {len(paths)} parts, but "
            f"{listed[0] if listed else 0} are listed at {as_of}"
        )
    return write_scored(con, model.version, names, as_of, rows, tiers, max_reasons, dictionary)


def score_cohort(
    con: duckdb.DuckDBPyConnection,
    model: ScoringModel,
    as_of: date,
    tiers: Sequence[tuple[str, float]],
    max_reasons: int = MAX_REASONS,
    dictionary: ModuleType | None = None,
    ranking: tuple[str, str] = MODEL_RANKING,
) -> int:
    """Score, explain and give reasons (with evidence) for the listed cohort at `as_of`.

    Writes `scores.scores`, `scores.contributions`, `scores.base_values`, `scores.reasons`
    and `scores.evidence` for `as_of` (replacing earlier rows of that date) in one
    transaction. Needs `scores.score_cohort` built for `as_of`. Returns patients scored.
    """
    names = list(model.feature_names_)
    ids, matrix = load_features(con, as_of, names)
    rows = predict_rows(model, ids, matrix)
    return write_scored(
        con, model.version, names, as_of, rows, tiers, max_reasons, dictionary, ranking
    )


def score_with_fallback(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    reason: str,
    tiers: Sequence[tuple[str, float]],
    max_reasons: int = MAX_REASONS,
    dictionary: ModuleType | None = None,
) -> int:
    """`score_cohort` with the fallback points score (models/fallback.py) instead of a model:
    `model_version` empty, the points as contributions and reasons, and the ranking recorded
    as `fallback` with `reason`. Returns patients scored."""
    scorer = FallbackScorer().fit()
    return score_cohort(
        con, scorer, as_of, tiers, max_reasons, dictionary, ranking=("fallback", reason)
    )


def ranking_of(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, str]:
    """How the scores at `as_of` were made: `{"method": "model"|"fallback", "reason": ...}`
    (`model` when nothing was recorded)."""
    try:
        row = con.execute(
            "select method, reason from scores.rankings where as_of = ? limit 1", [as_of]
        ).fetchone()
    except duckdb.CatalogException:  # a warehouse scored before rankings were recorded
        row = None
    method, reason = row if row else MODEL_RANKING
    return {"method": str(method), "reason": str(reason or "")}


def write_scored(
    con: duckdb.DuckDBPyConnection,
    version: str,
    names: list[str],
    as_of: date,
    rows: ScoredRows,
    tiers: Sequence[tuple[str, float]],
    max_reasons: int = MAX_REASONS,
    dictionary: ModuleType | None = None,
    ranking: tuple[str, str] = MODEL_RANKING,
) -> int:
    """Tiers, reasons and evidence for scored rows, written to the `scores` history tables
    for `as_of` (replacing earlier rows of that date) in one transaction, with how they were
    ranked (`ranking`: method and reason)."""
    ensure_score_tables(con)
    ids, matrix, n = rows.patient_ids, rows.values, len(rows)
    risk, raw, base = rows.risk_score, rows.raw_score, rows.base_value
    contribs = rows.contributions
    tier = risk_tiers(risk, tiers)
    score_rows = pa.table(
        {
            "as_of": pa.array([as_of] * n, pa.date32()),
            "patient_id": pa.array(ids, pa.string()),
            "model_version": pa.array([version] * n, pa.string()),
            "raw_score": pa.array(raw, pa.float64()),
            "base_value": pa.array(base, pa.float64()),
            "risk_score": pa.array(risk, pa.float64()),
            "risk_tier": pa.array(tier.tolist(), pa.string()),
        }
    )
    f = len(names)
    contrib_rows = pa.table(
        {
            "as_of": pa.array([as_of] * (n * f), pa.date32()),
            "patient_id": pa.array(np.repeat(np.asarray(ids, dtype=object), f), pa.string()),
            "model_version": pa.array([version] * (n * f), pa.string()),
            "feature": pa.array(np.tile(np.asarray(names, dtype=object), n), pa.string()),
            "value": pa.array(matrix.reshape(-1), pa.float64(), from_pandas=True),
            "contribution": pa.array(contribs.reshape(-1), pa.float64()),
        }
    )
    reasons = top_reasons(names, matrix, contribs, max_reasons, dictionary)
    r_ids, r_rank, r_feat, r_val, r_con, r_text = [], [], [], [], [], []
    for pid, rs in zip(ids, reasons, strict=True):
        for k, r in enumerate(rs, start=1):
            r_ids.append(pid)
            r_rank.append(k)
            r_feat.append(r.feature)
            r_val.append(None if r.value is None else float(r.value))
            r_con.append(r.contribution)
            r_text.append(r.text)
    reason_rows = pa.table(
        {
            "as_of": pa.array([as_of] * len(r_ids), pa.date32()),
            "patient_id": pa.array(r_ids, pa.string()),
            "reason_rank": pa.array(r_rank, pa.int32()),
            "feature": pa.array(r_feat, pa.string()),
            "value": pa.array(r_val, pa.float64()),
            "contribution": pa.array(r_con, pa.float64()),
            "text": pa.array(r_text, pa.string()),
        }
    )
    with transaction(con):
        for table in SCORE_HISTORY_TABLES:
            con.execute(f"delete from scores.{table} where as_of = ?", [as_of])
        con.register("score_rows", score_rows)
        con.execute("insert into scores.scores by name select * from score_rows")
        con.register("contrib_rows", contrib_rows)
        con.execute("insert into scores.contributions by name select * from contrib_rows")
        con.execute(
            "insert into scores.base_values values (?, ?, ?)",
            [as_of, version, float(base[0]) if n else None],
        )
        con.execute("insert into scores.rankings values (?, ?, ?)", [as_of, *ranking])
        con.register("reason_rows", reason_rows)
        con.execute("insert into scores.reasons by name select * from reason_rows")
        evidence = collect_evidence(con, as_of, dictionary=dictionary)
        if evidence is not None:
            # The words lists and `explain` both show: ICD-10 codes dotted and described.
            con.register("worded_evidence", evidence_in_words(evidence.to_arrow_table()))
            con.execute(
                "insert into scores.evidence by name select ? as as_of, * from worded_evidence",
                [as_of],
            )
            con.unregister("worded_evidence")
        for view in ("score_rows", "contrib_rows", "reason_rows"):
            con.unregister(view)
    log.info(
        "scored %d patients at %s with %s", n, as_of, f"model {version}" if version else ranking[0]
    )
    return n
