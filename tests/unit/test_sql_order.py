"""Unit: the build order of `sql/` comes from what each file reads, and layers read downwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.errors import CasefinderError
from foundation.warehouse import (
    build_order,
    layer_models,
    model_order,
    parse_sql_file,
    references,
    sql_files,
)

# The layer each folder of `sql/` may read besides itself (`ref`: code lists, loaded from CSV).
READS_BELOW = {
    "core": {"raw"},
    "features": {"core", "ref"},
    "scores": {"features"},
    "lists": {"scores"},
}


def _write(folder: Path, layer: str, name: str, text: str) -> None:
    (folder / layer).mkdir(parents=True, exist_ok=True)
    (folder / layer / f"{name}.sql").write_text(text, encoding="utf-8")


def _files(tmp_path: Path, models: dict[str, str]) -> dict:
    """A little `sql/` tree: `{"layer/name": sql}`; parsed as the warehouse parses `sql/`."""
    for key, text in models.items():
        layer, name = key.split("/")
        _write(tmp_path, layer, name, text)
    return {p.stem: parse_sql_file(p) for p in sorted(tmp_path.glob("*/*.sql"))}


def test_references_are_the_qualified_names_read_or_called_outside_comments() -> None:
    sql = """-- one row per thing; from core.not_read_in_a_comment
    with a as (select * from core.core_patients),
    b as (select raw.parse_date(x) as d from a left join features.feat_patients as f on true)
    select * from b join lists.list_entries using (patient_id)
    """
    assert references(sql) == {
        "core.core_patients",
        "raw.parse_date",
        "features.feat_patients",
        "lists.list_entries",
    }


def test_a_ddl_file_names_its_relation_and_a_model_is_named_by_its_folder(tmp_path) -> None:
    files = _files(
        tmp_path,
        {
            "audit/loads": "-- one row per load\ncreate table if not exists audit.loads (id int)",
            "macros/is_x": "-- macro: x\ncreate or replace macro raw.is_x(v) as v = 'x'",
            "core/core_things": "-- one row per thing\nselect * from audit.loads",
        },
    )
    assert (files["loads"].relation, files["loads"].is_ddl) == ("audit.loads", True)
    assert files["is_x"].relation == "raw.is_x"
    assert (files["core_things"].relation, files["core_things"].is_ddl) == (
        "core.core_things",
        False,
    )


def test_a_ddl_file_named_unlike_its_table_is_refused(tmp_path) -> None:
    _write(tmp_path, "audit", "audit_loads", "create table if not exists audit.loads (id int)")
    with pytest.raises(CasefinderError, match=r"creates audit\.loads"):
        parse_sql_file(tmp_path / "audit" / "audit_loads.sql")


def test_each_file_comes_after_what_it_reads_and_only_what_targets_need(tmp_path) -> None:
    files = _files(
        tmp_path,
        {
            "core/core_a": "select 1 as x",
            "features/int_b": "select * from core.core_a",
            "features/int_c": "select * from features.int_b join core.core_a using (x)",
            "features/feat_d": "select * from features.int_c join features.int_b using (x)",
            "features/feat_unused": "select * from core.core_a",
        },
    )
    assert build_order(["feat_d"], files=files) == ["core_a", "int_b", "int_c", "feat_d"]
    # Within one layer, the layer below is an input built by its own step.
    assert model_order(["feat_d"], "features", files) == ["int_b", "int_c", "feat_d"]
    assert layer_models("features", files) == ["feat_unused", "int_b", "int_c", "feat_d"]


def test_a_cycle_is_refused_naming_it(tmp_path) -> None:
    files = _files(
        tmp_path,
        {
            "features/int_a": "select * from features.int_b",
            "features/int_b": "select * from features.int_a",
        },
    )
    with pytest.raises(
        CasefinderError, match=r"cycle: (int_a -> int_b -> int_a|int_b -> int_a -> int_b)$"
    ):
        build_order(["int_a"], files=files)


def test_an_unknown_target_is_refused(tmp_path) -> None:
    files = _files(tmp_path, {"core/core_a": "select 1"})
    with pytest.raises(CasefinderError, match=r"no sql file core_b\.sql"):
        build_order(["core_b"], files=files)


def test_the_feature_build_makes_what_scores_read_after_its_inputs() -> None:
    from features.build import MODELS, SCORES_INPUTS

    files = sql_files()
    assert {"feat_patients", "feat_opt_outs"} <= set(SCORES_INPUTS)
    for i, name in enumerate(MODELS):
        for needed in files[name].reads:
            schema, table = needed.split(".")
            if schema == "features" and table in files and not files[table].is_ddl:
                assert table in MODELS[:i], f"{name} is built before {table}"


def test_every_sql_file_reads_its_own_layer_or_the_one_below_or_says_why() -> None:
    for name, file in sql_files().items():
        layer = file.path.parent.name
        if layer not in READS_BELOW:
            continue
        header = "\n".join(
            line for line in file.path.read_text().splitlines() if line.startswith("--")
        )
        for relation in sorted(file.reads):
            schema = relation.split(".")[0]
            if schema in {layer, *READS_BELOW[layer]}:
                continue
            assert "Layer exception" in header and relation in header, (
                f"{name} reads {relation}: a layer reads only the one below it, "
                "or its first comment says why not"
            )


def test_every_sql_file_opens_with_its_grain() -> None:
    for name, file in sql_files().items():
        first = file.path.read_text().splitlines()[0]
        expected = "-- macro: " if file.path.parent.name == "macros" else "-- one row per "
        assert first.startswith(expected), name
