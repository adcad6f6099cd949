# bugzilla-push — the standard commands. `make run`, `make ui` and `make test` are the ones a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Airflow runs from this directory: airflow.cfg here, dags/ and plugins/ here, state in var/.
export AIRFLOW_HOME := $(CURDIR)
export PATH := $(BIN):$(PATH)
# The embedded default when no database is configured: SQLite under var/, the file connector.
export AIRFLOW_CONN_BUGZILLA_DB ?= sqlite:///$(CURDIR)/var/bugzilla.db
export AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS ?= file

.PHONY: help install run ui test test-unit test-integration lint bench up wait env constraints clean

help:
	@echo "make run          set up and run the delivery DAG once on the embedded default (SQLite + file)"
	@echo "make ui           Airflow's web UI on the embedded default, with sample messages (SAMPLES=0: none); Ctrl-C stops"
	@echo "make test         set up, start or check the services, and run every test"
	@echo "make install      build .venv/ with Airflow, the providers and this project"
	@echo "make test-unit    tests without services;  make test-integration  the ones with services"
	@echo "make bench        the store benchmark (100,000 rows) on PostgreSQL and SQLite"
	@echo "make lint         ruff;  make up / make wait  start / wait for the local services (and chromium)"
	@echo "make env          write .env with fresh secrets for docker compose"

install: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	@touch $@

run: install
	@mkdir -p var
	airflow db migrate > var/airflow-db-migrate.log 2>&1 || (cat var/airflow-db-migrate.log; exit 1)
	bugzilla-push schema
	bugzilla-push samples | bugzilla-push enqueue
	airflow dags test bugzilla_push > var/last-run.log 2>&1 || (tail -50 var/last-run.log; exit 1)
	@grep -E "bugzilla_push\.(engine|airflow\.tasks)" var/last-run.log | sed -E 's/^[^ ]+ \[[a-z ]+\] //; s/ \[bugzilla_push.*$$//'
	@echo
	bugzilla-push status
	@echo; echo "The file connector's output (var/bugzilla_push/file.jsonl), last 3 lines, cut to 160 columns:"
	@tail -n 3 var/bugzilla_push/file.jsonl | cut -c1-160

# Scheduler, dag-processor, triggerer and API server on the same set-up as `make run`, until Ctrl-C
# (scripts/ui.py prints the URL, user and password). PORT=8080 by default.
SAMPLES ?= 1
ui: install
	@$(BIN)/python -m scripts.ui $(if $(filter 0 no false,$(SAMPLES)),--no-samples) $(if $(PORT),--port $(PORT))

PYTEST_WORKERS ?= 2

test: install up
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

test-unit: install
	$(BIN)/pytest tests/unit tests/dags

test-integration: install up
	$(BIN)/pytest -m integration -n $(PYTEST_WORKERS) --dist loadgroup

lint: install
	$(BIN)/ruff check dags include plugins tests bench scripts
	$(BIN)/ruff format --check dags include plugins tests bench scripts

bench: install up
	$(BIN)/python bench/bench_store.py

# The browser for the push console's browser test is installed here too; without it that one test
# fails (saying so) and the others still run.
up:
	@scripts/services start
	-@scripts/browser install

wait:
	@scripts/services check
	-@scripts/browser check

env: .env

.env:
	@umask 077 && { \
	  key() { $(PYTHON) -c 'import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'; }; \
	  echo "AIRFLOW_FERNET_KEY=$$(key)"; echo "AIRFLOW_JWT_SECRET=$$(key)"; echo "AIRFLOW_ADMIN_PASSWORD=$$(key)"; \
	  echo "AIRFLOW_DB_PASSWORD=$$(key)"; echo "BUGZILLA_DB_PASSWORD=$$(key)"; echo "PULSE_PASSWORD=$$(key)"; \
	  echo "BUGZILLA_PUSH_CONNECTORS=pulse,elasticsearch,file"; echo "AIRFLOW_UID=$$(id -u)"; } > .env
	@echo "wrote .env with fresh secrets (docker compose reads it; git ignores it)"

constraints:
	rm -rf /tmp/bugzilla-push-constraints && $(PYTHON) -m venv /tmp/bugzilla-push-constraints
	/tmp/bugzilla-push-constraints/bin/pip install --quiet -r requirements.txt
	/tmp/bugzilla-push-constraints/bin/pip check
	/tmp/bugzilla-push-constraints/bin/pip freeze --exclude-editable | grep -v '^bugzilla-push' > constraints.txt

clean:
	rm -rf var .pytest_cache .ruff_cache
