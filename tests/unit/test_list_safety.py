"""Unit: formula-injection escaping and safe neighbourhood folder names."""

from __future__ import annotations

import pytest

from reports.safety import escape_formula, folder_name, is_safe_component


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "=1"],
)
def test_values_that_start_a_formula_are_quoted(value):
    assert escape_formula(value) == "'" + value


@pytest.mark.parametrize("value", ["Smith", "O'Neil", "9434765919", "a=b", "", "Ann-Marie"])
def test_ordinary_values_are_unchanged(value):
    assert escape_formula(value) == value


def test_none_becomes_empty_text():
    assert escape_formula(None) == ""


@pytest.mark.parametrize("code", ["N1", "E38000001", "north_east-1", "a.b"])
def test_safe_codes_are_their_own_folder(code):
    assert folder_name(code) == code


@pytest.mark.parametrize("code", ["..", ".", "../x", "a/b", "North East", "", "a\\b", "x" * 200])
def test_unsafe_codes_become_one_safe_component(code):
    name = folder_name(code)
    assert is_safe_component(name)
    assert "/" not in name and name not in (".", "..")


def test_distinct_unsafe_codes_stay_distinct():
    assert folder_name("a/b") != folder_name("a b")
