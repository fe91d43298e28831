# Two commands for a newcomer: `make run` (Preflab on SQLite with a worker and demo projects at
# http://127.0.0.1:8000) and `make test` (lint, types, and the whole suite on SQLite and PostgreSQL).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-sqlite test-postgresql lint vendor bench-import bench-export clean

$(STAMP): pyproject.toml package.json package-lock.json
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0 first: on these machines that exact version is a local CPU build, and anything that
	# asks for torch afterwards is then satisfied without pulling CUDA wheels.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,train]'
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	node scripts/copy-vendor.mjs
	touch $(STAMP)

setup: $(STAMP)

vendor:
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && node scripts/copy-vendor.mjs

run: setup
	$(BIN)/preflab serve

lint: setup
	$(BIN)/ruff check app mlcore workers tests bench migrations
	$(BIN)/ruff format --check app mlcore workers tests bench migrations
	$(BIN)/mypy
	$(BIN)/lint-imports

# Both passes select by marker (declared in pyproject.toml, applied in tests/markers.py). `training` tests
# drive runs through a gpu-queue worker against PostgreSQL, as production does: the PostgreSQL pass runs
# them, as it runs `postgresql` tests (what only PostgreSQL has). `no_db` tests (the ML core: TRL on a tiny
# model) never touch the database: the SQLite pass runs them, the PostgreSQL pass does not repeat them.
test-sqlite: setup
	PREFLAB_TEST_DB=sqlite $(BIN)/python -m pytest -q -p no:cacheprovider -m "not training and not postgresql"

test-postgresql: setup
	PREFLAB_TEST_DB=postgresql $(BIN)/python -m pytest -q -p no:cacheprovider -m "not no_db"

test: lint test-sqlite test-postgresql

bench-import: setup
	$(BIN)/python bench/import.py

bench-export: setup
	$(BIN)/python bench/export.py

clean:
	rm -rf $(VENV) node_modules static/vendor var
