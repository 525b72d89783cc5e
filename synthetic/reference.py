"""Code lists and lookup tables the generator draws from, loaded once into numpy arrays."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
CODELISTS_DIR = Path(__file__).resolve().parent.parent / "features" / "codelists"

# Deficits driven by their own processes rather than drawn at random.
PROCESS_DEFICITS = ("housebound", "falls", "polypharmacy")

# Relative incidence of each code-based eFI deficit (invented, roughly by prevalence in 65+).
DEFICIT_WEIGHTS = {
    "hypertension": 10, "arthritis": 8, "respiratory-disease": 6, "vision-problems": 5,
    "hearing-loss": 5, "diabetes": 5, "osteoporosis": 3, "chd": 4, "thyroid-disorders": 3,
    "peptic-ulcer": 3, "urinary-incontinence": 4, "urinary-system-disease": 3,
    "sleep-disturbance": 3, "dizziness": 4, "dyspnoea": 3, "ckd": 4, "atrial-fibrillation": 3,
    "heart-failure": 2.5, "stroke-tia": 2.5, "cognitive-problems": 3, "mobility-problems": 3,
    "foot-problems": 3, "fragility-fracture": 2, "skin-ulcer": 2, "anaemia": 3,
    "hypotension": 2, "pvd": 1.5, "parkinsons": 0.8, "weight-loss": 1.5,
    "care-requirement": 2, "social-vulnerability": 2, "activity-limitation": 2,
    "heart-valve-disease": 1,
}  # fmt: skip

# ICD-10 (HES form) recorded as a secondary diagnosis for a held deficit.
DEFICIT_ICD10 = {
    "hypertension": "I10X", "diabetes": "E119", "atrial-fibrillation": "I489",
    "heart-failure": "I500", "ckd": "N183", "chd": "I251", "respiratory-disease": "J449",
    "cognitive-problems": "F03X", "parkinsons": "G20X", "osteoporosis": "M819",
    "urinary-incontinence": "R32X", "vision-problems": "H549", "hearing-loss": "H919",
    "anaemia": "D649", "thyroid-disorders": "E039", "skin-ulcer": "L899", "stroke-tia": "I693",
    "mobility-problems": "R268", "fragility-fracture": "M844", "arthritis": "M199",
    "social-vulnerability": "Z603", "care-requirement": "Z741", "weight-loss": "R634",
    "dizziness": "R42X", "hypotension": "I959", "pvd": "I739", "urinary-system-disease": "N390",
}  # fmt: skip

# Three-character categories written without a subdivision in HES (X filler).
NO_SUBDIVISION = frozenset(
    {"E86", "F03", "I10", "R32", "R54", "R55", "G20", "N40", "J22", "R69", "R53", "R42", "Z22"}
)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class Reference:
    """Everything the simulation draws codes from. Codes are indices into `snomed_vocab`."""

    snomed_vocab: np.ndarray  # str, every SNOMED code the generator can write
    deficit_slugs: tuple[str, ...]  # the 36 eFI deficits (bit i = deficit_slugs[i])
    deficit_weights: np.ndarray  # float, 0 for process-driven deficits
    deficit_code_offset: np.ndarray  # into deficit_codes
    deficit_code_count: np.ndarray
    deficit_codes: np.ndarray  # int, vocab indices, grouped by deficit
    misc: dict[str, np.ndarray]  # snomed_misc category -> vocab indices
    obs: dict[str, int]  # observation -> vocab index (first code of observation_codes.csv)
    routine_codes: np.ndarray  # vocab indices
    routine_cum: np.ndarray
    routine_kind: tuple[str, ...]
    med_bnf: np.ndarray  # str
    med_desc: np.ndarray  # str
    med_indication: tuple[str, ...]
    med_start_p: np.ndarray
    diag_vocab: np.ndarray  # str, ICD-10 4-character HES forms
    diag_by_cause: dict[str, tuple[np.ndarray, np.ndarray]]  # cause -> (vocab idx, cum weights)
    hfrs_diag: np.ndarray  # vocab idx of HFRS categories (4-character forms)
    hfrs_cum: np.ndarray
    deficit_diag: np.ndarray  # per deficit bit: vocab idx or -1
    ae_codes: dict[str, tuple[np.ndarray, np.ndarray]]  # cause -> (codes str, cum weights)
    given_female: tuple[np.ndarray, np.ndarray, np.ndarray]  # old, mid, young
    given_male: tuple[np.ndarray, np.ndarray, np.ndarray]
    family: np.ndarray
    places: tuple[str, ...]


def _cum(weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.cumsum(w) / w.sum()


@lru_cache(maxsize=1)
def load_reference() -> Reference:
    """Load the code lists (from `features/codelists/`) and the generator's data files."""
    vocab: dict[str, int] = {}

    def idx(code: str) -> int:
        return vocab.setdefault(code, len(vocab))

    deficits = _rows(CODELISTS_DIR / "efi_deficits.csv")
    slugs = tuple(r["slug"] for r in deficits)
    name_to_slug = {r["deficit"]: r["slug"] for r in deficits}
    by_slug: dict[str, list[int]] = {s: [] for s in slugs}
    for r in _rows(CODELISTS_DIR / "efi_deficits_snomed.csv"):
        by_slug[name_to_slug[r["deficit"]]].append(idx(r["code"]))
    offsets, counts, flat = [], [], []
    for s in slugs:
        offsets.append(len(flat))
        counts.append(len(by_slug[s]))
        flat.extend(by_slug[s])
    weights = np.array(
        [0.0 if s in PROCESS_DEFICITS else float(DEFICIT_WEIGHTS.get(s, 1.0)) for s in slugs]
    )

    misc: dict[str, list[int]] = {}
    for r in _rows(CODELISTS_DIR / "snomed_misc.csv"):
        misc.setdefault(r["category"], []).append(idx(r["code"]))
    obs: dict[str, int] = {}
    for r in _rows(CODELISTS_DIR / "observation_codes.csv"):
        if r["observation"] not in obs:
            obs[r["observation"]] = idx(r["snomed_code"])

    routine = _rows(DATA_DIR / "routine_gp_codes.csv")
    routine_codes = np.array([idx(r["snomed_code"]) for r in routine])

    meds = _rows(DATA_DIR / "medicines.csv")

    diag_vocab: dict[str, int] = {}

    def didx(code: str) -> int:
        return diag_vocab.setdefault(code, len(diag_vocab))

    diag_by_cause: dict[str, tuple[list[int], list[float]]] = {}
    for r in _rows(DATA_DIR / "emergency_diagnoses.csv"):
        codes, ws = diag_by_cause.setdefault(r["cause"], ([], []))
        codes.append(didx(r["icd10"]))
        ws.append(float(r["weight"]))
    hfrs_codes, hfrs_w = [], []
    for i, r in enumerate(_rows(CODELISTS_DIR / "hfrs_icd10_weights.csv")):
        cat = r["icd10_3char"]
        fourth = "X" if cat in NO_SUBDIVISION else "0189"[i % 4]
        hfrs_codes.append(didx(cat + fourth))
        hfrs_w.append(float(r["weight"]) + 1.0)
    deficit_diag = np.array(
        [didx(DEFICIT_ICD10[s]) if s in DEFICIT_ICD10 else -1 for s in slugs], dtype=np.int64
    )

    ae: dict[str, tuple[list[str], list[float]]] = {}
    for r in _rows(DATA_DIR / "ae_complaints.csv"):
        codes_s, ws = ae.setdefault(r["cause"], ([], []))
        codes_s.append(r["snomed_code"])
        ws.append(float(r["weight"]))

    def names(path: Path, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = _rows(path)
        return tuple(  # type: ignore[return-value]
            np.array([r[column] for r in rows if r["era"] == era])
            for era in ("old", "mid", "young")
        )

    inv_vocab = np.array(sorted(vocab, key=vocab.__getitem__))
    inv_diag = np.array(sorted(diag_vocab, key=diag_vocab.__getitem__))
    return Reference(
        snomed_vocab=inv_vocab,
        deficit_slugs=slugs,
        deficit_weights=weights,
        deficit_code_offset=np.array(offsets, dtype=np.int64),
        deficit_code_count=np.array(counts, dtype=np.int64),
        deficit_codes=np.array(flat, dtype=np.int64),
        misc={k: np.array(v, dtype=np.int64) for k, v in misc.items()},
        obs=obs,
        routine_codes=routine_codes,
        routine_cum=_cum([float(r["weight"]) for r in routine]),
        routine_kind=tuple(r["value_kind"] for r in routine),
        med_bnf=np.array([r["bnf_code"] for r in meds]),
        med_desc=np.array([r["description"] for r in meds]),
        med_indication=tuple(r["indication"] for r in meds),
        med_start_p=np.array([float(r["start_probability"]) for r in meds]),
        diag_vocab=inv_diag,
        diag_by_cause={
            k: (np.array(c, dtype=np.int64), _cum(w)) for k, (c, w) in diag_by_cause.items()
        },
        hfrs_diag=np.array(hfrs_codes, dtype=np.int64),
        hfrs_cum=_cum(hfrs_w),
        deficit_diag=deficit_diag,
        ae_codes={k: (np.array(c), _cum(w)) for k, (c, w) in ae.items()},
        given_female=names(DATA_DIR / "given_names_female.csv", "given_name"),
        given_male=names(DATA_DIR / "given_names_male.csv", "given_name"),
        family=np.array([r["family_name"] for r in _rows(DATA_DIR / "family_names.csv")]),
        places=tuple(r["place"] for r in _rows(DATA_DIR / "places.csv")),
    )
