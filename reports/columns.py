"""Every column of the published list and of the analysts' file, declared once.

A column's name, note, type and source live here and nowhere else: the select lists of
`sql/lists/list_week.sql` (filled in when it is built, `week_select_lists`), the rows of the
CSV, Excel and HTML pages (`reports/lists.py`), their column notes, the analysts' notes
(`reports/pseudonymised.py`) and the columns table of `docs/neighbourhood-lead.md`
(`python -m reports.columns docs/neighbourhood-lead.md`) all come from the declarations below.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from reports.horizon import FALLBACK_TAIL, risk_score_note

KINDS = ("text", "number", "date", "bool")


@dataclass(frozen=True)
class Column:
    """One published column.

    `kind` is how a reader sees it: `text`, `number` (rounded to `digits`; 0 = a whole
    number), `date` (YYYY-MM-DD) or `bool` (`true` / `false`). `sql` is the expression that
    computes it, named `field` (default: `name`): in the `final` CTE of
    `sql/lists/list_week.sql`, or with `publication` in the query that joins the identity when
    the list is published (`w` = `lists.list_week`, `i` = `core.core_patient_identity`, `p` =
    `lists.list_plan`), so
    that no identifier enters the lists layer; None for the reasons (their sentences come
    from `scores.reasons`). `if_null` is what an empty value is written as: None for an empty
    cell, or a text such as `false`.
    """

    name: str
    note: str
    kind: str
    sql: str | None
    digits: int | None = None
    field_name: str | None = None
    if_null: Any = None
    publication: bool = False
    shown: str | None = None

    @property
    def number_format(self) -> str | None:
        """The spreadsheet number format of a `number` column (None for other kinds)."""
        if self.kind != "number":
            return None
        if self.shown is not None:
            return self.shown
        return "0" if not self.digits else "0." + "0" * min(self.digits, 2)

    @property
    def field(self) -> str:
        """The column's name in `lists.list_week` (or in the record `list_row` reads)."""
        return self.field_name or self.name

    @property
    def is_text(self) -> bool:
        """Whether the cell is written as text (escaped against spreadsheet formulas)."""
        return self.kind != "number"

    def cell(self, value: Any) -> Any:
        """The value as the list writes it: numbers rounded, dates ISO, flags `true`/`false`."""
        if value is None:
            return self.if_null
        if self.kind == "number":
            return int(value) if self.digits == 0 else round(float(value), self.digits or 0)
        if self.kind == "date":
            return value.isoformat() if isinstance(value, date) else str(value)
        if self.kind == "bool":
            return "true" if value else "false"
        return value


def _bool(name: str, note: str, sql: str | None, **kw: Any) -> Column:
    return Column(name, note, "bool", sql, if_null=kw.pop("if_null", "false"), **kw)


# The columns of proactive_care_list.csv (and the Excel list sheet) in contract order
# (OUTPUTS.md 1.2): the 1.1 columns, then those added in 1.2, then casefinder's own.
LIST: tuple[Column, ...] = (
    Column(
        "rank",
        "1 = highest risk within the neighbourhood (ties: higher score, then a fixed order)",
        "number",
        "ranked.rank",
        digits=0,
    ),
    Column(
        "nhs_number", "10 digits, no spaces", "text", "i.nhs_number", if_null="", publication=True
    ),
    Column("given_name", "from the GP record", "text", "i.given_name", publication=True),
    Column("family_name", "from the GP record", "text", "i.family_name", publication=True),
    Column(
        "date_of_birth",
        "from the GP record (YYYY-MM-DD)",
        "date",
        "i.date_of_birth",
        if_null="",
        publication=True,
    ),
    Column("practice_code", "ODS code of the registered practice", "text", "ranked.practice_code"),
    Column(
        "risk_score",
        # said for each list's model horizon, or the fallback score: NeighbourhoodList.column_notes
        risk_score_note(None) + FALLBACK_TAIL,
        "number",
        "ranked.risk_score",
        digits=4,
    ),
    Column(
        "risk_tier",
        "very_high >= 0.70, high >= 0.50, moderate >= 0.30, low below",
        "text",
        "ranked.risk_tier",
    ),
    Column(
        "change",
        "new (not on the neighbourhood's previous list); up / down: the risk tier changed, or"
        " else the score moved by at least the change threshold (default 0.05), in that"
        " direction; same otherwise (rank shifts alone are not a change)",
        "text",
        "compared.change",
    ),
    Column(
        "reasons",
        "the top risk-raising reasons from the model, largest first, separated by '; '",
        "text",
        None,
    ),
    Column(
        "efi",
        "electronic Frailty Index (deficits / 36), 0-1",
        "number",
        "patients.efi",
        digits=4,
    ),
    Column(
        "efi_category",
        "fit (<=0.12), mild (<=0.24), moderate (<=0.36), severe (>0.36)",
        "text",
        "patients.efi_category",
    ),
    Column(
        "hfrs",
        "Hospital Frailty Risk Score (2-year lookback of hospital diagnoses)",
        "number",
        "patients.hfrs",
        digits=1,
    ),
    Column(
        "hfrs_band",
        "low (<5), intermediate (5-15), high (>15)",
        "text",
        "patients.hfrs_band",
    ),
    _bool(
        "in_hospital",
        "true when an emergency or elective spell is open at the list date",
        "coalesce(patients.in_hospital, false)",
    ),
    _bool(
        "on_caseload",
        "true when already on an open proactive-care caseload",
        "coalesce(patients.on_caseload, false)",
    ),
    Column(
        "model_version",
        "the registered model that scored this list; empty when the fallback points score"
        " ranked it (see the banner)",
        "text",
        "ranked.model_version",
    ),
    # Filled by the weekly capacity and review feedback (OUTPUTS.md); empty until then.
    _bool(
        "this_week",
        "true for the patients the team is asked to review this week; empty without a weekly"
        " capacity",
        "p.this_week",
        if_null=None,
        publication=True,
    ),
    Column(
        "last_review_date",
        "the date of the team's latest recorded review of this patient (empty if none)",
        "date",
        "p.last_review_date",
        publication=True,
    ),
    Column(
        "last_review_outcome",
        "the outcome of the team's latest recorded review of this patient (empty if none)",
        "text",
        "p.last_review_outcome",
        publication=True,
    ),
    Column(
        "age",
        "whole years at the list date, from the date of birth"
        " (born 29 February: a year older on 1 March)",
        "number",
        "year(w.as_of) - year(i.date_of_birth)"
        " - (strftime(w.as_of, '%m%d') < strftime(i.date_of_birth, '%m%d'))::integer",
        digits=0,
        publication=True,
    ),
    Column(
        "practice_name",
        "the registered practice's name",
        "text",
        "patients.practice_name",
    ),
    Column(
        "caseload_team",
        "the team of the patient's open proactive-care caseload (several: in order, separated"
        " by '; '); empty if none",
        "text",
        "patients.caseload_team",
    ),
    Column(
        "score_change",
        "risk_score minus the patient's risk_score on the neighbourhood's previous list, both"
        " rounded to 4 decimals; empty when new",
        "number",
        "compared.score_change",
        digits=4,
        shown="+0.00;-0.00;0.00",
    ),
    _bool(
        "care_home_resident",
        "true when the latest residence code is a care home",
        "coalesce(patients.is_care_home_resident, false)",
        field_name="is_care_home_resident",
    ),
)

BY_NAME: dict[str, Column] = {c.name: c for c in LIST}
LIST_COLUMNS: tuple[str, ...] = tuple(c.name for c in LIST)
COLUMN_NOTES: dict[str, str] = {c.name: c.note for c in LIST}
TEXT_COLUMNS: frozenset[str] = frozenset(c.name for c in LIST if c.is_text)

# The analysts' pseudonymised file (reports/pseudonymised.py), in order: an allow-list, read
# from `lists.list_pseudonymised` by `field`. A column it shares with the list is the list's
# own declaration, note included, so the two files never describe one column differently.
ANALYSTS: tuple[Column, ...] = (
    Column(
        "patient_id",
        "pseudonym: HMAC-SHA256 of the NHS number under the deployment's key",
        "text",
        None,
    ),
    Column("as_of", "the list date (YYYY-MM-DD)", "date", None),
    Column("neighbourhood_code", "the neighbourhood of the registered practice", "text", None),
    BY_NAME["practice_code"],
    Column(
        "rank",
        "1 = highest risk within the neighbourhood, among the patients of this file",
        "number",
        None,
        digits=0,
    ),
    BY_NAME["risk_score"],
    BY_NAME["risk_tier"],
    Column("age_band", "age at the list date in 5-year bands; 90+ together", "text", None),
    Column("sex", "NHS person stated gender code (1, 2, 9, X)", "text", None),
    Column(
        "imd_decile",
        "Index of Multiple Deprivation decile of the home area (1 most deprived)",
        "number",
        None,
        digits=0,
    ),
    BY_NAME["efi"],
    BY_NAME["efi_category"],
    BY_NAME["hfrs"],
    BY_NAME["hfrs_band"],
    BY_NAME["in_hospital"],
    BY_NAME["on_caseload"],
    BY_NAME["care_home_resident"],
    Column(
        "reason_features",
        "the model features behind the top reasons, largest first, '; '",
        "text",
        None,
        if_null="",
    ),
    BY_NAME["model_version"],
)

# `lists.list_week` columns the publication needs that are not published as they are.
WEEK_KEYS: tuple[str, ...] = ("as_of", "neighbourhood_code", "patient_id")
WEEK_EXTRAS: tuple[str, ...] = ("raw_score", "previous_rank", "previous_as_of")


def week_select_lists() -> dict[str, list[str]]:
    """The select lists of `sql/lists/list_week.sql`, filled in when it is built.

    `list_sources`: each declared column computed in the `final` CTE; `list_columns`: the
    table's columns, keys first, then the declared ones, then those the pages use besides.
    """
    declared = [c for c in LIST if c.sql is not None and not c.publication]
    return {
        "list_sources": [_select_item(c) for c in declared],
        "list_columns": [*WEEK_KEYS, *(c.field for c in declared), *WEEK_EXTRAS],
    }


def publication_select_list() -> str:
    """The columns joined when the list is published, for the `select` of
    `reports.lists.load_lists` (`w.*` and these)."""
    return ", ".join(_select_item(c) for c in LIST if c.publication)


def _select_item(c: Column) -> str:
    assert c.sql is not None
    return c.sql if c.sql.endswith(f".{c.field}") else f"{c.sql} as {c.field}"


def markdown_table(columns: tuple[Column, ...] = LIST) -> str:
    """The columns as a Markdown table: name, type and note."""
    kinds = {"number": "number", "text": "text", "date": "date", "bool": "true / false"}
    lines = ["| column | type | meaning |", "|---|---|---|"]
    for c in columns:
        kind = kinds[c.kind]
        if c.kind == "number":
            kind = f"number, {c.digits} decimal{'s' if c.digits != 1 else ''}"
            kind = "whole number" if c.digits == 0 else kind
        lines.append(f"| `{c.name}` | {kind} | {c.note.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


DOC_START = (
    "<!-- columns: generated from reports/columns.py by `python -m reports.columns FILE` -->\n"
)
DOC_END = "<!-- end of columns -->\n"


def with_table(text: str) -> str:
    """`text` with the part between `DOC_START` and `DOC_END` replaced by the list's table."""
    head, rest = text.split(DOC_START, 1)
    _, tail = rest.split(DOC_END, 1)
    return f"{head}{DOC_START}{markdown_table()}{DOC_END}{tail}"


if __name__ == "__main__":
    for name in sys.argv[1:]:
        doc = Path(name)
        doc.write_text(with_table(doc.read_text(encoding="utf-8")), encoding="utf-8")
