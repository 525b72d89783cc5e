"""Turning model contributions (TreeSHAP) into ranked plain-English reasons with evidence."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from types import ModuleType
from typing import Any

import duckdb
import numpy as np

from features import dictionary as feature_dictionary
from foundation.warehouse import query_model

# Reasons shown per patient, and dated records shown per reason.
MAX_REASONS = 5
EVIDENCE_PER_REASON = 5
# Decimal places of a float feature value in the `explain` JSON: past them a stored value is
# only float noise (eFI 0.3056 = 11/36), and people get the feature's own rounding
# (`Feature.shown`) in the text and HTML.
JSON_DECIMALS = 4


@dataclass(frozen=True)
class Reason:
    """One risk-raising reason: the feature, its value, its contribution and the sentence."""

    feature: str
    value: Any
    contribution: float
    text: str


def _dictionary(dictionary: ModuleType | None) -> ModuleType:
    if dictionary is not None:
        return dictionary
    return feature_dictionary


def typed_value(dtype: str, value: Any) -> Any:
    """A stored numeric value back in the feature's own type (None for missing)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if dtype == "bool":
        return bool(value)
    if dtype == "int":
        return round(float(value))
    if dtype == "float":
        return float(value)
    return value


def json_value(value: Any) -> Any:
    """A feature value for the `explain` JSON: a float rounded to `JSON_DECIMALS` places."""
    if isinstance(value, float) and not math.isnan(value):
        return round(value, JSON_DECIMALS)
    return value


def _raises_risk_as_valued(risk_raising_when: str, value: Any) -> bool:
    """A "present" feature is a reason only when present (true / non-zero); "any" always."""
    if value is None:
        return False
    if risk_raising_when == "present":
        return bool(value)
    return True


def top_reasons(
    names: Sequence[str],
    values: np.ndarray,
    contributions: np.ndarray,
    max_reasons: int = MAX_REASONS,
    dictionary: ModuleType | None = None,
) -> list[list[Reason]]:
    """The top risk-raising reasons of each row, largest contribution first.

    Args:
        names: feature names, the columns of `values` and `contributions`.
        values: (n, f) feature values (floats; NaN = missing).
        contributions: (n, f) log-odds contributions from the model.
        max_reasons: how many reasons at most per row.
        dictionary: the feature dictionary module (default `features.dictionary`).

    Only positive contributions become reasons; ties break by feature order, so the result is
    deterministic.
    """
    fd = _dictionary(dictionary)
    feats = [fd.get(name) for name in names]
    n, f = contributions.shape
    if n == 0:
        return []
    # Stable sort on the negated contributions: largest first, ties by column order.
    order = np.argsort(-contributions, axis=1, kind="stable")[:, : min(f, max_reasons * 3)]
    result: list[list[Reason]] = []
    for i in range(n):
        reasons: list[Reason] = []
        for j in order[i]:
            contribution = float(contributions[i, j])
            if contribution <= 0 or len(reasons) >= max_reasons:
                break
            feat = feats[j]
            value = typed_value(feat.dtype, values[i, j])
            if not _raises_risk_as_valued(feat.risk_raising_when, value):
                continue
            reasons.append(Reason(feat.name, value, contribution, fd.sentence(feat.name, value)))
        result.append(reasons)
    return result


def evidence_models(names: Sequence[str], dictionary: ModuleType | None = None) -> dict[str, str]:
    """Feature name -> evidence model name, for the features that have one."""
    fd = _dictionary(dictionary)
    out: dict[str, str] = {}
    for name in names:
        model = fd.get(name).evidence
        if model:
            out[name] = model
    return out


def collect_evidence(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    per_reason: int = EVIDENCE_PER_REASON,
    dictionary: ModuleType | None = None,
) -> duckdb.DuckDBPyRelation | None:
    """The dated source records behind each reason in `scores.reasons` at `as_of` (most recent
    first, a few per reason).

    Runs each needed evidence model (`sql/features/evid_*.sql`) once, for the patients that
    have a reason from it (bound as `$patient_ids`), and keeps per reason the rows of
    `sql/scores/score_reason_evidence.sql`. Returns a relation over temp table
    `reason_evidence(patient_id, feature, source, event_date, code, term, evidence_rank)`,
    or None when no reason has an evidence model.
    """
    fd = _dictionary(dictionary)
    features_used = [
        r[0]
        for r in con.execute(
            "select distinct feature from scores.reasons where as_of = ? order by 1", [as_of]
        ).fetchall()
    ]
    by_model: dict[str, list[str]] = {}
    for name, model in evidence_models(features_used, fd).items():
        by_model.setdefault(model, []).append(name)
    con.execute(
        "create or replace temp table reason_evidence (patient_id varchar, feature varchar,"
        " source varchar, event_date date, code varchar, term varchar, evidence_rank integer)"
    )
    if not by_model:
        return None
    for model, names in sorted(by_model.items()):
        patient_ids = [
            r[0]
            for r in con.execute(
                "select distinct patient_id from scores.reasons"
                " where as_of = ? and list_contains(cast(? as varchar[]), feature) order by 1",
                [as_of, names],
            ).fetchall()
        ]
        rel = query_model(con, model, {"as_of": as_of, "patient_ids": patient_ids})
        con.register("evidence_rows", rel.to_arrow_table())
        params = {"as_of": as_of, "reason_features": names, "per_reason": per_reason}
        query_model(con, "score_reason_evidence", params).insert_into("reason_evidence")
        con.unregister("evidence_rows")
    return con.table("reason_evidence")


def _exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def explain_patient(
    con: duckdb.DuckDBPyConnection,
    patient_id: str,
    as_of: date | None = None,
    dictionary: ModuleType | None = None,
) -> dict[str, Any] | None:
    """Everything behind one patient's score at `as_of` (default: their latest scored date).

    Returns the `explain --format json` shape of OUTPUTS.md without `nhs_number` (the caller
    adds it), plus `raw_score`; None when the patient was not scored at that date.
    `base_value + sum(contribution)` equals `raw_score`.
    """
    fd = _dictionary(dictionary)
    if not _exists(con, "scores.scores"):
        return None
    if as_of is None:
        row = con.execute(
            "select max(as_of) from scores.scores where patient_id = ?", [patient_id]
        ).fetchone()
        as_of = row[0] if row else None
        if as_of is None:
            return None
    score = con.execute(
        "select model_version, raw_score, base_value, risk_score, risk_tier from scores.scores"
        " where patient_id = ? and as_of = ?",
        [patient_id, as_of],
    ).fetchone()
    if score is None:
        return None
    version, raw, base, risk, tier = score
    rank = neighbourhood = None
    history: list[dict[str, Any]] = []
    if _exists(con, "lists.list_entries"):
        entry = con.execute(
            "select rank, neighbourhood_code from lists.list_entries"
            " where patient_id = ? and as_of = ?",
            [patient_id, as_of],
        ).fetchone()
        if entry:
            rank, neighbourhood = int(entry[0]), entry[1]
        history = [
            {"as_of": d.isoformat(), "risk_score": float(s), "rank": int(r)}
            for d, s, r in con.execute(
                "select as_of, risk_score, rank from lists.list_entries where patient_id = ?"
                " order by as_of",
                [patient_id],
            ).fetchall()
        ]
    if neighbourhood is None:
        found = con.execute(
            "select neighbourhood_code from features.feat_patients"
            " where patient_id = ? and index_date = ?",
            [patient_id, as_of],
        ).fetchone()
        neighbourhood = found[0] if found else None
    features = []
    for name, value, contribution in con.execute(
        "select feature, value, contribution from scores.contributions"
        " where patient_id = ? and as_of = ? order by abs(contribution) desc, feature",
        [patient_id, as_of],
    ).fetchall():
        try:
            feat = fd.get(name)
        except KeyError:
            feat = None
        features.append(
            {
                "name": name,
                "value": json_value(typed_value(feat.dtype, value) if feat else value),
                "contribution": float(contribution),
                "description": feat.description if feat else "",
            }
        )
    evidence: dict[str, list[dict[str, str]]] = {}
    if _exists(con, "scores.evidence"):
        for feature, source, event_date, code, term in con.execute(
            "select feature, source, event_date, code, term from scores.evidence"
            " where patient_id = ? and as_of = ? order by feature, evidence_rank",
            [patient_id, as_of],
        ).fetchall():
            evidence.setdefault(feature, []).append(
                {
                    "source": source or "",
                    "date": event_date.isoformat() if event_date else "",
                    "code": code or "",
                    "term": term or "",
                }
            )
    reasons = [
        {"text": text, "feature": feature, "evidence": evidence.get(feature, [])}
        for feature, text in con.execute(
            "select feature, text from scores.reasons where patient_id = ? and as_of = ?"
            " order by reason_rank",
            [patient_id, as_of],
        ).fetchall()
    ]
    return {
        "as_of": as_of.isoformat(),
        "model_version": version,
        "risk_score": float(risk),
        "risk_tier": tier,
        "rank": rank,
        "neighbourhood_code": neighbourhood,
        "base_value": float(base),
        "raw_score": float(raw),
        "features": features,
        "reasons": reasons,
        "history": history,
    }
