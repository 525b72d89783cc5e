"""Ground floor: warehouse, settings, errors, contract, provenance, privacy; imports no layer."""

__version__ = "0.1.0"
