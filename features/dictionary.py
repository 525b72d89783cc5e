"""The feature dictionary: every feature declared once (name, meaning, unit, SQL, code lists, sentence)."""

# ruff: noqa: E501  (the declarations below are data: one feature per entry, long sentences kept whole)

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from typing import Any

from features.codelists import CODELIST_DIR

# Families: the unit of the point-in-time tests (tests/integration/test_features_point_in_time.py).
FAMILIES = (
    "demographics",
    "circumstances",
    "efi",
    "hfrs",
    "acute",
    "urgent_care",
    "community",
    "social_care",
    "medicines",
)

PIT_TEST = (
    "tests/integration/test_features_point_in_time.py::test_family_ignores_events_after_index_date"
)


@dataclass(frozen=True)
class Feature:
    """One column of `features.feat_patients`.

    `dtype` is `bool`, `int`, `float` or `category`. `template` is the sentence that explains
    a value to a clinician: `{value}` is the value (as an integer when whole), `{s}` is "s"
    unless the value is 1. Flags are explained only when true. `risk_raising_when` is
    `present` when only a true / non-zero value can be a reason, `any` otherwise. `evidence`
    names the `sql/features/evid_*.sql` model listing the dated records behind the value.
    `model` says whether the risk model uses the column; the others serve cohort selection,
    lists or fairness reporting. `test` is the test that proves the feature. `decimals` is
    how a float value is rounded for people (sentences, `explain`): eFI 0.31, HFRS 12.3.
    """

    name: str
    family: str
    description: str
    unit: str
    sql: str
    codelists: tuple[str, ...]
    template: str
    dtype: str
    model: bool = True
    test: str = PIT_TEST
    risk_raising_when: str = "present"
    evidence: str | None = None
    decimals: int = 2

    @property
    def sql_file(self) -> str:
        """The SQL file that computes the feature, relative to the repository root."""
        return f"sql/features/{self.sql}.sql"

    def rounded(self, value: Any) -> Any:
        """A number as people read it: whole numbers as integers, others to `decimals` places
        (eFI 0.31, HFRS 12.3); anything else unchanged."""
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            return value
        if self.dtype == "int" or float(value).is_integer():
            return round(value)
        value = round(float(value), self.decimals)
        return int(value) if value.is_integer() else value

    def shown(self, value: Any) -> str:
        """The value as a person reads it in `explain`: flags yes/no, numbers `rounded`,
        empty when missing."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if self.dtype == "bool":
            return "yes" if value else "no"
        return str(self.rounded(value))

    def sentence(self, value: Any) -> str | None:
        """The plain-English reason for a value, or None when there is nothing to say."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if self.dtype == "bool":
            return self.template if bool(value) else None
        value = self.rounded(value)
        plural = "" if value == 1 else "s"
        return self.template.format(value=value, s=plural)


# Which evidence model lists the records behind a feature, by the SQL model computing it.
_EVIDENCE_BY_SQL = {
    "int_efi": "evid_gp_records",
    "int_circumstances": "evid_gp_records",
    "int_hfrs": "evid_hospital_diagnoses",
    "int_acute_use": "evid_acute_spells",
    "int_urgent_care": "evid_ae_attendances",
    "int_community_use": "evid_community_contacts",
    "int_social_care": "evid_social_care",
    "int_medicines": "evid_medications",
}
_EVIDENCE_BY_NAME = {
    "efi_polypharmacy": "evid_medications",
    "n_falls_365d": "evid_gp_records",
    "in_hospital": "evid_acute_spells",
    "on_caseload": None,
}
# Decimal places of a float feature when shown to people, by unit (default 2): the Clinical
# Frailty Scale is whole, HFRS weights and hours have one decimal.
_DECIMALS_BY_UNIT = {"0-1": 2, "points": 1, "hours/week": 1, "score 1-9": 0}
# Features whose every value can be a reason (not only a true / non-zero one).
_ANY_VALUE = frozenset(
    {
        "age",
        "imd_decile",
        "cfs_latest",
        "efi",
        "hfrs",
        "days_since_last_emergency_discharge",
        "community_contacts_change_90d",
    }
)


def _f(
    name: str,
    family: str,
    description: str,
    unit: str,
    sql: str,
    template: str,
    dtype: str = "int",
    codelists: tuple[str, ...] = (),
    model: bool = True,
    test: str = PIT_TEST,
) -> Feature:
    evidence = _EVIDENCE_BY_NAME.get(name, _EVIDENCE_BY_SQL.get(sql))
    risk_raising_when = "any" if name in _ANY_VALUE else "present"
    return Feature(
        name,
        family,
        description,
        unit,
        sql,
        codelists,
        template,
        dtype,
        model,
        test,
        risk_raising_when,
        evidence,
        _DECIMALS_BY_UNIT.get(unit, 2),
    )


def _efi_deficit_features() -> list[Feature]:
    """One 0/1 feature per eFI deficit, named `efi_<slug>` from `efi_deficits.csv`."""
    with (CODELIST_DIR / "efi_deficits.csv").open(encoding="utf-8") as fh:
        deficits = list(csv.DictReader(fh))
    out = []
    for row in deficits:
        slug = row["slug"]
        rule = row["value_rule_or_note"].strip()
        if slug == "polypharmacy":
            how = "5 or more distinct medicines (BNF chemical substance) issued in the 12 months up to the index date"
            lists: tuple[str, ...] = ("efi_deficits",)
        else:
            how = "a code from its eFI list recorded on or before the index date"
            if rule:
                how += f", or the latest value on or before the index date meets the rule ({rule})"
            lists = ("efi_deficits", "efi_deficits_snomed")
            if rule:
                lists = (*lists, "efi_value_rules", "observation_codes")
        out.append(
            _f(
                f"efi_{slug.replace('-', '_')}",
                "efi",
                f"eFI deficit '{row['deficit']}' present (1) or not (0): {how}.",
                "0/1",
                "int_efi",
                f"Frailty deficit: {row['deficit'].lower()}",
                dtype="bool",
                codelists=lists,
                test="tests/integration/test_efi_deficits.py",
            )
        )
    return out


_EFI_LISTS = ("efi_deficits", "efi_deficits_snomed", "efi_value_rules", "observation_codes")
_HFRS_TEST = "tests/integration/test_hfrs_reference.py"

FEATURES: tuple[Feature, ...] = (
    # --- demographics -------------------------------------------------------------------
    _f(
        "age",
        "demographics",
        "Age in whole years at the index date (from month of birth).",
        "years",
        "int_cohort",
        "Aged {value}",
    ),
    _f(
        "sex",
        "demographics",
        "NHS person stated gender code (1 male, 2 female, 9 indeterminate, X not known); for fairness reporting.",
        "code",
        "int_cohort",
        "Sex code {value}",
        dtype="category",
        model=False,
    ),
    _f(
        "sex_female",
        "demographics",
        "1 when the stated gender is female (code 2).",
        "0/1",
        "int_cohort",
        "Female",
        dtype="bool",
    ),
    _f(
        "ethnic_group",
        "demographics",
        "Ethnic group (White, Mixed, Asian, Black, Other, Not stated, Not known) from the NHS ethnic category; for fairness reporting only.",
        "group",
        "int_cohort",
        "Ethnic group {value}",
        dtype="category",
        codelists=("ethnic_groups",),
        model=False,
    ),
    _f(
        "imd_decile",
        "demographics",
        "Index of Multiple Deprivation decile of the patient's LSOA (1 most deprived, 10 least); null when unknown.",
        "decile",
        "int_cohort",
        "Lives in IMD decile {value} (1 = most deprived)",
    ),
    # --- cohort and circumstances ---------------------------------------------------------
    _f(
        "housebound",
        "circumstances",
        "Housebound at the index date (contract definition): the latest housebound / no-longer-housebound code on or before it is a housebound code, or the latest residence record is a care home.",
        "flag",
        "int_circumstances",
        "Housebound",
        dtype="bool",
        codelists=("snomed_misc",),
        model=False,
    ),
    _f(
        "has_housebound_code",
        "circumstances",
        "The latest housebound / no-longer-housebound GP code on or before the index date is a housebound code.",
        "flag",
        "int_circumstances",
        "Coded as housebound in the GP record",
        dtype="bool",
        codelists=("snomed_misc",),
        model=False,
    ),
    _f(
        "is_care_home_resident",
        "circumstances",
        "The latest residence record on or before the index date (GP care home residence code, or A&E accommodation status) is a care home.",
        "flag",
        "int_circumstances",
        "Lives in a care home",
        dtype="bool",
        codelists=("snomed_misc",),
    ),
    _f(
        "lives_alone",
        "circumstances",
        "A 'lives alone' code recorded on or before the index date.",
        "flag",
        "int_circumstances",
        "Lives alone",
        dtype="bool",
        codelists=("snomed_misc",),
    ),
    _f(
        "is_carer",
        "circumstances",
        "Recorded as an unpaid carer for someone else on or before the index date.",
        "flag",
        "int_circumstances",
        "Is a carer for someone else",
        dtype="bool",
        codelists=("snomed_misc",),
    ),
    _f(
        "has_no_carer",
        "circumstances",
        "A 'no caregiver' code recorded on or before the index date.",
        "flag",
        "int_circumstances",
        "Has no carer",
        dtype="bool",
        codelists=("snomed_misc",),
    ),
    _f(
        "has_dementia",
        "circumstances",
        "A dementia code recorded on or before the index date.",
        "flag",
        "int_circumstances",
        "Dementia diagnosis",
        dtype="bool",
        codelists=("snomed_misc",),
    ),
    _f(
        "on_palliative_care_register",
        "circumstances",
        "A palliative care code recorded on or before the index date.",
        "flag",
        "int_circumstances",
        "On the palliative care register",
        dtype="bool",
        codelists=("snomed_misc",),
    ),
    _f(
        "has_dnacpr",
        "circumstances",
        "The latest resuscitation decision on or before the index date is 'not for resuscitation' (DNACPR).",
        "flag",
        "int_circumstances",
        "Has a DNACPR decision",
        dtype="bool",
        codelists=("snomed_misc", "dnacpr_status"),
    ),
    _f(
        "cfs_latest",
        "circumstances",
        "The latest Clinical Frailty Scale score (1-9) on or before the index date; null when never recorded.",
        "score 1-9",
        "int_circumstances",
        "Clinical Frailty Scale {value}",
        dtype="float",
        codelists=("observation_codes", "snomed_misc"),
    ),
    _f(
        "on_caseload",
        "circumstances",
        "On an open proactive-care caseload at the index date (started on or before it, not ended on or before it).",
        "flag",
        "int_circumstances",
        "Already on a proactive-care caseload",
        dtype="bool",
    ),
    _f(
        "in_hospital",
        "circumstances",
        "In hospital at the index date: an emergency or elective spell admitted on or before it and not discharged on or before it.",
        "flag",
        "int_circumstances",
        "In hospital now",
        dtype="bool",
    ),
    # --- eFI ----------------------------------------------------------------------------
    _f(
        "efi",
        "efi",
        "Electronic Frailty Index (Clegg 2016): deficits present / 36.",
        "0-1",
        "int_efi",
        "Electronic Frailty Index {value}",
        dtype="float",
        codelists=_EFI_LISTS,
        test="tests/integration/test_efi_deficits.py",
    ),
    _f(
        "efi_deficit_count",
        "efi",
        "Number of the 36 eFI deficits present at the index date.",
        "deficits",
        "int_efi",
        "{value} frailty deficit{s} recorded",
        codelists=_EFI_LISTS,
        model=False,
        test="tests/integration/test_efi_deficits.py",
    ),
    _f(
        "efi_category",
        "efi",
        "eFI category: fit (0-0.12), mild (>0.12-0.24), moderate (>0.24-0.36), severe (>0.36).",
        "category",
        "int_efi",
        "{value} frailty (eFI)",
        dtype="category",
        codelists=_EFI_LISTS,
        model=False,
        test="tests/integration/test_efi_deficits.py",
    ),
    *_efi_deficit_features(),
    # --- HFRS ---------------------------------------------------------------------------
    _f(
        "hfrs",
        "hfrs",
        "Hospital Frailty Risk Score (Gilbert 2018): sum of the weights of the distinct ICD-10 3-character categories in any diagnosis position of spells admitted in the 2 years up to the index date.",
        "points",
        "int_hfrs",
        "Hospital Frailty Risk Score {value}",
        dtype="float",
        codelists=("hfrs_icd10_weights",),
        test=_HFRS_TEST,
    ),
    _f(
        "hfrs_band",
        "hfrs",
        "HFRS band: low (<5), intermediate (5-15), high (>15).",
        "band",
        "int_hfrs",
        "{value} hospital frailty risk",
        dtype="category",
        codelists=("hfrs_icd10_weights",),
        model=False,
        test=_HFRS_TEST,
    ),
    _f(
        "n_hfrs_categories",
        "hfrs",
        "Number of distinct HFRS ICD-10 categories counted in the 2 years up to the index date.",
        "categories",
        "int_hfrs",
        "Frailty-related hospital diagnoses in {value} HFRS group{s}",
        codelists=("hfrs_icd10_weights",),
        model=False,
        test=_HFRS_TEST,
    ),
    # --- hospital use -------------------------------------------------------------------
    _f(
        "n_emergency_admissions_30d",
        "acute",
        "Emergency admissions (spells with an emergency admission method) admitted in the 30 days up to the index date.",
        "admissions",
        "int_acute_use",
        "{value} emergency admission{s} in the last 30 days",
    ),
    _f(
        "n_emergency_admissions_90d",
        "acute",
        "Emergency admissions in the 90 days up to the index date.",
        "admissions",
        "int_acute_use",
        "{value} emergency admission{s} in the last 90 days",
    ),
    _f(
        "n_emergency_admissions_prev_90d",
        "acute",
        "Emergency admissions in the 90 days before the last 90 days (days 91-180 before the index date): the trend baseline.",
        "admissions",
        "int_acute_use",
        "{value} emergency admission{s} in the 3 months before that",
    ),
    _f(
        "n_emergency_admissions_365d",
        "acute",
        "Emergency admissions in the 365 days up to the index date.",
        "admissions",
        "int_acute_use",
        "{value} emergency admission{s} in the last 12 months",
    ),
    _f(
        "emergency_bed_days_365d",
        "acute",
        "Bed days of emergency spells admitted in the 365 days up to the index date (a spell still open counts up to the index date).",
        "days",
        "int_acute_use",
        "{value} day{s} in hospital after emergency admissions in the last 12 months",
    ),
    _f(
        "n_elective_admissions_365d",
        "acute",
        "Elective (waiting list, booked, planned) admissions in the 365 days up to the index date.",
        "admissions",
        "int_acute_use",
        "{value} planned hospital admission{s} in the last 12 months",
    ),
    _f(
        "days_since_last_emergency_discharge",
        "acute",
        "Days from the last discharge of an emergency spell (on or before the index date) to the index date; null when none.",
        "days",
        "int_acute_use",
        "Discharged from an emergency admission {value} day{s} ago",
    ),
    # --- urgent care and falls ------------------------------------------------------------
    _f(
        "n_ae_unplanned_90d",
        "urgent_care",
        "Unplanned A&E attendances (arrival not planned) in the 90 days up to the index date.",
        "attendances",
        "int_urgent_care",
        "{value} unplanned A&E attendance{s} in the last 90 days",
    ),
    _f(
        "n_ae_unplanned_prev_90d",
        "urgent_care",
        "Unplanned A&E attendances in days 91-180 before the index date (trend baseline).",
        "attendances",
        "int_urgent_care",
        "{value} unplanned A&E attendance{s} in the 3 months before that",
    ),
    _f(
        "n_ae_unplanned_365d",
        "urgent_care",
        "Unplanned A&E attendances in the 365 days up to the index date.",
        "attendances",
        "int_urgent_care",
        "{value} unplanned A&E attendance{s} in the last 12 months",
    ),
    _f(
        "n_falls_365d",
        "urgent_care",
        "Days with a fall recorded in the GP record in the 365 days up to the index date.",
        "falls",
        "int_urgent_care",
        "{value} fall{s} recorded in the last 12 months",
        codelists=("snomed_misc",),
    ),
    # --- community ----------------------------------------------------------------------
    _f(
        "n_community_contacts_90d",
        "community",
        "Attended community health contacts (all teams) in the 90 days up to the index date.",
        "contacts",
        "int_community_use",
        "{value} community health contact{s} in the last 90 days",
    ),
    _f(
        "n_community_contacts_prev_90d",
        "community",
        "Attended community contacts in days 91-180 before the index date (trend baseline).",
        "contacts",
        "int_community_use",
        "{value} community health contact{s} in the 3 months before that",
    ),
    _f(
        "community_contacts_change_90d",
        "community",
        "Trend: community contacts in the last 90 days minus those in the 90 days before.",
        "contacts",
        "int_community_use",
        "Community contacts changed by {value} against the previous 3 months",
    ),
    _f(
        "n_contacts_district_nursing_90d",
        "community",
        "Attended district nursing contacts in the 90 days up to the index date.",
        "contacts",
        "int_community_use",
        "{value} district nursing contact{s} in the last 90 days",
    ),
    _f(
        "n_contacts_urgent_community_response_90d",
        "community",
        "Attended urgent community response contacts in the 90 days up to the index date.",
        "contacts",
        "int_community_use",
        "{value} urgent community response contact{s} in the last 90 days",
    ),
    _f(
        "n_contacts_reablement_90d",
        "community",
        "Attended reablement contacts in the 90 days up to the index date.",
        "contacts",
        "int_community_use",
        "{value} reablement contact{s} in the last 90 days",
    ),
    _f(
        "n_contacts_intermediate_care_90d",
        "community",
        "Attended intermediate care contacts in the 90 days up to the index date.",
        "contacts",
        "int_community_use",
        "{value} intermediate care contact{s} in the last 90 days",
    ),
    _f(
        "n_contacts_community_matron_90d",
        "community",
        "Attended community matron contacts in the 90 days up to the index date.",
        "contacts",
        "int_community_use",
        "{value} community matron contact{s} in the last 90 days",
    ),
    _f(
        "n_contacts_therapy_90d",
        "community",
        "Attended therapy contacts in the 90 days up to the index date.",
        "contacts",
        "int_community_use",
        "{value} therapy contact{s} in the last 90 days",
    ),
    _f(
        "n_contacts_older_adult_mental_health_90d",
        "community",
        "Attended older adult mental health contacts in the 90 days up to the index date.",
        "contacts",
        "int_community_use",
        "{value} older adult mental health contact{s} in the last 90 days",
    ),
    _f(
        "n_contacts_palliative_care_90d",
        "community",
        "Attended palliative care contacts in the 90 days up to the index date.",
        "contacts",
        "int_community_use",
        "{value} palliative care contact{s} in the last 90 days",
    ),
    _f(
        "n_contacts_other_90d",
        "community",
        "Attended contacts with other community teams in the 90 days up to the index date.",
        "contacts",
        "int_community_use",
        "{value} other community contact{s} in the last 90 days",
    ),
    _f(
        "n_community_missed_90d",
        "community",
        "Community contacts not attended in the 90 days up to the index date.",
        "contacts",
        "int_community_use",
        "{value} missed community appointment{s} in the last 90 days",
    ),
    _f(
        "n_ucr_referrals_365d",
        "community",
        "Urgent community response referrals (distinct referral ids, else contacts) with a contact in the 365 days up to the index date.",
        "referrals",
        "int_community_use",
        "{value} urgent community response referral{s} in the last 12 months",
    ),
    _f(
        "n_reablement_episodes_365d",
        "community",
        "Reablement episodes in the 365 days up to the index date: community reablement referrals with a contact in the window plus social care reablement packages started in it.",
        "episodes",
        "int_community_use",
        "{value} reablement episode{s} in the last 12 months",
    ),
    # --- social care --------------------------------------------------------------------
    _f(
        "social_care_hours_per_week",
        "social_care",
        "Planned hours per week of adult social care packages active at the index date.",
        "hours/week",
        "int_social_care",
        "{value} hour{s} of social care a week",
        dtype="float",
    ),
    _f(
        "has_home_care",
        "social_care",
        "A home care package active at the index date.",
        "flag",
        "int_social_care",
        "Receives home care",
        dtype="bool",
    ),
    _f(
        "has_care_home_placement",
        "social_care",
        "A residential or nursing care package active at the index date.",
        "flag",
        "int_social_care",
        "Has a funded care home placement",
        dtype="bool",
    ),
    # --- medicines ----------------------------------------------------------------------
    _f(
        "n_distinct_medicines_12m",
        "medicines",
        "Distinct medicines (BNF chemical substance, first 9 characters of the BNF code) issued in the 12 calendar months up to the index date.",
        "medicines",
        "int_medicines",
        "{value} different medicine{s} in the last 12 months",
    ),
)

BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}

# Columns of `features.feat_patients` before the features: keys and list attributes (not
# model features: the practice's name and the open caseload's team, which the lists show).
KEY_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "index_date",
    "practice_code",
    "neighbourhood_code",
    "practice_name",
    "caseload_team",
)


def feature_names() -> list[str]:
    """Every feature, in `features.feat_patients` column order."""
    return [f.name for f in FEATURES]


def select_lists() -> dict[str, list[str]]:
    """The select lists of `sql/features/feat_patients.sql`, filled in when it is built.

    `feature_sources`: each feature from the CTE of the model computing it (`int_efi` ->
    `efi.efi`); `feature_columns`: the key columns, then every feature, in column order.
    """
    return {
        "feature_sources": [f"{f.sql.removeprefix('int_')}.{f.name}" for f in FEATURES],
        "feature_columns": [*KEY_COLUMNS, *feature_names()],
    }


def efi_select_lists() -> dict[str, list[dict[str, str]]]:
    """The deficits for the select lists of `sql/features/int_efi.sql`, in code list order:
    each as its `slug` in the code lists and its `column`; `efi_coded_deficits` are those found
    from codes and values (all but polypharmacy, counted from medicines)."""
    deficits = [
        {"slug": f.name.removeprefix("efi_").replace("_", "-"), "column": f.name}
        for f in FEATURES
        if f.family == "efi" and f.unit == "0/1"
    ]
    return {
        "efi_deficits": deficits,
        "efi_coded_deficits": [d for d in deficits if d["slug"] != "polypharmacy"],
    }


def model_feature_names() -> list[str]:
    """The features the risk model uses, in column order."""
    return [f.name for f in FEATURES if f.model]


def get(name: str) -> Feature:
    """One feature by name (KeyError for an unknown name)."""
    return BY_NAME[name]


def shown(name: str, value: Any) -> str:
    """A feature's value as people read it (`Feature.shown`; as given for an unknown name)."""
    feature = BY_NAME.get(name)
    if feature is None:
        return "" if value is None else str(value)
    return feature.shown(value)


def description(name: str) -> str:
    """A feature's plain-English description (the name itself when unknown)."""
    feature = BY_NAME.get(name)
    return feature.description if feature else name


def sentence(name: str, value: Any) -> str | None:
    """The explanation sentence for a feature's value (None when nothing to say)."""
    return BY_NAME[name].sentence(value)
