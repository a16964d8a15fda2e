# obi-scalp-bot — one entry point for every operator and developer task. `make help` lists them.
#
# Local targets (demo, simulate, test, bench, report, export-sim-data, optimize, backup, restore)
# run without Docker: the database is DATABASE_URL when set, otherwise the project's embedded
# PostgreSQL under var/pg. Docker targets (build, up, down, logs, ps, monitor) need an engine.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CSV_PATH ?= data/sample/order_book_updates_20250803-140150.csv
HOURS_BEFORE ?=
START_TIME ?=
END_TIME ?=
EXPORT_OUT ?= data/export/sim_data.jsonl.gz
NAME ?=
TO ?=
s ?=

# Docker Compose v2 plugin, or the standalone docker-compose.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
NEED_DOCKER = @docker info >/dev/null 2>&1 || { \
	echo "error: no Docker engine is reachable (docker info failed): '$@' runs the Compose stack."; \
	echo "       Start Docker (or use a machine with it); without Docker, 'make demo' runs the whole system locally."; \
	exit 1; }
# Run inside the Compose stack when its service is up, else locally.
STACK_UP = docker info >/dev/null 2>&1 && [ -n "$$($(COMPOSE) ps -q $(1) 2>/dev/null)" ]

.DEFAULT_GOAL := help
.PHONY: help install test lint format simulate bench demo report export-sim-data optimize \
	rollback-params db-migrate clear-halt backup restore build up down logs ps monitor

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "} {printf "  %-17s %s\n", $$1, $$2}'

# --------------------------------------------------------------------------- set-up
$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

install: $(VENV)/.installed ## create .venv with the locked dependencies

# --------------------------------------------------------------------------- local
demo: install ## the whole system locally: simulator, paper bot, drift monitor, optimizer (Ctrl-C stops, writes reports/demo.html)
	$(PY) -m bot demo $(DEMO_ARGS)

simulate: install ## backtest recorded data: make simulate [CSV_PATH=file] (writes reports/simulate.html)
	@mkdir -p reports
	$(PY) -m bot simulate --data "$(CSV_PATH)" --report reports/simulate.html

test: install ## lint and the whole test suite (real PostgreSQL, real sockets)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest -q

lint: install ## ruff lint and format check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install ## apply ruff formatting and safe fixes
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

bench: install ## run the benchmarks; one JSON object per line
	$(PY) -m bench

db-migrate: install ## apply database migrations (local database)
	$(PY) -m bot db migrate

report: install ## print the performance summary (in the stack when it runs, else local)
	@if $(call STACK_UP,bot); then $(COMPOSE) exec -T bot python -m bot report; \
	else $(PY) -m bot report; fi

export-sim-data: install ## stored market data to a file for simulate/optimizer: HOURS_BEFORE=24 | START_TIME=.. END_TIME=..
	@if [ -n "$(HOURS_BEFORE)" ]; then \
		$(PY) -m bot export-sim-data --hours-before "$(HOURS_BEFORE)" --out "$(EXPORT_OUT)"; \
	elif [ -n "$(START_TIME)" ] && [ -n "$(END_TIME)" ]; then \
		$(PY) -m bot export-sim-data --start-time "$(START_TIME)" --end-time "$(END_TIME)" --out "$(EXPORT_OUT)"; \
	else echo "error: give HOURS_BEFORE=N or START_TIME=... END_TIME=... (ISO 8601, UTC if no offset)"; exit 2; fi
	@echo "simulate it with: make simulate CSV_PATH=$(EXPORT_OUT)"

optimize: install ## ask for an optimization run now (a job row; the optimizer service picks it up)
	@if $(call STACK_UP,optimizer); then $(COMPOSE) exec -T optimizer python -m optimizer enqueue; \
	else $(PY) -m optimizer enqueue && echo "(no stack running: 'make demo' or 'python -m optimizer serve' runs it)"; fi

rollback-params: install ## make a previous parameter version live again: make rollback-params [TO=VERSION]
	@if $(call STACK_UP,optimizer); then $(COMPOSE) exec -T optimizer python -m optimizer rollback $(if $(TO),--to $(TO)); \
	else $(PY) -m optimizer rollback $(if $(TO),--to $(TO)); fi

clear-halt: install ## let a bot halted by the drawdown limit trade again (restarts the bot in the stack)
	@if $(call STACK_UP,bot); then $(COMPOSE) exec -T bot python -m bot clear-halt && $(COMPOSE) restart bot; \
	else $(PY) -m bot clear-halt; fi

backup: install ## database dump, params and .env into backups/<date>/ (stack or local)
	PYTHON=$(PY) scripts/backup.sh $(if $(NAME),--name $(NAME))

restore: install ## restore a backup: make restore NAME=<backups/ entry> (lists them without NAME)
	PYTHON=$(PY) scripts/restore.sh $(NAME)

# --------------------------------------------------------------------------- Docker Compose
build: ## build the image (Docker)
	$(NEED_DOCKER)
	$(COMPOSE) build

up: ## start the whole stack in the background (Docker; needs .env)
	$(NEED_DOCKER)
	@test -f .env || { echo "error: .env is missing: cp .env.sample .env and fill it in"; exit 1; }
	$(COMPOSE) up -d

down: ## stop everything; the bot cancels its open orders first (Docker)
	$(NEED_DOCKER)
	$(COMPOSE) stop -t 30 bot
	$(COMPOSE) down

logs: ## follow logs: make logs [s=SERVICE] (Docker)
	$(NEED_DOCKER)
	$(COMPOSE) logs -f --tail=200 $(s)

ps: ## service states, ports and health (Docker)
	$(NEED_DOCKER)
	$(COMPOSE) ps -a

monitor: ## start only the database and Grafana, for analysis (Docker)
	$(NEED_DOCKER)
	$(COMPOSE) up -d timescaledb grafana
	@echo "Grafana: http://127.0.0.1:$${GRAFANA_PORT:-3000}"
