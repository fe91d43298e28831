# Two commands for a newcomer: `make run` (Preflab on SQLite with a worker and demo projects at
# http://127.0.0.1:8000) and `make test` (lint, types, and the whole suite on SQLite and PostgreSQL).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-sqlite test-postgresql lint vendor bench-import clean

$(STAMP): pyproject.toml package.json package-lock.json
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	node scripts/copy-vendor.mjs
	touch $(STAMP)

setup: $(STAMP)

vendor:
	npm ci --no-audit --no-fund --loglevel=error && node scripts/copy-vendor.mjs

run: setup
	$(BIN)/preflab serve

lint: setup
	$(BIN)/ruff check app workers tests bench migrations
	$(BIN)/ruff format --check app workers tests bench migrations
	$(BIN)/mypy

test-sqlite: setup
	PREFLAB_TEST_DB=sqlite $(BIN)/python -m pytest -q -p no:cacheprovider

test-postgresql: setup
	PREFLAB_TEST_DB=postgresql $(BIN)/python -m pytest -q -p no:cacheprovider

test: lint test-sqlite test-postgresql

bench-import: setup
	$(BIN)/python bench/import.py

clean:
	rm -rf $(VENV) node_modules static/vendor var
