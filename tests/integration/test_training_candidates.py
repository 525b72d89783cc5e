"""Training features built for the training candidates only give the same training sample.

The training set builds its 12 dates of features for people aged 65+ or with any housebound or
care home record (`int_cohort`'s `training_candidates_only`), not for everyone registered;
`feat_training_sample` must come out identical, row for row and value for value.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import Path

import duckdb
import pytest

from features.build import TRAINING_FEATURES, build_features
from models.training_set import build_training_candidate_features, build_training_set

pytestmark = pytest.mark.slow

EXTRACT_DATE = date(2026, 10, 1)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from foundation.warehouse import connect
    from pipelines.ingest import extracts as extracts_mod
    from pipelines.ingest import load as load_mod
    from synthetic import generate

    root = tmp_path_factory.mktemp("candidates")
    generate(root / "extracts", patients=4000, seed=5, extract_date=EXTRACT_DATE, fmt="csv")
    path = root / "warehouse.duckdb"
    with connect(path) as con:
        load_mod.load_extract_set(con, extracts_mod.discover(root / "extracts"), b"k" * 32)
    return path


def _sample(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.execute(
        "select * from features.feat_training_sample order by patient_id, index_date"
    ).fetchall()


def test_candidates_only_gives_the_same_training_sample(warehouse: Path, tmp_path: Path) -> None:
    from foundation.warehouse import connect

    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    samples, feature_rows = [], []
    everyone_builder = partial(build_features, into=TRAINING_FEATURES)
    for path, builder in ((warehouse, everyone_builder), (copy, build_training_candidate_features)):
        with connect(path) as con:
            counts = build_training_set(
                con, EXTRACT_DATE, 365, ("type1", "ndoo"), feature_builder=builder
            )
            samples.append(_sample(con))
            feature_rows.append(counts["feature_rows"])
    everyone, candidates = samples
    assert len(everyone) > 1000
    assert candidates == everyone
    # ...and the candidates' features are far fewer rows than everyone's.
    assert feature_rows[1] < 0.6 * feature_rows[0]
