# Leadflow: `make run` for a local server with demo data, `make test` for the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
MANAGE := $(BIN)/python manage.py
SEED_ARGS ?=
# The port `make run` serves on (make run PORT=8123).
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install run test run-stack lint fmt migrate seed audit screenshots

help: ## Show this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned requirements

migrate: install ## Apply database migrations
	$(MANAGE) migrate --noinput

seed: migrate ## Load demo data (SEED_ARGS="--leads 100000 --reset" for more)
	$(MANAGE) seed_demo $(SEED_ARGS)

# Development mode for `make run` (DEBUG is off unless set): the debug page on
# errors and static files from the source tree. Links in e-mails and the login
# address seed_demo prints point at the port served.
run: export DEBUG ?= true
run: export SITE_URL ?= http://127.0.0.1:$(PORT)
run: migrate ## Set up, load demo data if the database is empty, serve on 127.0.0.1:PORT (default 8000)
	$(MANAGE) seed_demo --if-empty
	$(MANAGE) runserver 127.0.0.1:$(PORT)

test: install ## Set up and run the whole test suite
	$(BIN)/pytest

run-stack: migrate ## Web, Celery worker and beat from the Procfile (PostgreSQL/Redis from the environment)
	$(MANAGE) collectstatic --noinput --verbosity 0
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho start --port 8000 -f Procfile

screenshots: install ## Full-page PNGs of every page of every demo role into var/screenshots/
	$(BIN)/python -m tests.screenshots

lint: install ## Check style, formatting and missing migrations
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MANAGE) makemigrations --check --dry-run

fmt: install ## Format the code and fix what ruff can
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

audit: install ## Security scans: bandit (medium and up fails) and pip-audit (says "not run" when offline)
	$(BIN)/bandit -q -r crm leads scoring handoff -x '*/migrations/*' -ll
	rm -f $(VENV)/pip-audit.json
	$(BIN)/pip-audit -r requirements.txt --progress-spinner off -f json -o $(VENV)/pip-audit.json \
		|| test -s $(VENV)/pip-audit.json
	$(BIN)/python .ci/pip_audit_report.py $(VENV)/pip-audit.json
