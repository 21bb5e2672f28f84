# ecampus: `make run` to try it, `make test` to check it, `make help` for the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
# make test: pytest-xdist processes (tests/conftest.py groups the tests that must share one)
PYTEST_WORKERS ?= 2
SECRET_FILE ?= .secret_key

# Development defaults; anything already set in the environment wins.
export ECAMPUS_ENV ?= development
export ECAMPUS_DATABASE_URL ?= sqlite:///./ecampus.db
export ECAMPUS_COURSES_DIR ?= $(CURDIR)/courses
export ECAMPUS_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: help
help: ## list every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

.PHONY: install
install: $(STAMP) ## create .venv and install ecampus with its development tools

$(SECRET_FILE):
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))' > $(SECRET_FILE)
	@echo "generated a development secret key in $(SECRET_FILE) (git-ignored)"

.PHONY: migrate
migrate: install ## apply database migrations (ecampus db upgrade)
	$(BIN)/ecampus db upgrade

.PHONY: demo
demo: migrate ## create the demo accounts and print their logins
	$(BIN)/ecampus demo

.PHONY: keys
keys: migrate $(SECRET_FILE) ## create a credential signing key when there is none (ecampus keys generate)
	ECAMPUS_SECRET_KEY="$$(cat $(SECRET_FILE))" $(BIN)/ecampus keys generate

.PHONY: validate
validate: install ## check the bundled courses (ecampus validate)
	$(BIN)/ecampus validate courses

.PHONY: run
run: install $(SECRET_FILE) validate demo keys ## set up everything and serve on http://127.0.0.1:8000
	@echo "serving on http://$(HOST):$(PORT)  (Ctrl+C to stop)"
	ECAMPUS_SECRET_KEY="$$(cat $(SECRET_FILE))" $(BIN)/ecampus serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

.PHONY: test
test: install ## run the whole test suite on PYTEST_WORKERS processes (browser and PostgreSQL tests skip with a reason when unavailable)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: install ## unit and web tests only
	$(BIN)/pytest tests/unit tests/web $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff check and format check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

.PHONY: format
format: install ## format the code
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

.PHONY: typecheck
typecheck: install ## mypy on src/
	$(BIN)/mypy

.PHONY: schema
schema: install ## refresh courses/course.schema.json and issuer.schema.json (editors read them through each file's modeline)
	$(BIN)/ecampus schema > courses/course.schema.json
	$(BIN)/ecampus schema --issuer > courses/issuer.schema.json

.PHONY: messages
messages: install ## extract interface strings and update the translation catalogues (their headers, with Plural-Forms, stay)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -k lazy_ngettext:1,2 -o src/ecampus/locale/messages.pot --no-location --omit-header --sort-output src templates
	$(BIN)/pybabel update -i src/ecampus/locale/messages.pot -d src/ecampus/locale --no-fuzzy-matching --ignore-pot-creation-date

.PHONY: bench
bench: install ## benchmark against the framework's ceiling, SQLite and PostgreSQL, 1 and 2 workers (needs wrk; BENCH_ARGS=--quick)
	@command -v wrk >/dev/null || { echo "make bench needs wrk, which is not installed: sudo apt-get install wrk" >&2; exit 1; }
	$(BIN)/python bench/suite.py $(BENCH_ARGS)

.PHONY: bench-exports
bench-exports: install ## the dashboard and report exports at 100,000 enrolments (ecampus demo --learners 20000) against a running server, with its memory (BENCH_EXPORTS_ARGS=--databases sqlite)
	$(BIN)/python bench/exports.py $(BENCH_EXPORTS_ARGS)

.PHONY: bench-startup
bench-startup: install ## start to first answer and a worker's memory with 25 courses of 40 items, SQLite and PostgreSQL (BENCH_STARTUP_ARGS=--repeat 5)
	$(BIN)/python bench/startup.py $(BENCH_STARTUP_ARGS)

.PHONY: soak
soak: install ## 200 simulated learners (locust) for 5 minutes, kill -9 mid-run; nothing acknowledged may be lost (SOAK_ARGS=--no-kill ...)
	$(BIN)/python bench/soak.py --learners 200 --seconds 300 --kill $(SOAK_ARGS)

.PHONY: clean
clean: ## remove the virtualenv, caches and the development database
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache ecampus.db ecampus.db-wal ecampus.db-shm
