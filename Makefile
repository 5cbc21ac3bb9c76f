# Two commands do everything on a fresh machine with only python3:
#   make demo   set up .venv, then run sandbox + worker + web on SQLite under ./var/demo/ (PORT=8000)
#   make test   set up .venv, then format check, lint, types and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
# The real calendar clients the feed conformance tests use (tests/test_feed_clients.py), apart
# from the app's venv so their pins and the app's never constrain each other; ICAL.js from npm
# into tests/clients/node_modules when node is on the machine (else its checks are skipped).
CLIENTS_VENV := .venv-clients
CLIENTS_READY := $(CLIENTS_VENV)/.ready
NODE_CLIENTS := tests/clients/node_modules/.package-lock.json

# The contract suite also runs on PostgreSQL when one answers here (CI's machine runs one).
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: demo test check lint clients browser bench clean

$(READY): pyproject.toml trackops_sandbox/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./trackops_sandbox -e '.[dev,demo]'
	touch $(READY)

$(CLIENTS_READY): tests/clients/requirements.txt
	$(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CLIENTS_VENV)/bin/python -m pip install --quiet -r tests/clients/requirements.txt
	touch $(CLIENTS_READY)

$(NODE_CLIENTS): tests/clients/package.json tests/clients/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm not found: the ICAL.js checks of tests/test_feed_clients.py will be skipped"; \
	fi

clients: $(CLIENTS_READY) $(NODE_CLIENTS)

# The browser tests (tests/test_browser.py) drive Debian's Chromium through Playwright, never a
# browser build Playwright would download; apt-get installs it when missing (CI runs as root).
CHROMIUM := /usr/bin/chromium

browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
		else echo "$(CHROMIUM) is missing and this user cannot install it: run, as root," \
			"'apt-get install -y chromium' (until then tests/test_browser.py skips, or fails when CI is set)"; exit 0; fi; \
		echo "Installing Debian's chromium for the browser tests (apt-get)..."; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || \
		{ echo "apt-get could not install chromium: tests/test_browser.py skips (fails when CI is set)"; }; \
	fi

# The demo's web port: `make demo PORT=8010` when 8000 is taken.
PORT ?= 8000

demo: $(READY)
	@$(BIN)/trackops-bridge demo --port $(PORT)

lint: $(READY)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# The suite on every core (pytest-xdist), each test file on one worker (--dist loadfile), so a
# module's servers and client runs start once; `make test TEST_WORKERS=0` runs it in one process.
# Not in pytest's addopts: a single file runs faster without workers, and -s shows its prints.
TEST_WORKERS ?= auto

test: lint clients browser
	TEST_DATABASE_URL="$${TEST_DATABASE_URL:-$$($(BIN)/python tests/find_postgres.py $(PG_URL))}" \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Not part of `make test`: it takes several minutes, installs wrk (apt-get) and bench/node's
# ical-generator (npm) when missing, and writes BENCHMARKS.md (BENCH_ARGS=--quick: a short run).
bench: $(READY)
	$(BIN)/python bench/report.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(CLIENTS_VENV) tests/clients/node_modules var build *.egg-info
