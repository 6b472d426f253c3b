# Tocsin: `make run` to try it, `make test` to check it. Both set up .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tocsin needs Python 3.11 or newer: set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: install
	@$(BIN)/tocsin migrate
	@$(BIN)/tocsin run

test: install lint typecheck
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check bot handlers config tests alembic bench
	$(BIN)/ruff format --check bot handlers config tests alembic bench

typecheck: install
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info

# Every benchmark, each in its own process; the figures go to bench/results.json (never in make test).
bench: install
	$(BIN)/python -m bench
