"""The run report: one self-contained HTML page telling a data engineer whether to trust a run."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import numpy as np

from features.dictionary import model_feature_names
from foundation.privacy import redact
from foundation.warehouse import apply_ddl
from reports.capacity import review_report
from reports.drift import (
    PSI_FLAG,
    PSI_WATCH,
    VOLUME_DROP_FLAG,
    Drift,
    Profile,
    VolumeChange,
    drift,
    profile,
    volume_changes,
)

log = logging.getLogger("casefinder.reports.run_report")

TEMPLATES = Path(__file__).resolve().parent / "templates"

# A file with more than this share of its rows quarantined is flagged.
QUARANTINE_RATE_FLAG = 0.05
# A neighbourhood list that shrinks by more than this against the previous run is flagged,
# when it had at least LIST_MIN_ROWS rows (smaller lists move by chance).
LIST_DROP_FLAG = 0.20
LIST_MIN_ROWS = 20
# How many quarantine reasons the report lists.
TOP_REASONS = 10
# Fixed bins of the risk score for the histogram chart (the PSI uses quantile bins).
SCORE_HISTOGRAM_EDGES = tuple(round(i / 10, 1) for i in range(11))

PROFILE_TABLE = "audit.drift_profiles"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Check:
    """One threshold the run is held to. `breached` makes the run "completed with warnings"."""

    name: str
    value: float | int | str | None
    threshold: float | int | str | None
    breached: bool
    message: str
    level: str = "ok"  # "ok", "watch" (shown, not a warning) or "warning" (breached)


def run_warning(name: str, value: Any, threshold: Any, message: str) -> Check:
    """A breached check raised by the run itself (a rejected retraining, the fallback ranking)."""
    return Check(
        name=name,
        value=value,
        threshold=threshold,
        breached=True,
        message=message,
        level="warning",
    )


@dataclass
class ReportData:
    """Everything the report shows: counts and distributions, never patient-level rows."""

    as_of: str
    previous_as_of: str | None
    model_version: str | None
    code_version: str | None
    generated_at: str
    reconciliation: list[dict[str, Any]] = field(default_factory=list)
    quarantine_reasons: list[dict[str, Any]] = field(default_factory=list)
    volume: list[VolumeChange] = field(default_factory=list)
    feature_drift: list[Drift] = field(default_factory=list)
    score_drift: Drift | None = None
    score_histogram: dict[str, list[float]] = field(default_factory=dict)
    model_metrics: dict[str, float] = field(default_factory=dict)
    model_created_at: str | None = None
    lists: list[dict[str, Any]] = field(default_factory=list)
    cohort: dict[str, int] = field(default_factory=dict)
    opt_outs: list[dict[str, Any]] = field(default_factory=list)
    data_docs: str | None = None
    notes: list[str] = field(default_factory=list)
    # Review feedback: outcomes recorded, PPV in practice (reports/capacity.review_report).
    reviews: dict[str, Any] = field(default_factory=dict)


# --- reading the warehouse (every reader tolerates a missing table) -------------------------


def _table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".", 1)
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


def _columns(con: duckdb.DuckDBPyConnection, qualified: str) -> list[tuple[str, str]]:
    schema, name = qualified.split(".", 1)
    return [
        (str(r[0]), str(r[1]))
        for r in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, name],
        ).fetchall()
    ]


def _snapshots(con: duckdb.DuckDBPyConnection, as_of: str) -> tuple[Any, Any]:
    """The current snapshot (latest loaded for this extract date, else latest) and the one
    before it (latest with an earlier extract date)."""
    if not _table_exists(con, "audit.snapshots"):
        return None, None
    rows = con.execute(
        "select snapshot_id, cast(extract_date as varchar) from audit.snapshots "
        "order by extract_date, loaded_at"
    ).fetchall()
    if not rows:
        return None, None
    same_day = [r for r in rows if r[1] == as_of]
    current = same_day[-1] if same_day else rows[-1]
    earlier = [r for r in rows if r[1] is not None and current[1] and r[1] < current[1]]
    return current[0], (earlier[-1][0] if earlier else None)


def _rows_read(con: duckdb.DuckDBPyConnection, snapshot_id: Any) -> dict[str, int]:
    if snapshot_id is None or not _table_exists(con, "audit.loads"):
        return {}
    return {
        str(f): int(n or 0)
        for f, n in con.execute(
            "select file, sum(rows_read) from audit.loads where snapshot_id = ? group by file",
            [snapshot_id],
        ).fetchall()
    }


def _reconciliation(
    con: duckdb.DuckDBPyConnection, summary: Mapping[str, Any], snapshot_id: Any
) -> list[dict[str, Any]]:
    status: dict[str, str] = {}
    from_audit: dict[str, dict[str, Any]] = {}
    if snapshot_id is not None and _table_exists(con, "audit.loads"):
        for f, sha, read, loaded, quar, dup, st in con.execute(
            "select file, sha256, rows_read, rows_loaded, rows_quarantined, rows_duplicate, status "
            "from audit.loads where snapshot_id = ? order by file",
            [snapshot_id],
        ).fetchall():
            status[str(f)] = str(st)
            from_audit[str(f)] = {
                "sha256": sha,
                "read": read,
                "loaded": loaded,
                "quarantined": quar,
                "duplicates": dup,
            }
    extracts = summary.get("extracts") or from_audit
    out = []
    for name in sorted(extracts):
        e = extracts[name]
        read, loaded = int(e.get("read") or 0), int(e.get("loaded") or 0)
        quar, dup = int(e.get("quarantined") or 0), int(e.get("duplicates") or 0)
        out.append(
            {
                "file": name,
                "sha256": str(e.get("sha256") or "")[:12],
                "read": read,
                "loaded": loaded,
                "quarantined": quar,
                "duplicates": dup,
                "balanced": read == loaded + quar + dup,
                "quarantine_rate": (quar / read) if read else 0.0,
                "status": status.get(name, ""),
            }
        )
    return out


def _quarantine_reasons(con: duckdb.DuckDBPyConnection, snapshot_id: Any) -> list[dict[str, Any]]:
    if not _table_exists(con, "quarantine.rejected_rows"):
        return []
    # original_values (the row as landed) is never read here: it holds identifiers. A
    # secondary diagnosis quarantined on its own (its spell kept) is one reason among them.
    rejected = "select load_id, file, column_name, rule, reason from quarantine.rejected_rows"
    if _table_exists(con, "quarantine.rejected_diagnoses"):
        rejected += (
            " union all select load_id, file, column_name, rule, reason"
            " from quarantine.rejected_diagnoses"
        )
    sql = f"select q.file, q.column_name, q.rule, q.reason, count(*) as n from ({rejected}) q "
    params: list[Any] = []
    if snapshot_id is not None and _table_exists(con, "audit.loads"):
        sql += "join audit.loads l on l.load_id = q.load_id where l.snapshot_id = ? "
        params.append(snapshot_id)
    sql += "group by all order by n desc, q.file, q.rule limit ?"
    params.append(TOP_REASONS)
    return [
        {
            "file": f,
            "column": c,
            "rule": r,
            "reason": redact(str(reason or ""))[:200],
            "rows": int(n),
        }
        for f, c, r, reason, n in con.execute(sql, params).fetchall()
    ]


def _model_features(con: duckdb.DuckDBPyConnection, version: str | None) -> list[str]:
    """The features the registered model `version` was trained on (`registry.models`); with
    no model (a fallback ranking), the features the dictionary gives a model."""
    if version and _table_exists(con, "registry.models"):
        row = con.execute(
            "select feature_names from registry.models where model_version = ?", [version]
        ).fetchone()
        if row is not None and row[0]:
            return [str(name) for name in json.loads(row[0])]
    return model_feature_names()


def _drift_columns(
    con: duckdb.DuckDBPyConnection, version: str | None, features: list[str] | None
) -> list[str]:
    """The features profiled for drift (`features`, else the model's) in features.feat_patients."""
    present = {c for c, _ in _columns(con, "features.feat_patients")}
    return [c for c in (features or _model_features(con, version)) if c in present]


def _feature_values(
    con: duckdb.DuckDBPyConnection, index_date: str, columns: list[str]
) -> dict[str, np.ndarray]:
    if not columns:
        return {}
    select = ", ".join(f'cast("{c}" as double) as "{c}"' for c in columns)
    rows = con.execute(
        f"select {select} from features.feat_patients where index_date = cast(? as date)",
        [index_date],
    ).fetchnumpy()
    return {c: np.asarray(rows[c], dtype=float) for c in columns}


def _score_values(con: duckdb.DuckDBPyConnection, as_of: str) -> np.ndarray | None:
    if not _table_exists(con, "scores.scores"):
        return None
    rows = con.execute(
        "select cast(risk_score as double) as s from scores.scores where as_of = cast(? as date)",
        [as_of],
    ).fetchnumpy()
    values = np.asarray(rows["s"], dtype=float)
    return values if values.size else None


def _stored_profiles(con: duckdb.DuckDBPyConnection, as_of: str) -> dict[tuple[str, str], Profile]:
    if not _table_exists(con, PROFILE_TABLE):
        return {}
    return {
        (str(kind), str(name)): Profile.from_dict(json.loads(text))
        for kind, name, text in con.execute(
            f"select kind, name, profile from {PROFILE_TABLE} where as_of = cast(? as date)",
            [as_of],
        ).fetchall()
    }


def _previous_as_of(
    con: duckdb.DuckDBPyConnection, as_of: str, previous_summary: Mapping[str, Any] | None
) -> str | None:
    if previous_summary:
        return str(previous_summary["as_of"])
    for table, column in ((PROFILE_TABLE, "as_of"), ("scores.scores", "as_of")):
        if _table_exists(con, table):
            row = con.execute(
                f"select cast(max({column}) as varchar) from {table} "
                f"where {column} < cast(? as date)",
                [as_of],
            ).fetchone()
            if row and row[0]:
                return str(row[0])
    return None


def _histogram(values: np.ndarray | None) -> list[float]:
    if values is None or not values.size:
        return []
    counts, _ = np.histogram(np.clip(values, 0.0, 1.0), bins=np.array(SCORE_HISTOGRAM_EDGES))
    return [float(c) / values.size for c in counts]


def _save_profiles(
    con: duckdb.DuckDBPyConnection, as_of: str, profiles: dict[tuple[str, str], Profile]
) -> None:
    """Keep this run's distributions (bin edges and shares only) for next week's comparison."""
    apply_ddl(con, ["drift_profiles"])
    con.execute(f"delete from {PROFILE_TABLE} where as_of = cast(? as date)", [as_of])
    now = datetime.now(UTC).replace(tzinfo=None)
    con.executemany(
        f"insert into {PROFILE_TABLE} values (cast(? as date), ?, ?, ?, ?)",
        [
            [as_of, kind, name, json.dumps(p.to_dict()), now]
            for (kind, name), p in sorted(profiles.items())
        ],
    )


# Nested metric blocks left out of the report (per-subgroup tables, curve points).
_SKIP_METRIC_KEYS = {"subgroups", "curves", "calibration_curve", "bins"}


def _flat_metrics(metrics: Any, prefix: str = "", depth: int = 0) -> dict[str, float]:
    """Numbers of a nested metrics block as `cohort.scorer.metric` names (three levels)."""
    out: dict[str, float] = {}
    if not isinstance(metrics, Mapping) or depth > 3:
        return out
    for key, value in metrics.items():
        if key in _SKIP_METRIC_KEYS:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            out[name] = float(value)
        elif isinstance(value, Mapping):
            out.update(_flat_metrics(value, f"{name}.", depth + 1))
    return out


def _model(con: duckdb.DuckDBPyConnection, version: str | None) -> tuple[dict[str, float], Any]:
    if not version or not _table_exists(con, "registry.models"):
        return {}, None
    cols = {c for c, _ in _columns(con, "registry.models")}
    created = "cast(created_at as varchar)" if "created_at" in cols else "null"
    row = con.execute(
        f"select metrics, {created} from registry.models where model_version = ?", [version]
    ).fetchone()
    if row is None:
        return {}, None
    metrics = row[0]
    if isinstance(metrics, str):
        try:
            metrics = json.loads(metrics)
        except ValueError:
            metrics = {}
    return _flat_metrics(metrics), row[1]


def model_metrics(con: duckdb.DuckDBPyConnection, version: str | None) -> dict[str, float]:
    """The registered model's metrics as flat `cohort.scorer.metric` numbers (empty if none)."""
    return _model(con, version)[0]


def _opt_outs(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    if not _table_exists(con, "core.core_opt_outs"):
        return []
    return [
        {"type": str(t), "patients": int(n)}
        for t, n in con.execute(
            "select opt_out_type, count(distinct patient_id) from core.core_opt_outs "
            "group by 1 order by 1"
        ).fetchall()
    ]


def _data_docs(summary: Mapping[str, Any], out_path: Path | None) -> str | None:
    """A link to the Great Expectations Data Docs: `summary["data_docs"]`, else
    `data_docs/index.html` beside the report when it exists; relative when possible."""
    raw = summary.get("data_docs")
    if raw is None and out_path is not None:
        candidate = out_path.parent / "data_docs" / "index.html"
        raw = str(candidate) if candidate.exists() else None
    if raw is None:
        return None
    text = str(raw)
    if "://" in text:
        return text
    target = Path(text)
    if not target.is_absolute() and out_path is not None:  # beside the report (publish.py)
        return target.as_posix() if (out_path.parent / target).exists() else None
    if out_path is not None:
        try:
            return target.resolve().relative_to(out_path.parent.resolve()).as_posix()
        except ValueError:
            return target.resolve().as_uri()
    return target.as_posix()


def collect(
    con: duckdb.DuckDBPyConnection,
    summary: Mapping[str, Any],
    previous_summary: Mapping[str, Any] | None = None,
    out_path: Path | None = None,
    features: list[str] | None = None,
    with_drift: bool = True,
) -> ReportData:
    """Gather counts and distributions from the warehouse and the run summary.

    With `with_drift=False` the feature and score distributions are skipped (the data-quality
    checks of `data_quality_checks` need only the counts).
    Missing tables (a first run, a run that stopped early) leave their section empty. Only
    reads: the publication keeps the run's distributions (`record_drift_profiles`).
    Features drift on `features`, by default the registered model's (`model_version`).
    """
    as_of = str(summary["as_of"])
    if previous_summary is not None and not (
        previous_summary.get("as_of") and str(previous_summary["as_of"]) < as_of
    ):
        log.warning("previous run summary is not dated before %s; ignored", as_of)
        previous_summary = None
    data = ReportData(
        as_of=as_of,
        previous_as_of=_previous_as_of(con, as_of, previous_summary),
        model_version=summary.get("model_version"),
        code_version=summary.get("code_version"),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    current_snap, previous_snap = _snapshots(con, as_of)
    data.reconciliation = _reconciliation(con, summary, current_snap)
    data.quarantine_reasons = _quarantine_reasons(con, current_snap)

    current_volume = {r["file"]: r["read"] for r in data.reconciliation}
    if previous_summary and previous_summary.get("extracts"):
        previous_volume: dict[str, int] | None = {
            f: int(e.get("read") or 0) for f, e in previous_summary["extracts"].items()
        }
    else:
        previous_volume = _rows_read(con, previous_snap) or None
    data.volume = volume_changes(previous_volume, current_volume)

    if with_drift:
        _collect_drift(con, data, as_of, features)
    data.model_metrics, created = _model(con, data.model_version)
    data.model_created_at = str(created) if created else None

    previous_lists = (previous_summary or {}).get("lists") or {}
    for nbhd, info in sorted((summary.get("lists") or {}).items()):
        rows = int(info.get("rows") or 0)
        prev = previous_lists.get(nbhd)
        prev_rows = int(prev.get("rows") or 0) if prev else None
        change = (rows - prev_rows) / prev_rows if prev_rows else None
        data.lists.append(
            {
                "neighbourhood": nbhd,
                "rows": rows,
                "previous": prev_rows,
                "change": change,
                "flagged": change is not None
                and change < -LIST_DROP_FLAG
                and (prev_rows or 0) >= LIST_MIN_ROWS,
            }
        )
    data.cohort = {k: int(v) for k, v in (summary.get("cohort") or {}).items() if v is not None}
    died_in_hospital = data.cohort.get("excluded_died_in_hospital", 0)
    if died_in_hospital:
        data.notes.append(
            f"{died_in_hospital} registered patients died in hospital (a spell discharged to "
            "79) with no GP date of death, or an earlier one than the GP's: they are in no "
            "cohort and on no list from the day of discharge."
        )
    data.opt_outs = _opt_outs(con)
    data.data_docs = _data_docs(summary, out_path)
    if _ISO_DATE.fullmatch(as_of):
        data.reviews = review_report(con, date.fromisoformat(as_of))
        data.reviews["this_week"] = {
            code: info.get("this_week") for code, info in (summary.get("lists") or {}).items()
        }
    return data


def _collect_drift(
    con: duckdb.DuckDBPyConnection,
    data: ReportData,
    as_of: str,
    features: list[str] | None,
) -> None:
    """Feature and score drift against the previous run, and the score histogram."""
    prev_profiles = _stored_profiles(con, data.previous_as_of) if data.previous_as_of else {}
    if _table_exists(con, "features.feat_patients"):
        columns = _drift_columns(con, data.model_version, features)
        current = _feature_values(con, as_of, columns)
        previous_rows: dict[str, np.ndarray] = {}
        if data.previous_as_of and any(("feature", c) not in prev_profiles for c in columns):
            previous_rows = _feature_values(con, data.previous_as_of, columns)
        for name in columns:
            prev = prev_profiles.get(("feature", name))
            if prev is None and previous_rows.get(name) is not None and previous_rows[name].size:
                prev = profile(previous_rows[name])
            data.feature_drift.append(drift(name, prev, current[name]))
    else:
        data.notes.append("features.feat_patients not found: no feature drift.")

    scores = _score_values(con, as_of)
    prev_score = prev_profiles.get(("score", "risk_score"))
    prev_hist = prev_profiles.get(("histogram", "risk_score"))
    if prev_score is None and data.previous_as_of:
        prev_values = _score_values(con, data.previous_as_of)
        if prev_values is not None:
            prev_score = profile(prev_values)
            prev_hist = Profile(
                SCORE_HISTOGRAM_EDGES, tuple(_histogram(prev_values)), int(prev_values.size)
            )
    if scores is not None:
        data.score_drift = drift("risk_score", prev_score, scores)
        data.score_histogram = {
            "edges": list(SCORE_HISTOGRAM_EDGES),
            "current": _histogram(scores),
            "previous": list(prev_hist.proportions) if prev_hist else [],
        }
    else:
        data.notes.append("no scores for this date: no score drift.")


def drift_profiles(
    con: duckdb.DuckDBPyConnection,
    as_of: str,
    version: str | None,
    features: list[str] | None = None,
) -> dict[tuple[str, str], Profile]:
    """The run's feature and score distributions (bin edges and shares only), read from the
    warehouse: what `record_drift_profiles` keeps for next week's comparison."""
    profiles: dict[tuple[str, str], Profile] = {}
    if _table_exists(con, "features.feat_patients"):
        for name, values in _feature_values(
            con, as_of, _drift_columns(con, version, features)
        ).items():
            if values.size:
                profiles[("feature", name)] = profile(values)
    scores = _score_values(con, as_of)
    if scores is not None:
        profiles[("score", "risk_score")] = profile(scores)
        profiles[("histogram", "risk_score")] = Profile(
            SCORE_HISTOGRAM_EDGES, tuple(_histogram(scores)), int(scores.size)
        )
    return profiles


def record_drift_profiles(
    con: duckdb.DuckDBPyConnection, as_of: str, profiles: dict[tuple[str, str], Profile]
) -> None:
    """Keep the run's distributions (`drift_profiles`) in `audit.drift_profiles` (the
    publication records them with the lists, so only a published run is next week's
    comparison)."""
    if profiles:
        _save_profiles(con, as_of, profiles)


# --- thresholds ----------------------------------------------------------------------------


def evaluate(data: ReportData) -> list[Check]:
    """The thresholds applied to a run, each marked breached or not."""
    out: list[Check] = []
    for r in data.reconciliation:
        if not r["balanced"]:
            out.append(
                Check(
                    f"reconciliation:{r['file']}",
                    r["read"],
                    "read = loaded + quarantined + duplicates",
                    True,
                    f"{r['file']}: {r['read']} rows read but {r['loaded']} loaded + "
                    f"{r['quarantined']} quarantined + {r['duplicates']} duplicates",
                    "warning",
                )
            )
        breached = r["quarantine_rate"] > QUARANTINE_RATE_FLAG
        if breached:
            out.append(
                Check(
                    f"quarantine_rate:{r['file']}",
                    round(r["quarantine_rate"], 4),
                    QUARANTINE_RATE_FLAG,
                    True,
                    f"{r['file']}: {r['quarantine_rate']:.1%} of rows quarantined "
                    f"(threshold {QUARANTINE_RATE_FLAG:.0%})",
                    "warning",
                )
            )
    for v in data.volume:
        if v.change is None:
            continue
        out.append(
            Check(
                f"volume:{v.source}",
                round(v.change, 4),
                -VOLUME_DROP_FLAG,
                v.flagged,
                f"{v.source}: rows read {v.previous} -> {v.current or 0} ({v.change:+.1%})"
                + (f", a drop of more than {VOLUME_DROP_FLAG:.0%}" if v.flagged else ""),
                "warning" if v.flagged else "ok",
            )
        )
    drifts = list(data.feature_drift)
    if data.score_drift is not None:
        drifts.append(data.score_drift)
    for d in drifts:
        if d.psi is None:
            continue
        kind = "score" if d is data.score_drift else "feature"
        level = {"flagged": "warning", "watch": "watch"}.get(d.status, "ok")
        out.append(
            Check(
                f"psi:{d.name}",
                round(d.psi, 4),
                PSI_FLAG,
                d.status == "flagged",
                f"{kind} {d.name}: PSI {d.psi:.3f} ({d.status}; watch from {PSI_WATCH}, "
                f"flagged above {PSI_FLAG})",
                level,
            )
        )
    for row in data.lists:
        if row["change"] is None:
            continue
        out.append(
            Check(
                f"list_size:{row['neighbourhood']}",
                round(row["change"], 4),
                -LIST_DROP_FLAG,
                row["flagged"],
                f"list {row['neighbourhood']}: {row['previous']} -> {row['rows']} rows "
                f"({row['change']:+.1%})",
                "warning" if row["flagged"] else "ok",
            )
        )
    return out


# The checks of the data that a list's reader is told about on the list itself (a banner):
# rows rejected, a file that shrank, a list that shrank.
DATA_QUALITY_CHECKS = ("quarantine_rate:", "volume:", "list_size:")


def data_quality_checks(
    con: duckdb.DuckDBPyConnection,
    summary: Mapping[str, Any],
    previous_summary: Mapping[str, Any] | None = None,
) -> list[Check]:
    """The breached data-quality checks (`DATA_QUALITY_CHECKS`) of a run, from counts only:
    `summary` needs `as_of`, `extracts` and `lists` (rows per neighbourhood)."""
    data = collect(con, summary, previous_summary, with_drift=False)
    return [c for c in evaluate(data) if c.breached and c.name.startswith(DATA_QUALITY_CHECKS)]


def ranking_check(ranking: Mapping[str, Any]) -> Check | None:
    """The run report's warning for a list ranked by the fallback score (None for a model)."""
    if ranking.get("method") != "fallback":
        return None
    reason = str(ranking.get("reason") or "no model is fit to rank")
    return run_warning(
        "ranking",
        "fallback",
        "a registered model",
        f"lists ranked by the fallback points score, not a model: {reason}",
    )


def breached(checks_: list[Check]) -> list[Check]:
    """The checks that make a run "completed with warnings"."""
    return [c for c in checks_ if c.breached]


def checks(
    con: duckdb.DuckDBPyConnection,
    summary: Mapping[str, Any],
    previous_summary: Mapping[str, Any] | None = None,
) -> list[Check]:
    """The run's checks without writing a report."""
    return evaluate(collect(con, summary, previous_summary))


# --- rendering -----------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v, digits=1: "" if v is None else f"{v * 100:+.{digits}f}%"
    env.filters["num"] = lambda v: "" if v is None else f"{v:,}"
    return env


def render(data: ReportData, checks_: list[Check]) -> str:
    """The report as one HTML string (inline CSS and SVG; nothing fetched from the network)."""
    max_psi = max([d.psi for d in data.feature_drift if d.psi is not None] + [PSI_FLAG * 1.5])
    return (
        _environment()
        .get_template("run_report.html")
        .render(
            d=data,
            checks=checks_,
            breached=breached(checks_),
            watch=[c for c in checks_ if c.level == "watch"],
            psi_flag=PSI_FLAG,
            psi_watch=PSI_WATCH,
            psi_scale=max_psi,
            volume_drop=VOLUME_DROP_FLAG,
            quarantine_flag=QUARANTINE_RATE_FLAG,
            list_drop=LIST_DROP_FLAG,
            list_min=LIST_MIN_ROWS,
        )
    )


def build_run_report(
    con: duckdb.DuckDBPyConnection,
    summary: Mapping[str, Any],
    out_path: Path,
    previous_summary: Mapping[str, Any] | None = None,
    features: list[str] | None = None,
    run_warnings: Sequence[Check] = (),
) -> tuple[Path, list[Check]]:
    """Write the report and return its path with the checks (for the flow's final state).

    The ranking by the fallback score (summary `ranking`) is the first warning, then
    `run_warnings` (the run's own warnings: a rejected retraining), then the thresholds.
    """
    out_path = Path(out_path)
    data = collect(con, summary, previous_summary, out_path=out_path, features=features)
    ranking = ranking_check(summary.get("ranking") or {})
    found = [*([ranking] if ranking else []), *run_warnings, *evaluate(data)]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(render(data, found), encoding="utf-8")
    tmp.replace(out_path)
    log.info("run report written: %d checks, %d breached", len(found), len(breached(found)))
    return out_path, found


def previous_summary_for(reports_dir: Path, as_of: str) -> dict[str, Any] | None:
    """The latest `run_summary.json` under `OUT/reports/<date>/` dated before `as_of`, if any.

    Only folders named as a date count (not the hidden staging folders of a publication).
    """
    reports_dir = Path(reports_dir)
    if not reports_dir.is_dir():
        return None
    earlier = sorted(
        p
        for p in reports_dir.glob("*/run_summary.json")
        if _ISO_DATE.fullmatch(p.parent.name) and p.parent.name < str(as_of)
    )
    for path in reversed(earlier):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return None
