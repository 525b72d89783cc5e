# casefinder: `make demo` runs the weekly job on synthetic data; `make test` runs the tests.
# Both create (or reuse, when up to date) the virtual environment .venv from requirements.lock.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data

# Prefect stays local and quiet: project-local home, no telemetry.
export PREFECT_HOME := $(CURDIR)/$(DATA)/prefect
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets with what each does
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "casefinder needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

.PHONY: venv
venv: $(STAMP) ## create or update .venv from requirements.lock

.PHONY: demo
demo: $(STAMP) ## generate a synthetic ICS and run the weekly job on it (outputs under data/)
	$(BIN)/casefinder demo --out $(DATA)/demo

.PHONY: test
# Two pytest workers (pytest-xdist), a test file each at a time: the suite is mostly waiting on
# subprocesses and Prefect servers, so two workers on two cores take two thirds of the time.
# `--no-loadscope-reorder` keeps the order tests/conftest.py gives, the slow files first (by
# default pytest-xdist sends the files with the most tests first, the long end-to-end files
# last). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: $(STAMP) ## lint, then run the tests (unit, integration, e2e, browser; not `heavy`)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests -m "not heavy" -n $(TEST_WORKERS) \
		--dist loadfile --no-loadscope-reorder --durations=25

.PHONY: test-heavy
test-heavy: $(STAMP) ## the heavy tests: kill -9 at every stage, the hostile input corpus (long)
	$(BIN)/python -m pytest tests -m heavy

.PHONY: test-unit
test-unit: $(STAMP) ## unit tests only (pure functions, no database)
	$(BIN)/python -m pytest tests/unit

.PHONY: lint
lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: format
format: $(STAMP) ## apply ruff formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: bench
bench: $(STAMP) ## run the benchmarks at 100k, 300k and 1M patients (long: about 40 minutes)
	$(BIN)/python -m benchmarks.run_all --out benchmarks/results.md

.PHONY: lock
lock: ## re-resolve the newest compatible versions into requirements.lock
	rm -rf /tmp/casefinder-lock && $(PYTHON) -m venv /tmp/casefinder-lock
	/tmp/casefinder-lock/bin/pip install --quiet -e '.[dev]'
	( echo '# Exact versions for a reproducible install (Python 3.11, Linux x86_64). Regenerate with `make lock`.'; \
	  /tmp/casefinder-lock/bin/pip freeze --all --exclude-editable | grep -v '^pip==' | sort -f ) > requirements.lock

.PHONY: clean
clean: ## remove generated data (data/) but keep .venv
	rm -rf $(DATA)

.PHONY: distclean
distclean: clean ## remove data/ and .venv
	rm -rf $(VENV)
