"""Shared test helpers: tiny, readable extract sets written to the contract."""
