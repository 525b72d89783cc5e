"""Every list and analyst column declared once (reports/columns.py), and the SQL filled from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.published import CONTRACT_1_1, CONTRACT_1_2

from features import dictionary
from foundation.errors import CasefinderError
from foundation.settings import load_settings
from foundation.warehouse import fill_select_lists, read_sql
from reports import columns
from reports.pseudonymised import COLUMN_NOTES as ANALYST_NOTES
from reports.pseudonymised import PSEUDONYMISED_COLUMNS

ROOT = Path(__file__).resolve().parents[2]


def _final_select(sql: str) -> list[str]:
    """The column names of a model's last `select ... from final`."""
    body = sql.rsplit("\nselect\n", 1)[1].split("\nfrom final", 1)[0]
    return [c.strip().rstrip(",") for c in body.splitlines() if c.strip()]


# --- the renderer ---------------------------------------------------------------------------


def test_a_placeholder_becomes_its_list_at_its_indent_with_trailing_commas() -> None:
    sql = "select\n    a,\n    {{ more }}\nfrom final\n"
    assert fill_select_lists(sql, {"more": ["b", "c as d"]}) == (
        "select\n    a,\n    b,\n    c as d,\nfrom final\n"
    )


def test_a_template_placeholder_writes_its_template_once_per_item() -> None:
    sql = "select\n        {{ deficits: bool_or(slug = '{slug}') as {column} }}\nfrom t\n"
    items = [{"slug": "a-b", "column": "efi_a_b"}, {"slug": "c", "column": "efi_c"}]
    assert fill_select_lists(sql, {"deficits": items}).splitlines()[1:3] == [
        "        bool_or(slug = 'a-b') as efi_a_b,",
        "        bool_or(slug = 'c') as efi_c,",
    ]


def test_a_placeholder_without_its_list_is_refused() -> None:
    with pytest.raises(ValueError, match="more"):
        fill_select_lists("select\n    {{ more }}\nfrom final\n", {})


def test_a_list_without_its_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match="other"):
        fill_select_lists("select\n    {{ more }}\nfrom final\n", {"more": ["a"], "other": ["b"]})


def test_a_placeholder_named_in_a_comment_is_left_alone() -> None:
    sql = "-- `{{ more }}` is filled at build time\nselect\n    {{ more }}\nfrom final\n"
    filled = fill_select_lists(sql, {"more": ["a"]})
    assert filled.splitlines()[0] == "-- `{{ more }}` is filled at build time"
    assert "{{" not in filled.split("\n", 1)[1]


# --- the list's declaration -----------------------------------------------------------------


def test_columns_follow_the_contract_order_then_the_additions_then_ours() -> None:
    names = columns.LIST_COLUMNS
    assert len(names) == len(set(names))
    contract = (*CONTRACT_1_1, *CONTRACT_1_2)
    assert names[: len(contract)] == contract
    assert names[len(contract) :] == ("care_home_resident",)


def test_every_column_has_a_note_a_known_kind_and_numbers_their_digits() -> None:
    for col in (*columns.LIST, *columns.ANALYSTS):
        assert col.note.strip(), col.name
        assert col.kind in columns.KINDS, col.name
        assert (col.digits is not None) == (col.kind == "number"), col.name
    assert {c.name for c in columns.LIST if c.kind != "number"} == columns.TEXT_COLUMNS


def test_list_week_selects_every_declared_column_under_its_field_name() -> None:
    filled = fill_select_lists(read_sql("list_week"), columns.week_select_lists())
    selected = _final_select(filled)
    computed = [c.field for c in columns.LIST if c.sql is not None and not c.publication]
    assert [s for s in selected if s in computed] == computed
    # joined at publication, never in the lists layer: identity and the reasons' sentences
    for name in ("nhs_number", "given_name", "family_name", "date_of_birth", "reasons"):
        assert name not in selected
        assert columns.BY_NAME[name].sql is None or columns.BY_NAME[name].publication
    assert "i.nhs_number" in columns.publication_select_list()


def test_cells_are_written_by_kind() -> None:
    by = columns.BY_NAME
    assert by["risk_score"].cell(0.123456) == 0.1235
    assert by["rank"].cell(3.0) == 3 and isinstance(by["rank"].cell(3.0), int)
    assert by["in_hospital"].cell(True) == "true"
    assert by["in_hospital"].cell(None) == "false"
    assert by["hfrs"].cell(None) is None


# --- the analysts' file shares the list's declarations ----------------------------------------


def test_the_analysts_notes_agree_with_the_lists_on_every_shared_column() -> None:
    # risk_score's note is said for each publication's model horizon or fallback score
    # (NeighbourhoodList.column_notes; pseudonymised.build_summary), tested with the horizon.
    shared = set(PSEUDONYMISED_COLUMNS) & set(columns.LIST_COLUMNS) - {"rank", "risk_score"}
    assert {"in_hospital", "on_caseload", "efi", "hfrs", "care_home_resident"} <= shared
    for name in shared:
        assert ANALYST_NOTES[name] == columns.COLUMN_NOTES[name], name


def test_the_analysts_model_selects_every_declared_field() -> None:
    selected = _final_select(read_sql("list_pseudonymised"))
    assert {c.field for c in columns.ANALYSTS} <= set(selected)


# --- feat_patients is filled from the feature dictionary ----------------------------------------


def test_feat_patients_selects_every_feature_from_its_models_cte() -> None:
    sql = read_sql("feat_patients")
    filled = fill_select_lists(sql, dictionary.select_lists())
    assert _final_select(filled) == [*dictionary.KEY_COLUMNS, *dictionary.feature_names()]
    ctes = set(re.findall(r"^([a-z_]+) as \($", sql, re.MULTILINE))
    for source in dictionary.select_lists()["feature_sources"]:
        assert source.split(".")[0] in ctes, source


# --- the docs' table of columns ---------------------------------------------------------------


def test_the_neighbourhood_leads_guide_lists_the_declared_columns() -> None:
    text = (ROOT / "docs" / "neighbourhood-lead.md").read_text(encoding="utf-8")
    assert columns.with_table(text) == text, (
        "out of date: python -m reports.columns docs/neighbourhood-lead.md"
    )
    assert "| `in_hospital` | true / false |" in text


# --- the change threshold is a setting ----------------------------------------------------------


def test_the_change_threshold_defaults_to_the_contracts_and_can_be_set() -> None:
    assert load_settings(env={}).change_threshold == 0.05
    assert load_settings(env={"CASEFINDER_CHANGE_THRESHOLD": "0.1"}).change_threshold == 0.1
    with pytest.raises(CasefinderError, match="CASEFINDER_CHANGE_THRESHOLD"):
        load_settings(env={"CASEFINDER_CHANGE_THRESHOLD": "a lot"})
