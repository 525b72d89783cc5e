"""Evidence in the clinician's words: ICD-10 codes with WHO descriptions, admissions by kind."""

from __future__ import annotations

import pyarrow as pa
import pytest

from features import dictionary
from features.terms import (
    evidence_in_words,
    evidence_words,
    icd10_description,
    icd10_dotted,
    icd10_words,
)


@pytest.mark.parametrize(
    ("written", "dotted"),
    [
        ("J189", "J18.9"),
        ("J18.9", "J18.9"),
        (" r074 ", "R07.4"),
        ("R69X", "R69"),  # X filler
        ("M014D", "M01.4"),  # dagger
        ("G01-", "G01"),
        ("S7200", "S72.00"),  # UK 5th character
        ("21", None),  # an admission method is not ICD-10
        ("", None),
        (None, None),
    ],
)
def test_codes_are_written_dotted_whatever_the_extract_wrote(written, dotted):
    assert icd10_dotted(written) == dotted


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("J189", "J18.9 Pneumonia, unspecified"),
        ("R074", "R07.4 Chest pain, unspecified"),
        ("I50.0", "I50.0 Congestive heart failure"),
        ("R69X", "R69 Unknown and unspecified causes of morbidity"),
    ],
)
def test_codes_come_with_the_who_description(code, words):
    assert icd10_words(code) == words


def test_a_fifth_character_code_takes_its_parents_description():
    # S72.00 (UK 5th-character extension) is not in WHO ICD-10; S72.0 is.
    assert icd10_description("S72.0") == "Fracture of neck of femur"
    assert icd10_words("S7200") == "S72.00 Fracture of neck of femur"


def test_a_code_nobody_knows_is_shown_alone():
    # D49 is not a WHO ICD-10 category (ICD-10-CM has it), nor is D49.9 a subcategory.
    assert icd10_description("D499") is None
    assert icd10_words("D499") == "D49.9"
    # Z99.99 is unknown but its parent Z99.9 is not: the parent's words.
    assert icd10_words("Z9999") == "Z99.99 Dependence on unspecified enabling machine and device"
    assert icd10_words("21") == "21"
    assert icd10_words(None) == ""


def test_an_admission_says_its_kind_and_its_diagnosis_in_words():
    assert evidence_words("acute_spells", "J189", "Emergency admission") == (
        "J18.9",
        "Emergency admission: J18.9 Pneumonia, unspecified",
    )
    assert evidence_words("acute_spells", None, "Elective admission") == ("", "Elective admission")


def test_code_list_terms_are_kept_and_other_sources_untouched():
    hfrs = evidence_words("acute_spells", "F001", "Dementia in Alzheimer's disease (HFRS 7.1)")
    assert hfrs == ("F00.1", "Dementia in Alzheimer's disease (HFRS 7.1)")
    gp = evidence_words("gp_events", "1912002", "Fall")
    assert gp == ("1912002", "Fall")


def test_words_twice_are_the_same_words():
    once = evidence_words("acute_spells", "R074", "Emergency admission")
    assert evidence_words("acute_spells", *once) == once


def test_a_table_of_evidence_gets_its_words_and_keeps_its_other_columns():
    rows = pa.table(
        {
            "patient_id": ["p1", "p1", "p2"],
            "source": ["acute_spells", "ae_attendances", "community_contacts"],
            "code": ["J189", "29857009", None],
            "term": [
                "Emergency admission",
                "Unplanned A&E attendance: chief complaint 29857009",
                "Community contact: district nursing",
            ],
        }
    )
    worded = evidence_in_words(rows)
    assert worded.column_names == rows.column_names
    assert worded.column("code").to_pylist() == ["J18.9", "29857009", None]
    assert worded.column("term").to_pylist()[0] == (
        "Emergency admission: J18.9 Pneumonia, unspecified"
    )
    assert worded.column("term").to_pylist()[1:] == rows.column("term").to_pylist()[1:]


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("efi", 11 / 36, "0.31"),
        ("hfrs", 12.299999999999999, "12.3"),
        ("n_emergency_admissions_365d", 3.0, "3"),
        ("cfs_latest", 6.0, "6"),
        ("social_care_hours_per_week", 7.5, "7.5"),
        ("housebound", 1.0, "yes"),
        ("age", None, ""),
    ],
)
def test_feature_values_are_rounded_for_people(name, value, shown):
    assert dictionary.shown(name, value) == shown


def test_reason_sentences_round_as_the_values_are_shown():
    assert dictionary.sentence("efi", 11 / 36) == "Electronic Frailty Index 0.31"
    assert dictionary.sentence("hfrs", 12.34) == "Hospital Frailty Risk Score 12.3"
