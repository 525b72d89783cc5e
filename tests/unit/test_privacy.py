"""Redaction keeps NHS-number-shaped text out of messages and logs."""

from __future__ import annotations

import logging

import pytest

from foundation.privacy import RedactingFilter, redact


@pytest.mark.parametrize("text", ["943 476 5919", "9434765919", "943-476-5919"])
def test_redact_removes_nhs_number_shapes(text: str) -> None:
    assert "5919" not in redact(f"patient {text} failed")


def test_redact_keeps_other_numbers() -> None:
    assert redact("row 12345 of 2026-11-22") == "row 12345 of 2026-11-22"


def test_logging_filter_redacts_arguments() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "bad value %s", ("9434765919",), None
    )
    RedactingFilter().filter(record)
    assert "9434765919" not in record.getMessage()
