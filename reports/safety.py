"""Making published values safe: spreadsheet formula injection and folder names."""

from __future__ import annotations

import hashlib
import re

# A text cell starting with one of these can be run as a formula by a spreadsheet (OWASP CSV
# injection); such values are prefixed with a single quote, in the CSV and Excel alike.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9_.-]+$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


def escape_formula(value: str | None) -> str:
    """Return text that no spreadsheet will read as a formula (None becomes "")."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def is_safe_component(name: str) -> bool:
    """True when `name` can be used as one folder name as it is."""
    return bool(_SAFE_COMPONENT.match(name)) and name not in (".", "..") and len(name) <= 100


def folder_name(code: str) -> str:
    """A neighbourhood's folder name: the code itself when safe, else an escaped, unique form.

    Unsafe characters become `_` and a short hash of the original keeps distinct codes apart,
    so the result is always one path component inside the output folder.
    """
    if is_safe_component(code):
        return code
    digest = hashlib.sha256(code.encode("utf-8")).hexdigest()[:8]
    cleaned = _UNSAFE_CHARS.sub("_", code).strip(".")[:60] or "neighbourhood"
    return f"{cleaned}-{digest}"
