# Two commands do everything on a fresh machine with only python3:
#   make demo   set up .venv, then run sandbox + worker + web on SQLite under ./var/demo/
#   make test   set up .venv, then format check, lint, types and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready

# The contract suite also runs on PostgreSQL when one answers here (CI's machine runs one).
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: demo test check lint bench clean

$(READY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(READY)

demo: $(READY)
	$(BIN)/trackops-bridge demo

lint: $(READY)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	TEST_DATABASE_URL="$${TEST_DATABASE_URL:-$$($(BIN)/python tests/find_postgres.py $(PG_URL))}" \
		$(BIN)/python -m pytest

bench: $(READY)
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/feeds.py

clean:
	rm -rf $(VENV) var build *.egg-info
