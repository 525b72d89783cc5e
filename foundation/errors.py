"""Exceptions for expected problems, shown to the user as one line (exit code 2)."""

from __future__ import annotations


class CasefinderError(Exception):
    """An expected problem (bad input, bad option, unusable environment).

    The CLI prints `casefinder: error: <message>` and exits with code 2. Messages name the
    file, row and column, never an NHS number, a name or a date of birth.
    """

    exit_code = 2


class ExtractError(CasefinderError):
    """A fatal problem with an extract set (missing file or column, truncated, unreadable)."""


class WarehouseBusyError(CasefinderError):
    """Another casefinder run holds the warehouse."""


class ModelNotFitError(CasefinderError):
    """No model fit to rank: the training set cannot train and evaluate one, or the trained
    model failed the quality gate (the weekly run then ranks by the fallback score)."""


class QualityGateError(ModelNotFitError):
    """A trained model failed the quality gate and was not registered."""
