# obi-scalp-bot — one entry point for every operator and developer task.
# `make help` lists the targets. Local targets run without Docker; Docker targets need an engine.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CSV_PATH ?= data/sample/order_book_updates_20250803-140150.csv
COMPOSE ?= docker compose

.DEFAULT_GOAL := help
.PHONY: help install test lint format simulate bench

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "} {printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

install: $(VENV)/.installed ## create .venv with the locked dependencies

test: install ## run lint and the whole test suite (real PostgreSQL, real sockets)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest -q

lint: install ## ruff lint and format check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install ## apply ruff formatting and safe fixes
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

simulate: install ## backtest on recorded data: make simulate [CSV_PATH=file] (writes reports/simulate.html)
	@mkdir -p reports
	$(PY) -m bot simulate --data "$(CSV_PATH)" --report reports/simulate.html

bench: install ## run the benchmarks; one JSON object per line
	$(PY) -m bench
