"""Unit: the weekly capacity file, and its one-line errors naming file, row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.errors import one_line_error

from pipelines.ingest.capacity import (
    capacity_by_neighbourhood,
    check_neighbourhoods,
    read_capacity,
)


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "capacity.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    return one_line_error(read_capacity, path)


def test_a_good_file_gives_each_neighbourhood_its_capacity(tmp_path):
    path = _file(
        tmp_path, "\ufeffNeighbourhood_Code, weekly_reviews\r\nN1,10\r\nN2, 0\r\n\r\nN3,25\r\n"
    )
    rows = read_capacity(path)
    assert rows == [(2, "N1", 10), (3, "N2", 0), (5, "N3", 25)]
    assert capacity_by_neighbourhood(rows) == {"N1": 10, "N2": 0, "N3": 25}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("neighbourhood_code,weekly_reviews\nN1,10\nN2,-3\n", "row 3, column weekly_reviews: '-3'"),
        ("neighbourhood_code,weekly_reviews\nN1,2.5\n", "row 2, column weekly_reviews: '2.5'"),
        ("neighbourhood_code,weekly_reviews\nN1,ten\n", "row 2, column weekly_reviews: 'ten'"),
        ("neighbourhood_code,weekly_reviews\nN1,\n", "row 2, column weekly_reviews: empty"),
        ("neighbourhood_code,weekly_reviews\n,4\n", "row 2, column neighbourhood_code: empty"),
    ],
)
def test_a_capacity_that_is_not_a_whole_number_of_0_or_more_is_refused(tmp_path, text, expected):
    path = _file(tmp_path, text)
    assert _error(path).startswith(f"capacity file {path}, {expected}")


def test_a_neighbourhood_given_twice_names_both_rows(tmp_path):
    path = _file(tmp_path, "neighbourhood_code,weekly_reviews\nN1,10\nN2,3\nN1,12\n")
    assert _error(path) == (
        f"capacity file {path}, row 4, column neighbourhood_code: 'N1' is already given in row 2"
    )


def test_a_missing_column_is_named(tmp_path):
    path = _file(tmp_path, "neighbourhood,weekly_reviews\nN1,10\n")
    assert _error(path) == f"capacity file {path}, row 1: column neighbourhood_code is missing"


def test_a_missing_file_is_one_line(tmp_path):
    assert _error(tmp_path / "nope.csv") == f"capacity file {tmp_path / 'nope.csv'} does not exist"


def test_an_nhs_number_in_the_file_is_never_quoted_back(tmp_path):
    path = _file(tmp_path, "neighbourhood_code,weekly_reviews\nN1,-9434765919\n")
    message = _error(path)
    assert "9434765919" not in message
    assert "row 2, column weekly_reviews: the value is not a whole number" in message


def test_an_unknown_neighbourhood_is_refused_with_its_row(tmp_path):
    path = _file(tmp_path, "neighbourhood_code,weekly_reviews\nN1,10\nNX,3\n")
    rows = read_capacity(path)
    check_neighbourhoods(path, rows[:1], {"N1", "N2"})
    assert one_line_error(check_neighbourhoods, path, rows, {"N1", "N2"}) == (
        f"capacity file {path}, row 3, column neighbourhood_code: 'NX' is not a neighbourhood "
        "in the warehouse"
    )
