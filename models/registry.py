"""The model registry: versioned folders beside the warehouse and the `registry.models` table."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import lightgbm as lgb
import numpy
import polars
import sklearn

from foundation.errors import CasefinderError
from foundation.provenance import code_version
from foundation.settings import models_dir_beside
from foundation.staging import create_held, release, remove_abandoned
from foundation.warehouse import apply_ddl, connect
from models.train import RiskModel

log = logging.getLogger("casefinder.models.registry")

STATUS_REGISTERED = "registered"
STAGING_PREFIX = ".staging-"


def models_dir(warehouse: Path) -> Path:
    """The registry folder: `models/` beside the warehouse file (`Settings.models_dir`)."""
    return models_dir_beside(warehouse)


def clean_stale_staging(root: Path) -> int:
    """Remove the staging folders of trainings whose process has ended (e.g. killed); a live
    training's folder is held by its process and left alone. Returns how many went."""
    return remove_abandoned(root, (STAGING_PREFIX,))


def new_staging_dir(root: Path) -> Path:
    """A fresh hidden folder under the registry for a model being trained, held by this
    process until it is registered or discarded; stale ones of ended runs go first."""
    root.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(root)
    return create_held(root / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}")


def version_id(as_of: str, model_text: bytes, calibrator_text: bytes) -> str:
    """`<as_of>-<8 hex>`: the hash covers the trees and the calibrator, so it is content-derived."""
    digest = hashlib.sha256(model_text + b"\n--calibrator--\n" + calibrator_text).hexdigest()
    return f"{as_of}-{digest[:8]}"


def _library_versions() -> dict[str, str]:
    return {
        "python": sys.version.split()[0],
        "lightgbm": lgb.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "polars": polars.__version__,
        "duckdb": duckdb.__version__,
    }


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def build_metadata(staging: Path, version: str, created_at: str) -> dict[str, Any]:
    """Every piece of provenance a registered version carries (metadata.json)."""
    sample = _read(staging / "training_set.json")
    fit = _read(staging / "fit.json")
    metrics = _read(staging / "metrics.json")
    calibrator = _read(staging / "calibrator.json")
    prov = sample.get("provenance", {})
    model_bytes = (staging / "model.txt").read_bytes()
    return {
        "version": version,
        "created_at": created_at,
        "status": STATUS_REGISTERED,
        "as_of": sample["as_of"],
        "horizon_days": sample["horizon_days"],
        "outcome": (
            f"emergency admission (admission methods 21-28, 2A-2D) or death within "
            f"{sample['horizon_days']} days after the index date"
        ),
        "cohort": "aged 65+ or housebound, alive and registered at the index date",
        "index_dates": sample["index_dates"],
        "holdout_index_dates": sample["holdout_index_dates"],
        "training_counts": {k: v for k, v in sample.items() if k != "provenance"},
        "snapshot_ids": prov.get("snapshot_ids", []),
        "extract_date": prov.get("extract_date"),
        "extract_checksums": prov.get("extract_checksums", {}),
        "code_version": code_version(),
        "libraries": _library_versions(),
        "model_sha256": hashlib.sha256(model_bytes).hexdigest(),
        "feature_names": _booster_feature_names(model_bytes),
        "params": fit,
        "calibration": {k: v for k, v in calibrator.items() if k not in ("thresholds", "values")},
        "metrics": {k: v for k, v in metrics.items() if k != "curves"},
        "timings_s": _read(staging / "timings.json") if (staging / "timings.json").exists() else {},
    }


def register(warehouse: Path, staging: Path, root: Path | None = None) -> str:
    """Move a staged model that passed the gate into `<root>/<version>/`, write its metadata,
    model card and plots, and record it in `registry.models`. Returns the version id."""
    # deferred: matplotlib (models.card) is only needed when a model is registered, not loaded
    from models.card import write_card

    root = root or models_dir(warehouse)
    sample = _read(staging / "training_set.json")
    version = version_id(
        sample["as_of"],
        (staging / "model.txt").read_bytes(),
        (staging / "calibrator.json").read_bytes(),
    )
    target = root / version
    if target.exists():
        log.info("model %s is already registered (same trees and calibrator)", version)
        shutil.rmtree(staging, ignore_errors=True)
        release(staging)
        _record(warehouse, _read(target / "metadata.json"), target)
        return version
    created_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    metadata = build_metadata(staging, version, created_at)
    (staging / "metadata.json").write_text(
        json.dumps(metadata, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    metrics_full = _read(staging / "metrics.json")
    write_card(staging, metadata, metrics_full)
    staging.rename(target)
    release(staging)
    _record(warehouse, metadata, target)
    log.info("registered model %s", version)
    return version


def _record(warehouse: Path, metadata: dict[str, Any], path: Path) -> None:
    con = connect(warehouse)
    try:
        apply_ddl(con, ["models"])
        con.execute(
            "insert or replace into registry.models values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                metadata["version"],
                datetime.fromisoformat(metadata["created_at"]).replace(tzinfo=None),
                metadata.get("status", STATUS_REGISTERED),
                metadata["as_of"],
                metadata["horizon_days"],
                str(path),
                json.dumps(metadata.get("metrics", {}).get("cohorts", {}), default=str),
                metadata["code_version"],
                json.dumps(metadata.get("snapshot_ids", [])),
                json.dumps(metadata.get("feature_names", [])),
            ],
        )
    finally:
        con.close()


def _booster_feature_names(model_bytes: bytes) -> list[str]:
    return list(lgb.Booster(model_str=model_bytes.decode("utf-8")).feature_name())


def _registered(root: Path) -> list[dict[str, Any]]:
    out = []
    if not root.is_dir():
        return out
    for meta_path in root.glob("*/metadata.json"):
        if meta_path.parent.name.startswith("."):
            continue
        try:
            meta = _read(meta_path)
        except (OSError, json.JSONDecodeError):
            log.warning("unreadable model metadata in %s", meta_path.parent.name)
            continue
        if meta.get("status") == STATUS_REGISTERED and (meta_path.parent / "model.txt").exists():
            meta["path"] = str(meta_path.parent)
            out.append(meta)
    out.sort(key=lambda m: (m.get("created_at", ""), m.get("version", "")))
    return out


def list_versions(warehouse: Path) -> list[dict[str, Any]]:
    """Registered versions, oldest first: version, created_at, as_of, status, path, headline
    metrics and code version (read from the registry folder; no warehouse lock needed)."""
    rows = []
    for meta in _registered(models_dir(warehouse)):
        cohorts = meta.get("metrics", {}).get("cohorts", {})
        hb = cohorts.get("housebound", {})
        rows.append(
            {
                "version": meta["version"],
                "created_at": meta.get("created_at"),
                "as_of": meta.get("as_of"),
                "status": meta.get("status"),
                "path": meta["path"],
                "code_version": meta.get("code_version"),
                "n_features": len(meta.get("feature_names", [])),
                "auroc_overall": cohorts.get("overall", {}).get("model", {}).get("auroc"),
                "auroc_housebound": hb.get("model", {}).get("auroc"),
                "auroc_housebound_efi": hb.get("efi", {}).get("auroc"),
                "calibration_slope_housebound": hb.get("model", {}).get("calibration_slope"),
            }
        )
    return rows


def latest_version(warehouse: Path) -> str | None:
    """The newest registered version, or None when nothing is registered."""
    registered = _registered(models_dir(warehouse))
    return registered[-1]["version"] if registered else None


def load(warehouse: Path, version: str | None = None) -> RiskModel:
    """The registered model `version` (the latest when None), ready to score."""
    if version is None:
        version = latest_version(warehouse)
        if version is None:
            raise CasefinderError(
                f"no registered model beside {Path(warehouse).name}: run `casefinder train` first"
            )
    path = models_dir(warehouse) / version
    if (
        not version
        or "/" in version
        or version.startswith(".")
        or not (path / "metadata.json").exists()
    ):
        raise CasefinderError(f"model version {version!r} is not registered")
    return RiskModel.load(path)


def show(warehouse: Path, version: str) -> dict[str, Any]:
    """The metadata of one registered version (for `casefinder models show`)."""
    model = load(warehouse, version)
    meta = dict(model.metadata)
    meta["path"] = str(models_dir(warehouse) / model.version)
    return meta
