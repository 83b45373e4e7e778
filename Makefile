# Cascade Live. `make run` installs what is missing and starts the box on http://127.0.0.1:8080
# (RTMP on :1935); `make test` installs the same plus test tools and runs the whole suite.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := run

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
FLASK := $(BIN)/flask --app app
# prometheus: Debian's Prometheus and promtool, to scrape /metrics (docs/metrics/) and for its tests.
APT_RUN := ffmpeg nginx libnginx-mod-rtmp redis-server prometheus
# Browser tests drive Debian's chromium (with an emoji font for chat screenshots); integration
# tests need nginx-rtmp, ffmpeg, Redis.
APT_TEST := $(APT_RUN) fonts-noto-color-emoji $(if $(wildcard /usr/bin/chromium),,chromium)
TEST_DATABASE_URL ?= postgresql://cascade:cascade@127.0.0.1:5432/postgres
PYTEST_ARGS ?=
# Four parts, each after the other. 1: the quick tests (`make test-fast`'s and the outage ones) in FAST_WORKERS
# processes: they wait on sockets and timers as much as they compute, so four on two cores finish
# sooner (107 s against 143 s with two, 2026-12-07). 2: the browser and real-ffmpeg tests that
# start no stack, in TEST_WORKERS (pytest-xdist; each module stays on one). 3: the stack tests
# (e2e: nginx, gunicorn, workers and ffmpeg in real time) in STACK_WORKERS processes, the longest
# modules first. 4: the faults tests and those marked `alone`, in one process: beside another
# test process their fault timings and time limits failed now and then on two cores (a killed
# live host's publisher was dropped; a recording lost 6.7 s; a player stalled 2.9 s).
# `TEST_WORKERS=0` / `STACK_WORKERS=0` / `FAST_WORKERS=0`: one process for that part.
TEST_WORKERS ?= 2
STACK_WORKERS ?= 2
FAST_WORKERS ?= 4
STACKS := e2e or faults
ALONE := faults or alone
QUICK := not e2e and not browser and not faults and not media
# The inner loop leaves out the quick suite's outage simulations too (they wait out real timeouts).
FAST := $(QUICK) and not outage
# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE, set on
# some CI boxes): without it every test process, and every gunicorn, worker and `flask` command a
# stack test starts, compiles the app and re-rewrites the test modules' asserts again (about 10 s
# of collection per process, 0.25 s more per `flask` command).
PYTEST = PYTHONDONTWRITEBYTECODE= TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/python -m pytest
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup)
FAST_XDIST = $(if $(filter 0,$(FAST_WORKERS)),,-n $(FAST_WORKERS) --dist loadgroup)
STACK_XDIST = $(if $(filter 0,$(STACK_WORKERS)),,-n $(STACK_WORKERS) --dist loadgroup --no-loadscope-reorder)

.PHONY: run test test-fast install install-dev migrate nginx-conf storage constraints clean lint lint-fix

## install: system packages and .venv with requirements.txt (reinstalled when it changes)
install:
	@scripts/install-system.sh --python $(APT_RUN)
	@$(MAKE) -s --no-print-directory $(VENV)/.requirements.stamp

install-dev:
	@scripts/install-system.sh --python $(APT_TEST)
	@$(MAKE) -s --no-print-directory $(VENV)/.requirements.stamp $(VENV)/.requirements-dev.stamp

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.requirements.stamp: requirements.txt constraints.txt | $(BIN)/python
	$(PIP) install -q -r requirements.txt -c constraints.txt
	@touch $@

$(VENV)/.requirements-dev.stamp: requirements-dev.txt requirements.txt constraints.txt | $(BIN)/python
	$(PIP) install -q -r requirements-dev.txt -c constraints.txt
	@touch $@

## migrate: bring the database (DATABASE_URL, default instance/cascade.db) up to date
migrate: install
	@scripts/ensure-env.sh
	$(FLASK) db upgrade

## nginx-conf: render var/nginx/nginx.conf (mode 0600, it holds the hook secret)
nginx-conf: install
	@scripts/ensure-env.sh
	@$(FLASK) nginx render

## storage: make the local objects directory, or the S3 bucket with its public-read policy
storage: install
	@scripts/ensure-env.sh
	@$(FLASK) storage init

## run: install, migrate, render nginx, set up storage, then start web, worker, ingest (and Redis)
run: migrate nginx-conf storage
	@exec scripts/start.sh

## test: the same install plus test tools, PostgreSQL and Redis, then the whole suite
test: install-dev
	@scripts/ensure-postgres.sh
	@scripts/ensure-redis.sh
ifeq ($(strip $(PYTEST_ARGS)),)
	@# Every part runs even if one before it failed; no test selected (pytest's 5) is no failure.
	@status=0; \
	$(PYTEST) $(FAST_XDIST) --durations=30 \
		-m "$(QUICK)" || { code=$$?; [ $$code -eq 5 ] || status=$$code; }; \
	$(PYTEST) $(XDIST) --durations=30 \
		-m "not ($(STACKS)) and (browser or media)" || { code=$$?; [ $$code -eq 5 ] || status=$$code; }; \
	$(PYTEST) $(STACK_XDIST) --durations=30 \
		-m "($(STACKS)) and not ($(ALONE))" || { code=$$?; [ $$code -eq 5 ] || status=$$code; }; \
	$(PYTEST) --durations=30 \
		-m "$(ALONE)" || { code=$$?; [ $$code -eq 5 ] || status=$$code; }; \
	exit $$status
else
	$(PYTEST) $(XDIST) --durations=30 $(PYTEST_ARGS)
endif

## test-fast: the quick suite while you work (no end-to-end, browser, faults, outage or real-ffmpeg tests)
test-fast: install-dev
	@scripts/ensure-postgres.sh
	@scripts/ensure-redis.sh
	$(PYTEST) $(FAST_XDIST) --durations=10 -m "$(FAST)" $(PYTEST_ARGS)

## lint: ruff (lint and import order) and mypy (strict for app/media, app/storage and the live runtime), as CI
## runs them; and no `# noqa` without its rule and a reason (`# noqa: BLE001 - why`)
lint:
	@scripts/install-system.sh --python
	@$(MAKE) -s --no-print-directory $(VENV)/.requirements.stamp $(VENV)/.requirements-dev.stamp
	$(BIN)/ruff check .
	$(BIN)/mypy
	@if grep -rnP --include='*.py' --exclude-dir=$(VENV) --exclude-dir=var --exclude-dir=instance \
	        '#\s*noqa(?!: [A-Z]+[0-9]+(,[A-Z]+[0-9]+)* - \S)' .; then \
	    echo "lint: give each # noqa above its rule and a reason: # noqa: BLE001 - why" >&2; exit 1; fi

## lint-fix: let ruff fix what it safely can (import order, modern spellings), then lint
lint-fix:
	@$(MAKE) -s --no-print-directory $(VENV)/.requirements.stamp $(VENV)/.requirements-dev.stamp
	$(BIN)/ruff check --fix .
	@$(MAKE) --no-print-directory lint

## constraints: re-pin every installed package (transitive ones too) after changing requirements
constraints:
	$(PIP) freeze --exclude-editable | grep -Ev '^(pip|setuptools|wheel)==' > constraints.txt

## clean: generated runtime files and caches (keeps .venv, .env, the database and var/media)
clean:
	rm -rf var/nginx var/redis var/log var/supervisord.conf .pytest_cache tests/artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
