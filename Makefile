# Placement: `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_WORKERS ?= 2

.PHONY: install run serve worker migrate seed test test-fast lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/placement migrate

seed: migrate
	$(BIN)/placement seed-demo

# The web server and one Celery worker on the embedded default (SQLite database and
# SQLite-backed broker under instance/); Ctrl-C stops both.
run: seed
	@echo ""
	@echo "  Placement is starting at http://$(HOST):$(PORT)"
	@echo "  Demo logins (role  email  password):"
	@$(BIN)/python -c 'from placement.demo import DEMO_LOGINS; [print(f"    {r:<12} {e:<28} {p}") for r, e, p in DEMO_LOGINS]'
	@echo "  Press Ctrl-C to stop the server and the worker."
	@echo ""
	@trap 'kill 0' INT TERM EXIT; \
		$(BIN)/placement worker --loglevel=WARNING & \
		$(BIN)/placement serve --host $(HOST) --port $(PORT) & \
		wait

serve: migrate
	$(BIN)/placement serve --host $(HOST) --port $(PORT)

worker: migrate
	$(BIN)/placement worker

test: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

test-fast: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow and not browser"

lint: install
	$(BIN)/ruff check placement workers tests benchmarks
	$(BIN)/ruff format --check placement workers tests benchmarks
	$(BIN)/mypy placement workers

format: install
	$(BIN)/ruff check --fix placement workers tests benchmarks
	$(BIN)/ruff format placement workers tests benchmarks

bench: install
	$(BIN)/python -m benchmarks.bench_solver
	$(BIN)/python -m benchmarks.bench_runs --write
	$(BIN)/python -m benchmarks.bench_import --write

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache test-artifacts
