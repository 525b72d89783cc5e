"""The synthetic ICS generator: a realistic, deterministic extract set to contract 1.1."""

from synthetic.generate import SynthResult, generate
from synthetic.params import DEFAULT_EXTRACT_DATE

__all__ = ["DEFAULT_EXTRACT_DATE", "SynthResult", "generate"]
