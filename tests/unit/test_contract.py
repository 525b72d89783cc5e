"""The contract module: NHS number validation and the file/column catalogue."""

from __future__ import annotations

import pytest

from foundation import contract


@pytest.mark.parametrize(
    "value",
    ["9434765919", "943 476 5919", "943-476-5919", "4010232137"],
)
def test_valid_nhs_numbers_pass_modulus_11(value: str) -> None:
    assert contract.nhs_number_is_valid(value)


@pytest.mark.parametrize(
    "value",
    [
        "9434765918",  # wrong check digit
        "1111111111",  # ten identical digits (passes mod 11 otherwise)
        "943476591",  # nine digits
        "94347659190",  # eleven digits
        "94347659l9",  # a letter
        "",
        "１２３４５６７８９０",  # full-width digits are not ASCII
    ],
)
def test_invalid_nhs_numbers_fail(value: str) -> None:
    assert not contract.nhs_number_is_valid(value)


def test_check_digit_of_ten_means_no_valid_number() -> None:
    # 000000010: sum = 1*2 = 2 -> 11 - 2 = 9; find a prefix whose check is 10 by search.
    prefixes = [f"{i:09d}" for i in range(1, 200)]
    tens = [p for p in prefixes if contract.nhs_check_digit(p) is None]
    assert tens, "expected some prefixes with check digit 10"
    for p in tens:
        assert not any(contract.nhs_number_is_valid(p + str(d)) for d in range(10))


def test_every_required_file_has_required_columns() -> None:
    for name in contract.REQUIRED_FILES:
        assert contract.FILES[name].required_columns, name


def test_acute_spells_requires_only_the_first_diagnosis_column() -> None:
    spells = contract.FILES["acute_spells"]
    assert "diag_01" in spells.required_columns
    assert "diag_02" not in spells.required_columns
    assert spells.column("diag_20").type is contract.ColumnType.ICD10
