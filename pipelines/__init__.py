"""casefinder: weekly proactive-care case finding for housebound patients (pipelines and CLI)."""

__version__ = "0.1.0"
