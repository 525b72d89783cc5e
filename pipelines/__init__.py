"""Top floor: the Prefect flows, the command line and the orchestration of ingestion."""
