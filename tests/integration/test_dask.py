"""Scale-out on a 2-worker Dask LocalCluster equals one process: per-neighbourhood scoring
(same scores, ranks, reasons and evidence) and list staging (byte-identical files); training
with lightgbm.dask within the stated tolerance (hold-out AUROC within 0.02)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from foundation.errors import CasefinderError
from foundation.warehouse import build_model, connect
from models.dask_train import AUROC_TOLERANCE

pytestmark = pytest.mark.slow

lists_case = pytest.importorskip("test_lists_publish", reason="list fixtures not available")

SCORE_TABLES = ("scores", "contributions", "base_values", "reasons", "evidence")


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    """One LocalCluster (2 worker processes, 1 thread each) for the module's tests: its
    scheduler address is what a real cluster's would be (`tcp://...`)."""
    from distributed import LocalCluster

    from pipelines.flows.scaleout import LOCAL_CLUSTER_KWARGS

    with LocalCluster(**LOCAL_CLUSTER_KWARGS) as cluster:
        yield cluster.scheduler_address


def _score_tables(warehouse: Path) -> dict[str, list[tuple]]:
    with connect(warehouse, read_only=True) as con:
        return {
            t: con.execute(f"select * from scores.{t} order by all").fetchall()
            for t in SCORE_TABLES
        }


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def scored_warehouse(tmp_path: Path) -> Path:
    from models.scoring import score_cohort
    from reports.publish import build_list_models

    warehouse = tmp_path / "wh.duckdb"
    con = connect(warehouse)
    lists_case._create(con, {lists_case.AS_OF: lists_case.PATIENTS})
    build_model(con, "score_cohort", {"as_of": lists_case.AS_OF, "opt_out_types": ["type1"]})
    score_cohort(
        con,
        lists_case.FakeModel(),
        lists_case.AS_OF,
        lists_case.TIERS,
        dictionary=lists_case.FAKE_DICTIONARY,
    )
    build_list_models(con, lists_case.AS_OF)
    con.close()
    return warehouse


def test_lists_staged_on_dask_are_byte_identical_to_one_process(
    prefect_harness: None, dask_cluster: str, scored_warehouse: Path, tmp_path: Path
) -> None:
    from pipelines.flows.scaleout import dask_task_runner, stage_lists_distributed
    from reports.publish import stage_lists

    as_of = lists_case.AS_OF
    with connect(scored_warehouse, read_only=True) as con:
        single_dir, single_manifest = stage_lists(con, as_of, tmp_path / "single")

    distributed = stage_lists_distributed.with_options(task_runner=dask_task_runner(dask_cluster))
    dask_dir, dask_manifest = distributed(scored_warehouse, as_of, tmp_path / "dask")

    assert dask_manifest == single_manifest
    assert sorted(dask_manifest) == ["N1", "N2"]
    single, spread = _tree(single_dir), _tree(dask_dir)
    assert sorted(spread) == sorted(single)
    assert len(spread) == 6  # 2 neighbourhoods x CSV, XLSX, HTML
    assert spread == single


def test_bad_dask_address_is_one_clear_error() -> None:
    from pipelines.flows.scaleout import dask_task_runner

    with pytest.raises(CasefinderError, match="not a scheduler address"):
        dask_task_runner("my-cluster:8786")


def test_runner_for_a_real_scheduler_address_connects_there() -> None:
    from pipelines.flows.scaleout import dask_task_runner

    runner = dask_task_runner("tcp://10.0.0.5:8786")
    assert runner.address == "tcp://10.0.0.5:8786"
    local = dask_task_runner("local")
    assert local.address is None
    assert local.cluster_kwargs["n_workers"] == 2


def test_lightgbm_dask_training_matches_single_process_within_tolerance(dask_cluster: str) -> None:
    # Stated tolerance: data-parallel LightGBM grows slightly different trees; the held-out
    # AUROC of the Dask-trained model is within 0.02 of the single-process one (measured:
    # 0.0007 or 0.0032, depending on which worker LightGBM ranks first).
    import numpy as np
    from distributed import Client
    from sklearn.metrics import roc_auc_score

    from models.dask_train import DaskRiskClassifier
    from models.train import RiskClassifier

    rng = np.random.default_rng(0)
    n = 4000
    X = rng.normal(size=(n, 6))
    logit = 1.2 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] * X[:, 3] - 1
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    fit, valid, test = slice(0, 2000), slice(2000, 3000), slice(3000, n)
    settings = {"n_estimators": 120, "min_child_samples": 20, "random_state": 7}

    single = RiskClassifier(**settings).fit(X[fit], y[fit], eval_X=X[valid], eval_y=y[valid])
    with Client(dask_cluster) as client:
        spread = DaskRiskClassifier(client=client, **settings).fit(
            X[fit], y[fit], eval_X=X[valid], eval_y=y[valid]
        )
        provenance = spread.provenance()
    auc_single = roc_auc_score(y[test], single.raw_score(X[test]))
    auc_dask = roc_auc_score(y[test], spread.raw_score(X[test]))
    assert auc_single > 0.75
    assert abs(auc_dask - auc_single) < AUROC_TOLERANCE
    assert 1 <= spread.best_iteration_ <= 120
    assert spread.booster_.num_trees() == spread.best_iteration_
    assert spread.get_params()["n_estimators"] == 120
    assert provenance["trainer"] == "lightgbm.dask"
    assert provenance["dask_workers"] == 2
    # The model file names no worker port, so its registered version depends on the trees only.
    assert "[machines:" not in spread.booster_.model_to_string()


def test_publish_flow_with_a_dask_address_publishes_identical_lists(
    prefect_harness: None, scored_warehouse: Path, tmp_path: Path
) -> None:
    import shutil

    from pipelines.flows.publish import publish

    as_of = lists_case.AS_OF
    other = tmp_path / "copy" / "wh.duckdb"
    other.parent.mkdir()
    shutil.copy(scored_warehouse, other)
    single = publish(scored_warehouse, tmp_path / "out-single", as_of)
    spread = publish(other, tmp_path / "out-dask", as_of, dask_address="local")
    assert spread["lists"] == single["lists"]
    folder = f"lists/{as_of.isoformat()}"
    assert _tree(tmp_path / "out-dask" / folder) == _tree(tmp_path / "out-single" / folder)
    assert len(_tree(tmp_path / "out-dask" / folder)) == 6


def _cohort_warehouse(tmp_path: Path) -> Path:
    warehouse = tmp_path / "parts.duckdb"
    with connect(warehouse) as con:
        lists_case._create(con, {lists_case.AS_OF: lists_case.PATIENTS})
        build_model(con, "score_cohort", {"as_of": lists_case.AS_OF, "opt_out_types": ["type1"]})
    return warehouse


def test_scoring_neighbourhood_by_neighbourhood_equals_scoring_in_one_go(tmp_path: Path) -> None:
    """The plain functions under the Dask tasks: parts handed over as Parquet, gathered and
    written in one transaction, give the very rows of one `score_cohort` call."""
    from models.scoring import (
        listed_neighbourhoods,
        score_cohort,
        score_neighbourhoods,
        write_scored_parts,
    )

    as_of, model = lists_case.AS_OF, lists_case.FakeModel()
    kwargs = {"dictionary": lists_case.FAKE_DICTIONARY}
    one_go, in_parts = _cohort_warehouse(tmp_path / "a"), _cohort_warehouse(tmp_path / "b")
    with connect(one_go) as con:
        assert score_cohort(con, model, as_of, lists_case.TIERS, **kwargs) == 4
    with connect(in_parts) as con:
        codes = listed_neighbourhoods(con, as_of)
        assert codes == ["N1", "N2"]
        paths = [tmp_path / f"{code}.parquet" for code in codes]
        assert [
            score_neighbourhoods(con, model, as_of, [code], path)
            for code, path in zip(codes, paths, strict=True)
        ] == [2, 2]
        with pytest.raises(RuntimeError, match="scored 2 patients in 1 parts, but 4 are listed"):
            write_scored_parts(con, model, as_of, paths[:1], lists_case.TIERS, **kwargs)
        assert write_scored_parts(con, model, as_of, paths, lists_case.TIERS, **kwargs) == 4
    assert _score_tables(in_parts) == _score_tables(one_go)


# The synthetic ICS for the flow tests: small enough for CI, with a model trained in one
# process (the quality gate opened, as in tests/e2e/test_weekly_run.py: the gate is not what
# is tested here) and the features at the as-of date built.
N_PATIENTS = 3000
SEED = 5
AS_OF = date(2026, 11, 16)
OPEN_GATE = {"min_auroc_gain": -1.0, "slope_range": (0.0, 10.0)}


@pytest.fixture(scope="module")
def synthetic_ics(
    tmp_path_factory: pytest.TempPathFactory, prefect_harness: None
) -> dict[str, Any]:
    synthetic = pytest.importorskip("synthetic")
    from features.build import build_features
    from foundation.warehouse import load_or_create_key
    from pipelines.flows.train import train
    from pipelines.ingest import extracts as extracts_mod
    from pipelines.ingest import load as load_mod

    root = tmp_path_factory.mktemp("dask-ics")
    extracts = root / "extracts" / "ics"
    synthetic.generate(extracts, patients=N_PATIENTS, seed=SEED, extract_date=AS_OF, fmt="csv")
    warehouse = root / "wh" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    key = load_or_create_key(warehouse.parent / "casefinder.key")
    with connect(warehouse) as con:
        load_mod.load_extract_set(con, extracts_mod.discover(extracts, AS_OF), key)
    trained = train(warehouse, seed=42, n_jobs=1, **OPEN_GATE)
    with connect(warehouse) as con:
        build_features(con, [AS_OF])
    return {"root": root, "warehouse": warehouse, "trained": trained}


def _copy(synthetic_ics: dict[str, Any], to: Path) -> Path:
    """A copy of the warehouse folder (warehouse, key, model registry)."""
    shutil.copytree(synthetic_ics["warehouse"].parent, to)
    return to / synthetic_ics["warehouse"].name


def test_scoring_and_publishing_on_dask_equal_one_process(
    prefect_harness: None, dask_cluster: str, synthetic_ics: dict[str, Any], tmp_path: Path
) -> None:
    from pipelines.flows.publish import publish
    from pipelines.flows.score import score

    single_wh = _copy(synthetic_ics, tmp_path / "single")
    dask_wh = _copy(synthetic_ics, tmp_path / "dask")
    single = score(single_wh, AS_OF)
    spread = score(dask_wh, AS_OF, dask_address=dask_cluster)
    assert spread == single
    assert single["scored"] > 20

    # Same risk scores, tiers, contributions, reasons and evidence, to the last bit.
    tables = _score_tables(single_wh)
    assert _score_tables(dask_wh) == tables
    assert len(tables["reasons"]) > single["scored"] and tables["evidence"]
    assert not list(dask_wh.parent.glob(".score-handover-*"))  # handed over, then removed

    one = publish(single_wh, tmp_path / "out-single", AS_OF)
    both = publish(dask_wh, tmp_path / "out-dask", AS_OF, dask_address=dask_cluster)
    assert both["lists"] == one["lists"] and len(one["lists"]) >= 2
    with connect(single_wh, read_only=True) as a, connect(dask_wh, read_only=True) as b:
        ranks = "select * from lists.list_entries order by all"
        assert b.execute(ranks).fetchall() == a.execute(ranks).fetchall()
    folder = f"lists/{AS_OF.isoformat()}"
    single_files = _tree(tmp_path / "out-single" / folder)
    assert _tree(tmp_path / "out-dask" / folder) == single_files
    assert len(single_files) == 3 * len(one["lists"])


def test_training_on_dask_is_recorded_and_within_the_stated_tolerance(
    prefect_harness: None,
    dask_cluster: str,
    synthetic_ics: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from models import registry
    from pipelines.commands import models as models_command
    from pipelines.flows.train import train

    single_wh = synthetic_ics["warehouse"]
    single = registry.show(single_wh, synthetic_ics["trained"]["version"])
    dask_wh = _copy(synthetic_ics, tmp_path / "dask")
    result = train(dask_wh, seed=42, n_jobs=1, dask_address=dask_cluster, **OPEN_GATE)
    assert result["fit"]["trainer"] == "lightgbm.dask"
    spread = registry.show(dask_wh, result["version"])
    assert single["params"]["trainer"] == "lightgbm"
    assert spread["params"]["trainer"] == "lightgbm.dask"
    assert spread["params"]["dask_workers"] == 2
    assert spread["params"]["settings"] == single["params"]["settings"]
    capsys.readouterr()
    models_command.run(
        SimpleNamespace(
            models_command="show", version=result["version"], warehouse=dask_wh, json=False
        )
    )
    assert "trainer: lightgbm.dask (2 Dask workers)" in capsys.readouterr().out
    # The stated tolerance is on the temporal hold-out AUROC. At this size the housebound
    # hold-out has ~100 rows, too few to compare two models on, so the overall one is used.
    auroc = {
        name: meta["metrics"]["cohorts"]["overall"]["model"]["auroc"]
        for name, meta in (("single", single), ("dask", spread))
    }
    assert auroc["single"] > 0.6
    assert abs(auroc["dask"] - auroc["single"]) < AUROC_TOLERANCE, auroc
