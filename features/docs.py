"""Render the feature dictionary as text (for `--describe`) or Markdown (`docs/features.md`)."""

from __future__ import annotations

from features.dictionary import FAMILIES, FEATURES, Feature

FAMILY_TITLES = {
    "demographics": "Demographics",
    "circumstances": "Cohort and circumstances",
    "efi": "Electronic Frailty Index (Clegg 2016)",
    "hfrs": "Hospital Frailty Risk Score (Gilbert 2018)",
    "acute": "Hospital use",
    "urgent_care": "Urgent care and falls",
    "community": "Community health services",
    "social_care": "Adult social care",
    "medicines": "Medicines",
}

MARKDOWN_HEADER = """# Feature dictionary

Generated from `features/dictionary.py` by `python -m features.docs > docs/features.md`
(a unit test fails when this file is out of date). Every feature is computed at an index
date D from data dated on or before D only; windows are "(D - N, D]". `model` says whether
the risk model uses the column; the others serve cohort selection, lists or fairness
reporting. Templates: `{n}` is the value, `{s}` a plural "s"; flags are explained only when
true. Definitions of the cohort and of housebound: see the notes at the end.
"""

MARKDOWN_NOTES = """
## Notes on definitions

- **Alive and registered at D**: `registration_start_date <= D`, no `registration_end_date`
  on or before D, no `date_of_death` on or before D, month of birth on or before D. The date
  of death is `core_patients.date_of_death`: the earlier of the GP's date and the discharge
  date of any spell discharged to `79` (died), so a death known only from hospital takes the
  patient out of every cohort (features, training, lists) from the day of discharge.
- **Housebound at D** (extract contract): the latest GP code on or before D from
  `snomed_misc.csv` categories `housebound` / `no_longer_housebound` is a housebound code
  (a day with both counts as housebound), **or** the patient is a care home resident at D.
- **Care home resident at D** (`is_care_home_resident`): the latest *residence record* on or
  before D is a care home. Residence records are (a) GP events with a `care_home_residence`
  code of `snomed_misc.csv` (always a care home), and (b) A&E attendances with a non-null
  `accommodation_status_snomed`: a care home when the code is in the `care_home_residence`
  list (`394923006` residential home, `160734000` nursing home, ...), otherwise a record of
  living elsewhere that ends an earlier care home record. A day with both counts as care
  home. Hospital discharge destinations and social care placements do not change residence
  (`has_care_home_placement` is a separate feature).
- **eFI value rules** (`efi_value_rules.csv`, `observation_codes.csv`): a deficit is also
  present when the latest value of its observation on or before D meets the rule (several
  values on that day: any one). Haemoglobin below 25 is read as g/dL, otherwise g/L;
  its rule uses the stated gender (no rule for codes 9 / X). The AF rule counts any CHADS2
  score (the published Read 38DE. / CTV3 XaP9J), not CHA2DS2-VASc. Urine protein
  > 150 mg/24h compares the value as published (mg/24h; a laboratory reporting g/24h would
  not meet it). Not implemented (no SNOMED CT id of the published Read codes could be
  verified): hours of oxygen therapy a day, unscheduled COPD encounters. The COPD exacerbation count
  rule changes nothing today: its code (723245007) is also in the respiratory disease code
  list, so any record of it counts.
- **HFRS**: categories (first 3 characters of the normalised ICD-10 code) from every
  diagnosis position of spells admitted in (D - 2 years, D] (calendar years), each once per
  patient; weights summed exactly (decimal) then bands low < 5, intermediate 5-15, high > 15.
- **Open at D** (caseload, social care packages, hospital spells): started on or before D
  and not ended (discharged) on or before D.
- **Windows in days vs months**: features named `_30d`, `_90d`, `_365d` use day windows
  (D - N days, D]; `_prev_90d` is days 91-180 before D; `_12m` and the eFI polypharmacy
  deficit use 12 calendar months (D - 12 months, D]; HFRS uses 2 calendar years.
- **Bed days**: emergency spells admitted in the 365 days up to D, each counting
  `min(discharge, D) - admission` days (a spell still open counts up to D).
- **Referrals** (UCR, reablement): distinct `referral_id` (a contact without one counts
  alone) with a contact in the window; reablement episodes add social care reablement
  packages started in the window.

## How it is computed

`features.build.build_features(con, index_dates)` (and the Prefect flow
`pipelines.flows.feature_build.build_features(warehouse, index_dates)`) loads the code lists as
`ref.*` tables, writes `features.feat_index_dates` and builds the models of
`features.build.MODELS` in order. All SQL computes over every index date at once (one row per
patient per index date), so one weekly date and a 12-date training set share one code path.
"Ever recorded" facts are reduced to a first date per patient before being compared with the
dates; "latest value" facts become validity periods (from a record to the next one) joined
to the dates; window counts are range joins. `int_cohort` numbers each patient and date
(`cohort_id`) so that the family models join on one integer. Models read once by
`feat_patients` are views (computed inside its query); the others are tables.

Command line: `casefinder features --warehouse FILE --as-of D --out FILE.parquet` writes the
features at D with `nhs_number` as the only identifier; `casefinder features --describe`
prints this dictionary (`--format markdown` for this page).
"""


def _lists(feature: Feature) -> str:
    return ", ".join(f"`{c}.csv`" for c in feature.codelists) or "-"


def markdown() -> str:
    """The whole dictionary as Markdown, one table per family."""
    parts = [MARKDOWN_HEADER]
    for family in FAMILIES:
        members = [f for f in FEATURES if f.family == family]
        parts.append(f"\n## {FAMILY_TITLES[family]}\n")
        parts.append("| name | description | unit | model | SQL | code lists | template | test |")
        parts.append("|---|---|---|---|---|---|---|---|")
        for f in members:
            parts.append(
                f"| `{f.name}` | {f.description} | {f.unit} | {'yes' if f.model else 'no'} "
                f"| `{f.sql_file}` | {_lists(f)} | {f.template} | `{f.test}` |"
            )
    parts.append(MARKDOWN_NOTES)
    return "\n".join(parts)


def text() -> str:
    """The dictionary as plain text for a terminal: one block per feature."""
    lines = []
    for family in FAMILIES:
        lines.append(f"== {FAMILY_TITLES[family]}")
        for f in (f for f in FEATURES if f.family == family):
            model = "model feature" if f.model else "not used by the model"
            lines.append(f"{f.name}  [{f.unit}; {f.dtype}; {model}]")
            lines.append(f"    {f.description}")
            lines.append(f"    sql: {f.sql_file}; code lists: {_lists(f).replace('`', '')}")
            lines.append(f"    sentence: {f.template}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    sys.stdout.write(markdown())
