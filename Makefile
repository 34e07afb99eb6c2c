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

.PHONY: run serve test lint import-contracts typecheck fmt bench bench-scale-out bench-smoke bench-tools bench-instructions clean install install-test install-interop db argon2-avx2

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

# node-oidc-provider 9 and @node-rs/argon2 (bench/node-oidc-provider), the baseline of
# `make bench`; tests/bench installs them itself when `make test` could not.
BENCH_NODE_STAMP := bench/node-oidc-provider/node_modules/.package-lock.json
$(BENCH_NODE_STAMP): bench/node-oidc-provider/package-lock.json bench/node-oidc-provider/package.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix bench/node-oidc-provider --no-audit --no-fund && touch $@; \
	else echo "make: npm not found; bench/node-oidc-provider cannot be installed" >&2; fi

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
test: $(TEST_STAMP) $(INTEROP_STAMP) $(SPA_STAMP) $(BENCH_NODE_STAMP)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; exit $$rc

## bench: the issue-22 table, S1-S6: S1-S5 against `idp serve` (one worker, PostgreSQL)
# and node-oidc-provider 9 (one process, in memory, argon2id sign-in), server on CPU 0 and
# load on CPU 1, median of 3 runs in alternating order; then S6, a 10-minute mixed soak
# (GovID only). About 30 minutes. BENCH_ARGS="--runs 1 --duration 5 --s6-duration 60" for
# a shorter run, "--only S4,S5" for part of it; `make bench-smoke` checks the tooling.
bench: $(STAMP) bench-tools
	$(BIN)/python bench/oidc_bench.py $(BENCH_ARGS)

## bench-scale-out: S2 (ES256) and S4 per core with 1, 2 and 4 `idp serve` workers on
# PostgreSQL and Redis, "met" when 2 and 4 stay within 15 % of 1; then the audit chain's
# ceiling with group commit (audited transactions per second, 1, 2 and 4 processes).
# BENCH_ARGS go to oidc_bench.py, AUDIT_ARGS to audit_ceiling.py. About 10 minutes.
bench-scale-out: $(STAMP) bench-tools
	$(BIN)/python bench/oidc_bench.py --scale-out 1,2,4 $(BENCH_ARGS); rc=$$?; \
	$(BIN)/python bench/audit_ceiling.py --processes 1,2,4 $(AUDIT_ARGS) || rc=1; exit $$rc

# Every scenario for ~1 s, no errors, every row of the table (tests/bench, also in `make test`).
bench-smoke: $(TEST_STAMP) bench-tools
	$(BIN)/python -m pytest tests/bench -q

# wrk (Debian's package: apt-get as root, otherwise says what to install) and the
# node-oidc-provider baseline's npm packages.
bench-tools: $(BENCH_NODE_STAMP)
	@command -v node >/dev/null 2>&1 || { echo "make bench: node (Node.js >= 20.19) not found" >&2; exit 1; }
	@test -f $(BENCH_NODE_STAMP) || { echo "make bench: bench/node-oidc-provider not installed (npm ci)" >&2; exit 1; }
	@if ! command -v wrk >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "make bench: installing wrk (apt-get install -y wrk)"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk \
			|| { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk; }; \
		fi; \
		command -v wrk >/dev/null 2>&1 || { echo "make bench: wrk not found; install it (Debian: apt-get install -y wrk)" >&2; exit 1; }; \
	fi
	@echo "bench tools: $$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), node $$(node -v), node-oidc-provider $$(node -p "require('./bench/node-oidc-provider/node_modules/oidc-provider/package.json').version")"

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
