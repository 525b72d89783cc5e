"""Which rules the staging scan evaluates as mask bits, and which once per distinct value."""

from __future__ import annotations

from datetime import date

import pytest

from foundation.contract import FILES
from pipelines.ingest.rules import (
    MASK_BITS,
    Rule,
    evaluated_in_scan,
    lookup_rules,
    rules_for,
    scan_masks,
)

AS_OF = date(2026, 11, 16)
LOADS = {"practices": 1, "gp_patients": 2}


@pytest.mark.parametrize("file", list(FILES))
def test_every_rule_is_evaluated_once_by_the_scan_or_by_a_lookup(file: str) -> None:
    spec = FILES[file]
    rules = rules_for(spec, AS_OF, LOADS)
    in_masks = [i for indexes in scan_masks(spec, rules).values() for i in indexes]
    looked_up = [i for indexes in lookup_rules(spec, rules).values() for i in indexes]
    assert sorted(in_masks + looked_up) == list(range(len(rules)))


def test_the_check_digit_and_references_are_looked_up_not_scanned() -> None:
    spec = FILES["gp_events"]
    rules = rules_for(spec, AS_OF, LOADS)
    looked_up = {rules[i].name for i in lookup_rules(spec, rules)["nhs_number"]}
    assert looked_up == {"nhs_number_format", "patient_exists"}
    patients = FILES["gp_patients"]
    assert "practice_exists" in {
        rules_for(patients, AS_OF, LOADS)[i].name
        for i in lookup_rules(patients, rules_for(patients, AS_OF, LOADS))["practice_code"]
    }
    assert all(evaluated_in_scan(spec, r) for r in rules if r.name == "event_date_format")


def test_more_rules_than_a_mask_holds_take_a_second_mask() -> None:
    spec = FILES["gp_events"]
    rules = tuple(
        Rule(f"rule_{i}", "snomed_code", "x", f"snomed_code = '{i}'") for i in range(MASK_BITS + 3)
    )
    masks = scan_masks(spec, rules)
    assert [len(indexes) for indexes in masks.values()] == [MASK_BITS, 3]
    assert masks["_rule_mask_1"] == [MASK_BITS, MASK_BITS + 1, MASK_BITS + 2]


def test_a_looked_up_rule_must_read_its_own_column_only() -> None:
    spec = FILES["gp_events"]
    rule = Rule("mixed", "nhs_number", "x", "nhs_number__valid and event_date__date is null")
    with pytest.raises(ValueError, match="own column"):
        lookup_rules(spec, (rule,))
