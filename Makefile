# Tocsin: `make run` to try it, `make test` to check it. Both set up .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The Element test client (tests/element_client.py): Node 22 and matrix-js-sdk from npm.
ELEMENT       := .element
ELEMENT_STAMP := $(ELEMENT)/.installed

.PHONY: install element run test lint typecheck bench clean

install: $(STAMP)

# Only the tests and benchmarks need the Element client (and npm): `make run` never does.
element: $(ELEMENT_STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tocsin needs Python 3.11 or newer: set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# tests/element/package.json pins matrix-js-sdk and the npm registry's `node` package (a Node 22
# binary, which the sdk needs); npm ci installs exactly the lock file into .element/.
$(ELEMENT_STAMP): tests/element/package.json tests/element/package-lock.json
	@command -v npm >/dev/null || { echo "The Element test harness needs npm (Node.js and npm)"; exit 1; }
	@mkdir -p $(ELEMENT)
	@cp tests/element/package.json tests/element/package-lock.json $(ELEMENT)/
	@npm ci --prefix $(ELEMENT) --no-audit --no-fund --loglevel=error
	@test -x $(ELEMENT)/node_modules/.bin/node || { echo "npm did not install Node 22 into $(ELEMENT)"; exit 1; }
	@touch $(ELEMENT_STAMP)

run: install
	@$(BIN)/tocsin migrate
	@$(BIN)/tocsin run

test: install element lint typecheck
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check bot handlers config tests alembic bench
	$(BIN)/ruff format --check bot handlers config tests alembic bench

typecheck: install
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(ELEMENT) .pytest_cache .mypy_cache .ruff_cache *.egg-info

# Every benchmark, each in its own process; the figures go to bench/results.json (never in make test).
bench: install element
	$(BIN)/python -m bench
