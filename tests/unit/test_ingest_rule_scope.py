"""Which contract rules reject a whole row, and which quarantine one value (contract 1.1)."""

from __future__ import annotations

from datetime import date

from foundation.contract import ADMISSION_METHODS, FILES
from pipelines.ingest.rules import rules_for

AS_OF = date(2026, 11, 16)


def test_only_secondary_diagnosis_formats_keep_their_spell() -> None:
    rules = rules_for(FILES["acute_spells"], AS_OF, {})
    value_rules = {r.name for r in rules if not r.rejects_row}
    assert value_rules == {f"diag_{i:02d}_format" for i in range(2, 21)}
    by_name = {r.name: r for r in rules}
    assert by_name["diag_01_format"].rejects_row
    assert by_name["diag_01_required"].rejects_row


def test_every_rule_of_the_other_files_rejects_the_row() -> None:
    for name, spec in FILES.items():
        if name != "acute_spells":
            assert all(r.rejects_row for r in rules_for(spec, AS_OF, {})), name


def test_admission_methods_98_and_99_are_in_the_vocabulary() -> None:
    assert {"98", "99"} <= set(ADMISSION_METHODS)
    assert "97" not in ADMISSION_METHODS
