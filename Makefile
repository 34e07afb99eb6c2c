# GovID — `make run` serves a demo on http://127.0.0.1:8000, `make test` runs everything.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
export IDP_DATABASE_URL ?= sqlite:///var/idp.db

.PHONY: run serve test lint fmt bench clean install install-test db

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(STAMP)
install-test: $(TEST_STAMP)

db: $(STAMP)
	@mkdir -p var
	$(BIN)/idp db upgrade
	$(BIN)/idp bootstrap

## run: install, migrate the embedded SQLite database, create demo data once, serve
run: db
	$(BIN)/idp serve --with-worker

## test: the whole suite (PostgreSQL, SQLite, Redis, slapd, Chromium as each part needs)
# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
test: $(TEST_STAMP)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; exit $$rc

lint: $(TEST_STAMP)
	$(BIN)/ruff check idp admin_ui tests bench
	$(BIN)/ruff format --check idp admin_ui tests bench

fmt: $(TEST_STAMP)
	$(BIN)/ruff format idp admin_ui tests bench
	$(BIN)/ruff check --fix idp admin_ui tests bench

clean:
	rm -rf $(VENV) var/idp.db* .pytest_cache
