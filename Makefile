# `make demo` and `make test` do all set-up themselves on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint typecheck layers format venv dbt-env chromium bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# dbt with dbt-duckdb for tests/test_dbt_package.py, in its own environment: the `dbt`
# extra of pyproject.toml cannot share `dev`'s (pathspec: dbt-core <0.13, mypy >=1.0).
DBT_VENV := .venv-dbt
DBT_STAMP := $(DBT_VENV)/.installed
# The same duckdb as .venv: the test reads with one what the other wrote.
$(DBT_STAMP): pyproject.toml $(STAMP)
	test -x $(DBT_VENV)/bin/python || $(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DBT_VENV)/bin/python -m pip install --quiet \
	  $$($(BIN)/python -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["dbt"]))') \
	  "duckdb==$$($(BIN)/python -c 'import duckdb; print(duckdb.__version__)')"
	touch $(DBT_STAMP)

dbt-env: $(DBT_STAMP)

# Playwright's own browser download does not work here: tests drive Debian's chromium.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "installing Debian's chromium (for the browser tests)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The layers of pyproject.toml's [tool.importlinter]: imports only go down the data flow.
layers: $(STAMP)
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Both cores (three workers measured no faster: 17:05 against 17:03, the suite is CPU
# bound); a module's tests stay on one worker (they share module-scoped servers), and
# the files with the most `slow` tests are handed out first (cxops.testing.plugin) so no
# worker idles at the end. The 30 slowest tests are listed at the end, by wall time and
# by CPU time (children included: what a test costs, however busy the machine is); the
# suite must stay under 15 minutes.
PYTEST_ARGS ?= -n 2 --dist loadfile --durations=30 --cpu-durations=30

test: $(STAMP) $(DBT_STAMP) chromium lint typecheck layers
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/validate_startup.py
	$(BIN)/python benchmarks/wave.py

clean:
	rm -rf $(VENV) $(DBT_VENV) .pytest_cache .ruff_cache cxops.db* outbox preview demo-out
