# Placement: `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Two installs: what serving needs (`pip install -e .`) and, for tests and tools, the dev
# extras on top. Installing the dev extras also counts as the serving install.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
INSTANCE_DIR ?= $(or $(PLACEMENT_INSTANCE_DIR),instance)
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_WORKERS ?= 2

.PHONY: install install-dev run serve worker migrate seed reset-demo test test-fast lint \
	format bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(DEV_STAMP) $(RUN_STAMP)

install: $(RUN_STAMP)

install-dev: $(DEV_STAMP)

migrate: install
	$(BIN)/placement migrate

seed: migrate
	$(BIN)/placement seed-demo

# The web server and one Celery worker on the embedded default (SQLite database and
# SQLite-backed broker under instance/); Ctrl-C stops both (scripts/run-demo.sh).
run: seed
	@BIN=$(BIN) HOST=$(HOST) PORT=$(PORT) scripts/run-demo.sh

# A fresh demo database: the embedded default's SQLite files (database, broker, results)
# are deleted, then migrated and seeded again. `.venv` stays.
reset-demo: install
	@if [ -n "$$DATABASE_URL" ] && [[ "$$DATABASE_URL" != sqlite* ]]; then \
		echo "reset-demo only resets the embedded SQLite default; DATABASE_URL is set."; \
		exit 1; fi
	rm -f $(INSTANCE_DIR)/*.sqlite $(INSTANCE_DIR)/*.sqlite-* $(INSTANCE_DIR)/celerybeat-schedule*
	rm -rf $(INSTANCE_DIR)/mail
	$(BIN)/placement migrate
	$(BIN)/placement seed-demo

serve: migrate
	$(BIN)/placement serve --host $(HOST) --port $(PORT)

worker: migrate
	$(BIN)/placement worker

test: install-dev
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

test-fast: install-dev
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow and not browser"

lint: install-dev
	$(BIN)/ruff check placement workers tests benchmarks
	$(BIN)/ruff format --check placement workers tests benchmarks
	$(BIN)/mypy placement workers
	$(BIN)/lint-imports --no-cache

format: install-dev
	$(BIN)/ruff check --fix placement workers tests benchmarks
	$(BIN)/ruff format placement workers tests benchmarks

bench: install-dev
	$(BIN)/python -m benchmarks.bench_solver
	$(BIN)/python -m benchmarks.bench_file_path --write
	$(BIN)/python -m benchmarks.bench_runs --write
	$(BIN)/python -m benchmarks.bench_bulk 145000 --repeat 2 --write
	$(BIN)/python -m benchmarks.bench_import --write
	$(BIN)/python -m benchmarks.bench_api --write

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache test-artifacts
