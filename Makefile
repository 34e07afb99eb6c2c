# GovID — `make run` serves a demo on http://127.0.0.1:8000 (console :8001), `make test` runs everything.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# `npm ci` writes node_modules/.package-lock.json; older than the lock = reinstall.
INTEROP_STAMP := tests/interop/node_modules/.package-lock.json
SPA_STAMP := tests/interop/spa/node_modules/.package-lock.json
export IDP_DATABASE_URL ?= sqlite:///var/idp.db

.PHONY: run serve test lint import-contracts typecheck fmt bench bench-instructions clean install install-test install-interop db argon2-avx2

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@$(MAKE) --no-print-directory argon2-avx2
	@touch $@

# argon2id is most of a sign-in's CPU (issue 5, S3). PyPI's argon2-cffi-bindings wheel is
# built for SSE2; on a CPU with AVX2 it is rebuilt here from the same release's source
# with AVX2 (the Argon2 authors' own AVX2 code path; ~10 ms instead of ~18 ms per hash
# here). The hasher times it against libsodium at start-up and uses the faster
# (idp/credentials/passwords.py), so a failed or skipped build only costs speed.
argon2-avx2: | $(BIN)/python
	@if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then \
		v=$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("argon2-cffi-bindings"))') && \
		echo "argon2: building argon2-cffi-bindings $$v with AVX2 for this CPU" && \
		CFLAGS="-O3 -mavx2" $(BIN)/pip install --quiet --no-cache-dir --force-reinstall \
			--no-deps --no-binary argon2-cffi-bindings "argon2-cffi-bindings==$$v" \
		|| echo "argon2: the AVX2 build failed; keeping PyPI's SSE2 wheel" >&2; \
	else echo "argon2: no AVX2 on this CPU; PyPI's SSE2 wheel stays"; fi

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

# The openid-client interop test (tests/interop) runs on Node.js >= 20. Without npm the
# test itself reports it: it fails under CI=true and skips elsewhere.
$(INTEROP_STAMP): tests/interop/package-lock.json tests/interop/package.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/interop --no-audit --no-fund && touch $@; \
	else echo "make: npm not found; tests/interop cannot be installed" >&2; fi

# The oidc-client-ts single-page app (tests/interop/spa, bundled by esbuild in the test).
$(SPA_STAMP): tests/interop/spa/package-lock.json tests/interop/spa/package.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/interop/spa --no-audit --no-fund && touch $@; \
	else echo "make: npm not found; tests/interop/spa cannot be installed" >&2; fi

BENCH_NODE_STAMP := bench/node-oidc-provider/node_modules/.package-lock.json
$(BENCH_NODE_STAMP): bench/node-oidc-provider/package-lock.json bench/node-oidc-provider/package.json
	npm ci --prefix bench/node-oidc-provider --no-audit --no-fund && touch $@

install: $(STAMP)
install-test: $(TEST_STAMP)
install-interop: $(INTEROP_STAMP) $(SPA_STAMP)

db: $(STAMP)
	@mkdir -p var
	$(BIN)/idp db upgrade
	$(BIN)/idp bootstrap

## run: install, migrate the embedded SQLite database, create demo data once, serve GovID on
# http://127.0.0.1:8000 and the admin console on http://127.0.0.1:8001 (Ctrl-C stops both);
# prints how to sign in as the demo operator, agency admin and auditor (admin_ui/devrun.py)
run: $(STAMP)
	@mkdir -p var
	$(BIN)/python -m admin_ui.devrun

## test: the whole suite (PostgreSQL, SQLite, Redis, slapd, Chromium as each part needs)
# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
test: $(TEST_STAMP) $(INTEROP_STAMP) $(SPA_STAMP)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; exit $$rc

## bench: S1-S3 against `idp serve` on PostgreSQL and S1/S2 against node-oidc-provider,
# server pinned to CPU 0, load on CPU 1 (needs wrk, node, PostgreSQL; see README).
# BENCH_ARGS="--duration 10 --only S1,S2" to change the run.
bench: $(STAMP) $(BENCH_NODE_STAMP)
	$(BIN)/python bench/oidc_bench.py $(BENCH_ARGS)

# Instructions per token / sign-in under valgrind: repeatable on a noisy VM (needs valgrind).
bench-instructions: $(STAMP)
	$(BIN)/python bench/instructions.py $(BENCH_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check idp admin_ui tests bench
	$(BIN)/ruff format --check idp admin_ui tests bench

# mypy with the pydantic plugin over idp/ (configuration in pyproject.toml).
typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# The layers and independence contracts of .importlinter (also a test in `make test`).
import-contracts: $(TEST_STAMP)
	$(BIN)/lint-imports

fmt: $(TEST_STAMP)
	$(BIN)/ruff format idp admin_ui tests bench
	$(BIN)/ruff check --fix idp admin_ui tests bench

clean:
	rm -rf $(VENV) var/idp.db* .pytest_cache
