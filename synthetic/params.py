"""Fixed parameters of the synthetic ICS: calendar, population structure and event rates."""

from __future__ import annotations

from datetime import date

EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    """Days since 1970-01-01 (the integer calendar the simulation runs on)."""
    return (d - EPOCH).days


# The simulation runs on an absolute calendar: it starts on SIM_START whatever the extract
# date, in fixed 28-day steps, so two extract dates a week apart see the same people and the
# same history up to the earlier date.
SIM_START = date(2020, 1, 6)  # a Monday
STEP_DAYS = 28
DEFAULT_EXTRACT_DATE = date(2026, 11, 16)  # a Monday; never today()
MIN_HISTORY_YEARS = 4
FOLLOW_UP_DAYS = 365  # simulated after the extract date, written only to truth/
LATEST_EXTRACT_DATE = date(2030, 12, 31)
ARRIVALS_END = date(2031, 12, 31)  # arrivals (births, movers in) are spread up to here
MEDICATION_HISTORY_DAYS = 3 * 365  # medicines issued in the 3 years up to the extract date

CHUNK_SIZE = 50_000  # persons simulated together; memory stays bounded by this
PATIENTS_PER_PRACTICE = 8_000
MIN_PRACTICES = 12
MIN_NEIGHBOURHOODS = 6
PATIENTS_PER_LSOA = 1_500

# England-like registered population by 5-year age band at SIM_START (ONS mid-year, rounded).
AGE_BAND_SHARES = (
    5.4, 5.9, 6.1, 5.8, 6.2, 6.8, 7.0, 6.7, 6.4, 6.1,
    6.6, 6.6, 5.9, 5.0, 4.8, 3.9, 2.6, 1.6, 0.9,
)  # fmt: skip
SEX_CODES = ("1", "2", "9", "X")
SEX_SHARES = (0.494, 0.505, 0.0005, 0.0005)
ETHNIC_CODES = (
    "A",
    "B",
    "C",
    "D",
    "E",
    "F",
    "G",
    "H",
    "J",
    "K",
    "L",
    "M",
    "N",
    "P",
    "R",
    "S",
    "Z",
    "99",
)
ETHNIC_SHARES_UNDER_65 = (
    0.70, 0.004, 0.07, 0.008, 0.005, 0.01, 0.008, 0.035, 0.03, 0.013, 0.02, 0.03,
    0.012, 0.006, 0.008, 0.018, 0.02, 0.003,
)  # fmt: skip
ETHNIC_SHARES_65_PLUS = (
    0.87, 0.012, 0.035, 0.002, 0.002, 0.002, 0.002, 0.02, 0.012, 0.004, 0.006, 0.006,
    0.01, 0.002, 0.003, 0.005, 0.004, 0.003,
)  # fmt: skip

# Population turnover.
ARRIVAL_SHARE = 0.12  # of simulated persons register after SIM_START (births and movers in)
NEWBORN_SHARE_OF_ARRIVALS = 0.45
LEAVE_RATE_YOUNG_ADULT = 0.045  # per year, ages 18-39
LEAVE_RATE_OTHER = 0.02
LEAVE_RATE_OLD = 0.008  # ages 65+

# Latent frailty phi (logit scale; expit(phi) ~ share of the 36 eFI deficits "due").
PHI_INTERCEPT = -3.6
PHI_AGE_SLOPE = 0.055  # per year of age at baseline
PHI_NOISE = 0.6
PHI_DEPRIVATION = 0.06  # per IMD decile below the middle
PHI_DRIFT = 0.05  # per year
PHI_DRIFT_FRAIL = 0.10  # extra per year times expit(phi)
PHI_DIFFUSION = 0.25  # per sqrt(year)
PHI_JUMP_ADMISSION = 0.12
PHI_JUMP_FALL = 0.05
HIDDEN_RISK_SD = 0.2  # unobservable personal risk (never coded anywhere)
# Crises: spells of a few months in which a person is going downhill before an admission or
# a death. They are not coded as such, but leave footprints a model can see: more A&E
# attendances and more district nursing and community matron contacts.
CRISIS_BASE = 0.02  # onsets per year
CRISIS_FRAIL = 0.8  # extra onsets per year, times expit(phi)
CRISIS_MEAN_YEARS = 0.25
CRISIS_EMERGENCY = 1.5  # log-hazard of an emergency admission during a crisis
CRISIS_DEATH = 0.8  # log-hazard of death during a crisis
CRISIS_AE = 1.0  # extra A&E attendances per year during a crisis
CRISIS_CONTACTS = 1.5  # extra community contacts, times the usual rate, during a crisis
CRISIS_ENDS_AT_ADMISSION = 0.5
# HFRS categories coded as secondary diagnoses: most come from a short personal list (the same
# chronic problems are recoded at every spell), the rest are drawn afresh.
HFRS_PERSONAL_SHARE = 0.8

# Hazards (per year); see docs/synthetic-data.md for the formulas.
EMERGENCY_FLOOR = 0.02
EMERGENCY_CEILING = 3.5  # per year: the hazard saturates softly towards it
EMERGENCY_LOG_INTERCEPT = -2.75
EMERGENCY_PHI_SLOPE = 0.25
EMERGENCY_AGE_SLOPE = 0.04  # per year of age above 75 (log scale)
EMERGENCY_RECENT_ADMISSION = 1.2
EMERGENCY_RECENT_CAP = 2.0  # recent admissions / falls count up to this (no runaway spirals)
EMERGENCY_RECENT_FALL = 0.5
FALL_ADMISSION_MULTIPLIER = 2.0  # emergency hazard in a step with a fall (hip fractures)
EMERGENCY_HOUSEBOUND = 0.5
# Conditions that raise the emergency hazard beyond their share of the eFI count (log scale):
# the eFI weighs every deficit equally, a model can learn that these weigh more.
EMERGENCY_CONDITION_WEIGHTS = {
    "heart-failure": 0.8,
    "respiratory-disease": 0.6,
    "cognitive-problems": 0.5,
    "skin-ulcer": 0.5,
    "ckd": 0.3,
}
DEATH_LOG_INTERCEPT = -2.35
DEATH_PHI_SLOPE = 0.3
DEATH_AGE_SLOPE = 0.085  # per year above 80
DEATH_CARE_HOME = 0.5  # care home residents die sooner (log scale)
DIED_IN_HOSPITAL = 0.45
FALL_BASE = 0.005
FALL_FRAIL = 0.9
HOUSEBOUND_MAX = 0.8
HOUSEBOUND_PHI_CENTRE = -0.3
HOUSEBOUND_PHI_SCALE = 3.5
HOUSEBOUND_AGE_SLOPE = 0.12  # per year of age above 80, on the logit scale
HOUSEBOUND_MIN_AGE = 55
HOUSEBOUND_AFTER_ADMISSION = 0.12  # 75+, becomes (temporarily) housebound after discharge
HOUSEBOUND_AFTER_ADMISSION_AGE = 75
HOUSEBOUND_RECOVERY = 0.08
CARE_HOME_BASE = 0.003
CARE_HOME_FRAIL = 0.02
CARE_HOME_AFTER_DISCHARGE = 0.01  # of discharges of frail people aged 70+
DEFICIT_BASE = 0.03
DEFICIT_CATCH_UP = 0.7
DEFICITS_PER_FRAILTY = 24.0  # deficits coded in time, times expit(phi) and the coding factor
# How thoroughly a person's problems are coded (log-normal, per person): the eFI counts codes,
# so it measures frailty through this noise; Barthel, CFS and admissions do not.
CODING_SD = 0.6
CODING_MAX = 1.6
DEFICIT_RECODE = 0.3  # re-recordings per held deficit per year
ROUTINE_BASE = 3.0
ROUTINE_FRAIL = 8.0
ROUTINE_AGE = 0.08  # per year of age above 40
AE_BASE = 0.12
AE_FRAIL = 0.5
AE_YOUNG_ADULT = 0.12
ELECTIVE_BASE = 0.02
ELECTIVE_OLDER = 0.05
ELECTIVE_FRAIL = 0.2
MATERNITY_RATE = 0.06  # women 18-44, per year
BACKGROUND_MEDS_PER_YEAR_OVER_40 = 0.12  # repeat medicines at entry per year of age over 40
NEW_MEDS_FRAIL = 2.5  # new repeat medicines per year, times expit(phi)
ACUTE_ANTIBIOTIC_BASE = 0.25
ACUTE_ANTIBIOTIC_FRAIL = 1.2

# Community services.
UCR_AFTER_FALL = 0.35  # 65+, urgent community response within 2 hours of a fall
UCR_WITHIN_STANDARD = 0.85
REABLEMENT_AFTER_DISCHARGE = 0.35  # 65+ with some frailty
REABLEMENT_WITHIN_STANDARD = 0.8
DISTRICT_NURSING_HOUSEBOUND = 8.0  # contacts per year, times (0.3 + frailty)
COMMUNITY_MATRON_FRAIL = 3.0
THERAPY_AFTER_FALL = 0.3
PALLIATIVE_CONTACTS = 8.0  # per year when the death hazard is high
CSDS_RESUBMISSION = 0.08  # share of contacts resubmitted next month with changed values
CSDS_DID_NOT_ATTEND = 0.05

# Social care and caseload.
HOME_CARE_AT_HOUSEBOUND = 0.35
EQUIPMENT_AT_HOUSEBOUND = 0.3
CASELOAD_AT_HOUSEBOUND = 0.2
CASELOAD_END_RATE = 0.3  # per year
OPT_OUT_TYPE1 = 0.027
OPT_OUT_NDOO = 0.054

# Messy ICD-10 forms (always written, even with --clean; they are not defects).
ICD10_DOT = 0.04
ICD10_DAGGER_ASTERISK = 0.01
ICD10_TRAILING_DASH = 0.005
ICD10_PADDING = 0.02
ICD10_FIFTH_CHARACTER = 0.02

# NHS numbers written with spaces or hyphens (valid, not defects).
NHS_NUMBER_SPACED = 0.02
NHS_NUMBER_HYPHENATED = 0.01
DATETIME_WITH_T = 0.03  # share of date-times written as YYYY-MM-DDTHH:MM (valid)

DEFAULT_DEFECT_RATE = 0.005
