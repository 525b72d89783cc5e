"""Ingestion: reading extracts, contract rules, quarantine, loading `raw`/`core`, summaries."""
