"""The feature dictionary: declared once, complete, consistent with SQL, code lists and docs."""

from __future__ import annotations

import csv
import re
import string
from pathlib import Path

import pytest

from features import dictionary, docs
from features.build import SELECT_LISTS
from features.codelists import CODELIST_DIR
from foundation.warehouse import fill_select_lists, read_sql

ROOT = Path(__file__).resolve().parents[2]


def test_names_are_unique_snake_case_and_families_known() -> None:
    names = dictionary.feature_names()
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)
    assert {f.family for f in dictionary.FEATURES} == set(dictionary.FAMILIES)


def test_every_feature_points_at_real_sql_code_lists_and_tests() -> None:
    for f in dictionary.FEATURES:
        assert (ROOT / f.sql_file).is_file(), f.name
        lists = SELECT_LISTS[f.sql]() if f.sql in SELECT_LISTS else None
        assert f.name in fill_select_lists(read_sql(f.sql), lists), f.name
        for stem in f.codelists:
            assert (CODELIST_DIR / f"{stem}.csv").is_file(), (f.name, stem)
        assert (ROOT / f.test.split("::")[0]).is_file(), f.name
        if f.evidence:
            assert (ROOT / "sql" / "features" / f"{f.evidence}.sql").is_file(), f.name
        assert f.dtype in {"bool", "int", "float", "category"}
        assert f.risk_raising_when in {"present", "any"}


def test_int_efi_writes_each_deficit_of_the_code_list_under_its_column() -> None:
    with (CODELIST_DIR / "efi_deficits.csv").open(encoding="utf-8") as fh:
        slugs = [row["slug"] for row in csv.DictReader(fh)]
    lists = dictionary.efi_select_lists()
    assert [d["slug"] for d in lists["efi_deficits"]] == slugs
    assert [d["slug"] for d in lists["efi_coded_deficits"]] == [
        s for s in slugs if s != "polypharmacy"
    ]
    sql = fill_select_lists(read_sql("int_efi"), lists)
    first = "min(first_recorded_date) filter (where deficit_slug = 'stroke-tia') as efi_stroke_tia"
    assert first in sql
    assert "{" not in re.sub(r"--[^\n]*", "", sql)


def test_templates_use_only_value_and_plural() -> None:
    for f in dictionary.FEATURES:
        fields = {name for _, name, _, _ in string.Formatter().parse(f.template) if name}
        assert fields <= {"value", "s"}, f.name


def test_efi_has_one_column_per_deficit_of_the_code_list() -> None:
    deficit_columns = [f.name for f in dictionary.FEATURES if f.family == "efi" and f.unit == "0/1"]
    assert len(deficit_columns) == 36
    assert "efi_polypharmacy" in deficit_columns


def test_model_features_exclude_cohort_and_fairness_columns() -> None:
    model = dictionary.model_feature_names()
    for name in ("housebound", "sex", "ethnic_group", "efi_category", "hfrs_band"):
        assert name not in model
    for name in ("efi", "hfrs", "age", "n_emergency_admissions_365d"):
        assert name in model


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        ("n_emergency_admissions_365d", 3.0, "3 emergency admissions in the last 12 months"),
        ("n_emergency_admissions_365d", 1, "1 emergency admission in the last 12 months"),
        ("lives_alone", True, "Lives alone"),
        ("lives_alone", False, None),
        ("efi", 0.25, "Electronic Frailty Index 0.25"),
        ("hfrs", 11.5, "Hospital Frailty Risk Score 11.5"),
        ("cfs_latest", None, None),
        ("efi_heart_failure", 1, "Frailty deficit: heart failure"),
    ],
)
def test_sentences(name: str, value: object, sentence: str | None) -> None:
    assert dictionary.sentence(name, value) == sentence


def test_unknown_feature_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        dictionary.get("no_such_feature")


def test_docs_features_md_is_generated_from_the_dictionary() -> None:
    on_disk = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    assert on_disk == docs.markdown(), "regenerate: python -m features.docs > docs/features.md"
    for name in dictionary.feature_names():
        assert f"`{name}`" in on_disk
