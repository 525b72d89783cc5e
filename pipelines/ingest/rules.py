"""The contract's row rules, each one SQL condition over a file's checked relation (true = fails).

One definition per rule serves both the quarantine (run over every landed row, so every
failing row is caught) and the Great Expectations suite (`UnexpectedRowsExpectation`).
Both evaluate the rules over the same relation, `checked_relation`: the `raw` rows of one
load plus each text column parsed once (`<column>__digits`, `__valid`, `__date`, ...), so
an NHS number or a date is parsed once per row, not once per rule that reads it.
Parsing helpers are persistent macros in the `raw` schema (`sql/macros/*.sql`, one per file)
so that `sql/core` and the GX connection use exactly the same definitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

import duckdb

from foundation.contract import FILES, SECONDARY_DIAGNOSIS_COLUMNS, ColumnType, ExtractFile
from foundation.warehouse import apply_layer_ddl

# Files whose rows must belong to a patient in gp_patients (social care, opt-outs and
# caseloads may name people not registered with a practice in the extract).
PATIENT_EXISTS_FILES = (
    "gp_events",
    "gp_medications",
    "acute_spells",
    "ae_attendances",
    "community_contacts",
)

_FORMAT_CHECKS: dict[ColumnType, tuple[str, str]] = {
    ColumnType.NHS_NUMBER: (
        "not {c}__valid",
        "is a valid NHS number (10 digits, modulus-11 check digit, not all one digit)",
    ),
    ColumnType.DATE: ("{c}__date is null", "is a date written YYYY-MM-DD"),
    ColumnType.DATETIME: (
        "{c}__datetime is null",
        "is a date-time written YYYY-MM-DD HH:MM[:SS] (space or T)",
    ),
    ColumnType.NUMBER: ("not raw.is_number({c})", "is a decimal number"),
    ColumnType.INTEGER: ("not raw.is_integer({c})", "is a whole number"),
    ColumnType.BOOLEAN: ("raw.parse_boolean({c}) is null", "is true or false"),
    ColumnType.SNOMED: (
        "not regexp_full_match(raw.trimmed({c}), '[0-9]{{6,18}}')",
        "is a SNOMED CT concept id (6-18 digits)",
    ),
    ColumnType.ICD10: (
        "not coalesce(raw.icd10_shape_ok({c}__icd10), false)",
        "is an ICD-10 code",
    ),
    ColumnType.BNF: (
        "not regexp_full_match(raw.trimmed({c}), '[0-9A-Za-z]{{15}}')",
        "is a 15-character BNF presentation code",
    ),
}


def parsed_columns(spec: ExtractFile) -> tuple[dict[str, str], dict[str, str]]:
    """The columns every rule reads, parsed once per row, as two layers of `name: SQL`.

    The first layer parses text (`<c>__digits`, `<c>__date`, `<c>__datetime`, `<c>__icd10`
    as normalised); the second
    reads the first (`<c>__valid`: the NHS number's check digit). Two layers, because a
    macro repeats its argument's text wherever it uses it: `raw.nhs_check_ok` over an
    unparsed column would strip and clean it twenty times per row.
    """
    first: dict[str, str] = {}
    second: dict[str, str] = {}
    for col in spec.columns:
        c = col.name
        if col.type is ColumnType.NHS_NUMBER:
            first[f"{c}__digits"] = f"raw.nhs_digits({c})"
            second[f"{c}__valid"] = f"coalesce(raw.nhs_check_ok({c}__digits), false)"
        elif col.type is ColumnType.DATE:
            first[f"{c}__date"] = f"raw.parse_date({c})"
        elif col.type is ColumnType.DATETIME:
            first[f"{c}__datetime"] = f"raw.parse_datetime({c})"
        elif col.type is ColumnType.ICD10:
            first[f"{c}__icd10"] = f"raw.icd10_normalise({c})"
    return first, second


def checked_relation(spec: ExtractFile, rows: str) -> str:
    """One load's staged rows with their parsed columns: what every rule is evaluated over.

    `rows` already holds the first layer (`parsed_columns`, computed in the scan that staged
    the file). The second layer (an NHS number's check digit) is computed once per distinct
    number and joined back: a file names each patient many times (9M GP events, 0.3M
    numbers), and the check digit costs three times the join.
    """
    _first, second = parsed_columns(spec)
    if not second:
        return f"select * from {rows}"
    ctes, joins, picks = [f"parsed as (select * from {rows})"], [], []
    for i, (name, expression) in enumerate(second.items()):
        key = name.removesuffix("__valid") + "__digits"
        ctes.append(
            f"checked_{i} as (select {key}, {expression} as {name} "
            f"from (select distinct {key} from parsed))"
        )
        joins.append(f"left join checked_{i} on checked_{i}.{key} = parsed.{key}")
        picks.append(f"coalesce(checked_{i}.{name}, false) as {name}")
    return (
        f"with {', '.join(ctes)} select parsed.*, {', '.join(picks)} from parsed {' '.join(joins)}"
    )


# Reference values of the set's earlier files that the referential rules read (temporary
# tables made by `known_values` once the file is staged).
KNOWN_PRACTICES = "_cf_known_practices"
KNOWN_PATIENTS = "_cf_known_patients"

# Rules per rule-mask column of the staged table (bits of a BIGINT, the sign bit left alone).
MASK_BITS = 62


def evaluated_in_scan(spec: ExtractFile, rule: Rule) -> bool:
    """Whether a rule reads only its row's text and first-layer parsed columns, so that the
    scan staging the file evaluates it (`scan_masks`). The others read a second-layer column
    (an NHS number's check digit) or the set's earlier files; they are evaluated once per
    distinct value of their column (`lookup_rules`)."""
    _first, second = parsed_columns(spec)
    return not any(name in rule.condition for name in (*second, KNOWN_PRACTICES, KNOWN_PATIENTS))


def scan_masks(spec: ExtractFile, rules: tuple[Rule, ...]) -> dict[str, list[int]]:
    """The staged table's rule-mask columns, each with the indexes (in `rules`) of the rules
    whose failure sets its bits 0, 1, ...: every rule the scan evaluates, 62 to a column."""
    indexes = [i for i, rule in enumerate(rules) if evaluated_in_scan(spec, rule)]
    return {
        f"_rule_mask_{k}": indexes[start : start + MASK_BITS]
        for k, start in enumerate(range(0, len(indexes), MASK_BITS))
    }


def mask_expression(rules: tuple[Rule, ...], indexes: list[int]) -> str:
    """A BIGINT whose bit b is set when rule `rules[indexes[b]]` fails for the row."""
    bits = " | ".join(
        f"(case when ({rules[i].condition}) then {1 << bit} else 0 end)"
        for bit, i in enumerate(indexes)
    )
    return f"cast({bits} as bigint)"


def lookup_rules(spec: ExtractFile, rules: tuple[Rule, ...]) -> dict[str, list[int]]:
    """The rules the scan does not evaluate, by the column each reads (its only column:
    they are evaluated once per distinct value of it, `distinct_values`)."""
    by_column: dict[str, list[int]] = {}
    for i, rule in enumerate(rules):
        if evaluated_in_scan(spec, rule):
            continue
        others = [
            c
            for c in spec.column_names
            if c != rule.column and re.search(rf"\b{c}(__[a-z0-9]+)?\b", rule.condition)
        ]
        if rule.column is None or others:
            raise ValueError(f"rule {rule.name} must read its own column only, reads {others}")
        by_column.setdefault(rule.column, []).append(i)
    return by_column


def distinct_values(spec: ExtractFile, column: str, rows: str) -> str:
    """Each distinct value of one column of `rows`, with the parsed columns of it that the
    rules read (both layers): what a lookup rule is evaluated over."""
    first, second = parsed_columns(spec)
    own_first = "".join(f", {name}" for name in first if name.startswith(f"{column}__"))
    own_second = "".join(
        f", {expression} as {name}"
        for name, expression in second.items()
        if name.startswith(f"{column}__")
    )
    return f"select *{own_second} from (select distinct {column}{own_first} from {rows})"


def known_values(con: duckdb.DuckDBPyConnection, file: str, rows: str) -> None:
    """Keep what later files' referential rules look up: practice codes, patients' numbers.

    Every row of the load counts, quarantined or not (a row's reference is checked against
    the file as supplied; its own defects are reported on its own line).
    """
    if file == "practices":
        con.execute(
            f"create or replace temp table {KNOWN_PRACTICES} as "
            f"select distinct upper(trim(practice_code)) as practice_code from {rows} "
            "where raw.blank_to_null(practice_code) is not null"
        )
    elif file == "gp_patients":
        con.execute(
            f"create or replace temp table {KNOWN_PATIENTS} as "
            "select distinct nhs_number__digits from "
            f"({checked_relation(FILES['gp_patients'], rows)}) where nhs_number__valid"
        )


# Control characters other than tab, line feed and carriage return, as an RE2 class (escapes
# kept as text: a NUL byte cannot travel inside SQL). They would reach CSV, XLSX and HTML.
_CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


@dataclass(frozen=True)
class Rule:
    """One contract rule: its name, the column it is about, what it expects, and the SQL
    condition (over `checked_relation`'s columns) that is true for a failing row.

    `rejects_row` is False for a rule that quarantines one value and keeps the row (a
    secondary diagnosis of a spell: `quarantine.rejected_diagnoses`).
    """

    name: str
    column: str | None
    expectation: str
    condition: str
    rejects_row: bool = True


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or replace) the parsing macros in the `raw` schema (`sql/macros/*.sql`)."""
    apply_layer_ddl(con, "macros")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _present(column: str) -> str:
    return f"raw.is_present({column})"


def rules_for(spec: ExtractFile, as_of: date, load_ids: dict[str, int]) -> tuple[Rule, ...]:
    """Every row rule of one file, in the order a reader would check them.

    `load_ids` names the loads of `practices` and `gp_patients` in the same extract set
    (for the referential rules). Dates are validated `date` objects, written as literals so
    that the same text runs inside Great Expectations.
    """
    as_of_sql = f"date '{as_of.isoformat()}'"
    rules: list[Rule] = []
    for col in spec.columns:
        c = col.name
        if col.required:
            rules.append(
                Rule(f"{c}_required", c, f"{c} is present (not empty)", f"not {_present(c)}")
            )
        check = _FORMAT_CHECKS.get(col.type)
        if check is not None:
            condition, text = check
            rules.append(
                Rule(
                    f"{c}_format",
                    c,
                    f"{c} {text}",
                    f"{_present(c)} and {condition.format(c=c)}",
                )
            )
        if col.vocabulary:
            values = ", ".join(_quote(v) for v in col.vocabulary)
            rules.append(
                Rule(
                    f"{c}_in_vocabulary",
                    c,
                    f"{c} is one of the contract's codes ({', '.join(col.vocabulary)})",
                    f"{_present(c)} and raw.trimmed({c}) not in ({values})",
                )
            )
        elif col.type is ColumnType.STRING:
            rules.append(
                Rule(
                    f"{c}_no_control_characters",
                    c,
                    f"{c} holds no control characters (NUL and the like; tab and line breaks "
                    "are allowed)",
                    f"regexp_matches({c}, '{_CONTROL_CHARACTERS}')",
                )
            )
        if col.type in (ColumnType.DATE, ColumnType.DATETIME):
            parsed = f"{c}__date" if col.type is ColumnType.DATE else f"cast({c}__datetime as date)"
            rules.append(
                Rule(
                    f"{c}_not_after_extract_date",
                    c,
                    f"{c} is not after the extract date",
                    f"{parsed} > {as_of_sql}",
                )
            )
            rules.append(
                Rule(
                    f"{c}_not_before_1900",
                    c,
                    f"{c} is not before 1900-01-01",
                    f"{parsed} < date '1900-01-01'",
                )
            )
    rules.extend(_file_rules(spec, load_ids))
    if spec.name == "acute_spells":
        rules = _acute_value_rules(rules)
    return tuple(rules)


def _acute_value_rules(rules: list[Rule]) -> list[Rule]:
    """A secondary diagnosis (`diag_02` onwards) that does not parse is quarantined on its own:
    its format rule keeps the spell (contract 1.1; `diag_01` still rejects the spell)."""
    return [
        replace(r, rejects_row=False)
        if r.name == f"{r.column}_format" and r.column in SECONDARY_DIAGNOSIS_COLUMNS
        else r
        for r in rules
    ]


def _file_rules(spec: ExtractFile, load_ids: dict[str, int]) -> list[Rule]:
    """Cross-column and referential rules of one file."""
    rules: list[Rule] = []
    if spec.name == "lsoa_imd":
        rules.append(
            Rule(
                "imd_decile_range",
                "imd_decile",
                "imd_decile is between 1 and 10",
                "raw.is_integer(imd_decile) and try_cast(raw.trimmed(imd_decile) as bigint)"
                " not between 1 and 10",
            )
        )
    if spec.name == "acute_spells":
        rules.append(
            Rule(
                "discharge_not_before_admission",
                "discharge_date",
                "discharge_date is not before admission_date",
                "discharge_date__date < admission_date__date",
            )
        )
    if spec.name == "gp_patients" and "practices" in load_ids:
        rules.append(
            Rule(
                "practice_exists",
                "practice_code",
                "practice_code exists in practices",
                f"{_present('practice_code')} and upper(trim(practice_code)) not in ("
                f"select practice_code from {KNOWN_PRACTICES})",
            )
        )
    if spec.name in PATIENT_EXISTS_FILES and "gp_patients" in load_ids:
        rules.append(
            Rule(
                "patient_exists",
                "nhs_number",
                "nhs_number belongs to a patient in gp_patients",
                "nhs_number__valid and nhs_number__digits not in ("
                f"select nhs_number__digits from {KNOWN_PATIENTS})",
            )
        )
    return rules


# Files whose key must be unique (the first row for a key wins; later ones are quarantined).
# community_contacts is left out: CSDS rows are resolved by `sql/core` (latest submission,
# then latest row, wins per contact_id), so a repeat is superseded rather than rejected.
KEY_UNIQUE_FILES = ("gp_patients", "practices", "lsoa_imd", "acute_spells", "ae_attendances")


def key_expression(spec: ExtractFile, alias: str) -> str | None:
    """The normalised key of a file as one SQL expression over `alias`, when it is enforced."""
    if not spec.key or spec.name not in KEY_UNIQUE_FILES:
        return None
    parts = [
        f"raw.nhs_digits({alias}.{k})" if k == "nhs_number" else f"trim({alias}.{k})"
        for k in spec.key
    ]
    return parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
