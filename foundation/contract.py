"""The extract contract (version 1.1) stated once in code: files, columns, types, vocabularies.

The generator (`synthetic/`), the ingest validator (`pipelines/ingest/`) and the tests all read
this module; the human-readable version is `docs/contract/EXTRACTS.md`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

CONTRACT_VERSION = "1.1"


class ColumnType(StrEnum):
    """How a column's text is parsed when loaded into `core`."""

    STRING = "string"
    DATE = "date"  # YYYY-MM-DD
    DATETIME = "datetime"  # YYYY-MM-DD HH:MM[:SS] or with T
    NUMBER = "number"  # decimal
    INTEGER = "integer"
    BOOLEAN = "boolean"  # true/false
    NHS_NUMBER = "nhs_number"  # 10 digits, spaces/hyphens allowed, modulus 11
    SNOMED = "snomed"  # 6-18 digits
    ICD10 = "icd10"  # HES style, normalised on load
    BNF = "bnf"  # 15-character BNF presentation code


@dataclass(frozen=True)
class Column:
    """One column of an extract file."""

    name: str
    type: ColumnType
    required: bool = False
    vocabulary: tuple[str, ...] | None = None
    description: str = ""

    @property
    def is_identifier(self) -> bool:
        """True for columns that identify a person and must never reach a log."""
        return self.name in IDENTIFIER_COLUMNS


@dataclass(frozen=True)
class ExtractFile:
    """One file of an extract set."""

    name: str
    columns: tuple[Column, ...]
    required: bool
    grain: str
    key: tuple[str, ...] = field(default_factory=tuple)
    # Columns of which at least the first must exist (diag_01 .. diag_20).
    min_columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns that must be present in the header (required ones, plus `min_columns`)."""
        names = [c.name for c in self.columns if c.required and not c.name.startswith("diag_")]
        return tuple(names) + self.min_columns

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


IDENTIFIER_COLUMNS = frozenset({"nhs_number", "given_name", "family_name", "date_of_birth"})

SEX_CODES = ("1", "2", "9", "X")
ETHNIC_CATEGORIES = (*"ABCDEFGHJKLMNPRS", "Z", "99")
EMERGENCY_ADMISSION_METHODS = ("21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28")
ELECTIVE_ADMISSION_METHODS = ("11", "12", "13")
MATERNITY_ADMISSION_METHODS = ("31", "32")
OTHER_ADMISSION_METHODS = ("81", "82", "83")
# `98` not applicable, `99` not known (contract 1.1): valid, neither emergency nor elective.
UNKNOWN_ADMISSION_METHODS = ("98", "99")
ADMISSION_METHODS = (
    EMERGENCY_ADMISSION_METHODS
    + ELECTIVE_ADMISSION_METHODS
    + MATERNITY_ADMISSION_METHODS
    + OTHER_ADMISSION_METHODS
    + UNKNOWN_ADMISSION_METHODS
)
DIED_DISCHARGE_DESTINATION = "79"
DEPARTMENT_TYPES = ("01", "02", "03", "04")
TEAM_TYPES = (
    "district_nursing",
    "urgent_community_response",
    "reablement",
    "intermediate_care",
    "community_matron",
    "therapy",
    "older_adult_mental_health",
    "palliative_care",
    "other",
)
PRIORITIES = ("urgent_2h", "urgent_2d", "routine")
LOCATIONS = ("home", "care_home", "clinic", "other")
SERVICE_TYPES = (
    "home_care",
    "reablement",
    "residential_care",
    "nursing_care",
    "day_care",
    "equipment",
)
OPT_OUT_TYPES = ("type1", "ndoo")
N_DIAGNOSIS_COLUMNS = 20
# diag_02 onwards: a value that does not parse is quarantined on its own (the spell is kept).
SECONDARY_DIAGNOSIS_COLUMNS = tuple(f"diag_{i:02d}" for i in range(2, N_DIAGNOSIS_COLUMNS + 1))

S, D, DT, N, INT, B = (
    ColumnType.STRING,
    ColumnType.DATE,
    ColumnType.DATETIME,
    ColumnType.NUMBER,
    ColumnType.INTEGER,
    ColumnType.BOOLEAN,
)


def _diag_columns() -> tuple[Column, ...]:
    return tuple(
        Column(f"diag_{i:02d}", ColumnType.ICD10, required=(i == 1))
        for i in range(1, N_DIAGNOSIS_COLUMNS + 1)
    )


FILES: dict[str, ExtractFile] = {
    f.name: f
    for f in (
        ExtractFile(
            "gp_patients",
            grain="one row per registered patient",
            required=True,
            key=("nhs_number",),
            columns=(
                Column("nhs_number", ColumnType.NHS_NUMBER, required=True),
                Column("given_name", S),
                Column("family_name", S),
                Column("date_of_birth", D, required=True),
                Column("sex", S, required=True, vocabulary=SEX_CODES),
                Column("ethnic_category", S, vocabulary=ETHNIC_CATEGORIES),
                Column("lsoa_code", S),
                Column("practice_code", S, required=True),
                Column("registration_start_date", D, required=True),
                Column("registration_end_date", D),
                Column("date_of_death", D),
            ),
        ),
        ExtractFile(
            "gp_events",
            grain="one coded GP journal entry per row",
            required=True,
            columns=(
                Column("nhs_number", ColumnType.NHS_NUMBER, required=True),
                Column("event_date", D, required=True),
                Column("snomed_code", ColumnType.SNOMED, required=True),
                Column("numeric_value", N),
            ),
        ),
        ExtractFile(
            "gp_medications",
            grain="one issued prescription per row",
            required=True,
            columns=(
                Column("nhs_number", ColumnType.NHS_NUMBER, required=True),
                Column("issue_date", D, required=True),
                Column("dmd_code", S),
                Column("bnf_code", ColumnType.BNF, required=True),
                Column("description", S),
            ),
        ),
        ExtractFile(
            "acute_spells",
            grain="one admitted patient care spell per row",
            required=True,
            key=("spell_id",),
            min_columns=("diag_01",),
            columns=(
                Column("spell_id", S, required=True),
                Column("nhs_number", ColumnType.NHS_NUMBER, required=True),
                Column("provider_code", S),
                Column("admission_date", D, required=True),
                Column("discharge_date", D),
                Column("admission_method", S, required=True, vocabulary=ADMISSION_METHODS),
                Column("discharge_destination", S),
                *_diag_columns(),
            ),
        ),
        ExtractFile(
            "ae_attendances",
            grain="one emergency care attendance per row",
            required=True,
            key=("attendance_id",),
            columns=(
                Column("attendance_id", S, required=True),
                Column("nhs_number", ColumnType.NHS_NUMBER, required=True),
                Column("arrival_datetime", DT, required=True),
                Column("department_type", S, vocabulary=DEPARTMENT_TYPES),
                Column("arrival_planned", B),
                Column("chief_complaint_snomed", ColumnType.SNOMED),
                Column("accommodation_status_snomed", ColumnType.SNOMED),
                Column("admitted", B),
            ),
        ),
        ExtractFile(
            "community_contacts",
            grain="one community care contact per row per submission",
            required=True,
            key=("contact_id", "submission_id"),
            columns=(
                Column("contact_id", S, required=True),
                Column("submission_id", INT, required=True),
                Column("nhs_number", ColumnType.NHS_NUMBER, required=True),
                Column("referral_id", S),
                Column("referral_received_datetime", DT),
                Column("contact_datetime", DT, required=True),
                Column("team_type", S, required=True, vocabulary=TEAM_TYPES),
                Column("priority", S, vocabulary=PRIORITIES),
                Column("attended", B, required=True),
                Column("duration_minutes", INT),
                Column("location", S, vocabulary=LOCATIONS),
            ),
        ),
        ExtractFile(
            "social_care_services",
            grain="one adult social care service package per row",
            required=False,
            columns=(
                Column("nhs_number", ColumnType.NHS_NUMBER, required=True),
                Column("service_type", S, required=True, vocabulary=SERVICE_TYPES),
                Column("start_date", D, required=True),
                Column("end_date", D),
                Column("planned_hours_per_week", N),
            ),
        ),
        ExtractFile(
            "practices",
            grain="one row per GP practice",
            required=True,
            key=("practice_code",),
            columns=(
                Column("practice_code", S, required=True),
                Column("practice_name", S),
                Column("pcn_code", S),
                Column("pcn_name", S),
                Column("neighbourhood_code", S, required=True),
                Column("neighbourhood_name", S, required=True),
            ),
        ),
        ExtractFile(
            "lsoa_imd",
            grain="one row per LSOA",
            required=False,
            key=("lsoa_code",),
            columns=(
                Column("lsoa_code", S, required=True),
                Column("imd_decile", INT, required=True),
            ),
        ),
        ExtractFile(
            "opt_outs",
            grain="one recorded opt-out per row",
            required=False,
            columns=(
                Column("nhs_number", ColumnType.NHS_NUMBER, required=True),
                Column("opt_out_type", S, required=True, vocabulary=OPT_OUT_TYPES),
                Column("recorded_date", D),
            ),
        ),
        ExtractFile(
            "caseload",
            grain="one caseload episode per row",
            required=False,
            columns=(
                Column("nhs_number", ColumnType.NHS_NUMBER, required=True),
                Column("team", S),
                Column("start_date", D),
                Column("end_date", D),
            ),
        ),
    )
}

REQUIRED_FILES = tuple(name for name, f in FILES.items() if f.required)
FILE_FORMATS = ("csv", "parquet")
MANIFEST_NAME = "manifest.json"


def nhs_number_is_valid(value: str) -> bool:
    """Return True when `value` (spaces/hyphens allowed) is a valid NHS number.

    Ten digits, modulus 11 check digit (weights 10..2 on digits 1-9; check = 11 - sum mod 11;
    11 -> 0; 10 -> invalid), and not ten identical digits.
    """
    digits = value.replace(" ", "").replace("-", "")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    if len(set(digits)) == 1:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return False
    return check == int(digits[9])


def nhs_check_digit(first_nine: str) -> int | None:
    """Return the modulus 11 check digit for nine digits, or None when none exists (10)."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check
