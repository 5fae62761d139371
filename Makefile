# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Debian's Chromium drives the browser tests (Playwright never downloads a browser here)
CHROMIUM ?= /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup run test lint typecheck unit inputs docs clean app bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@# byte-compile once: where PYTHONDONTWRITEBYTECODE is set, pip writes no .pyc and every
	@# process (CLI tests, pool and Dask workers) would recompile pandas, scipy and Pyomo
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null
	touch $(STAMP)

setup: $(STAMP)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

## Solve the default workbook (baseline and every scenario); reports go to reports/.
run: $(STAMP)
	$(BIN)/sourcing solve inputs/default.xlsx --all-scenarios --out reports

## Lint, format check, import-layer contracts, type check, then the whole test suite.
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy optimizer

unit: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m compileall -q optimizer > /dev/null
	$(BIN)/python -m pytest

## Rebuild inputs/default.xlsx from the reviewable CSVs in inputs/default/.
inputs: $(STAMP)
	$(BIN)/python scripts/build_default_inputs.py

## Regenerate docs/workbook.md from the schema.
docs: $(STAMP)
	$(BIN)/python -m optimizer.contract.docs > docs/workbook.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## Start the Streamlit app on http://localhost:8501
app: $(STAMP)
	$(BIN)/python scripts/serve_app.py

## Benchmarks (not part of `make test`): Pyomo persistent vs fast path vs raw highspy per
## size, scenarios/s serial vs process pool vs Dask, then what-if latency on the default
## workbook (app control changes, frontier, policy costs, break-evens), then the two-stage
## extensive form (100, 1,000, 10,000 samples; simplex vs IPM: build vs HiGHS time, peak RSS).
## BENCH_SIZES=default,10k,100k and BENCH_STOCHASTIC_SAMPLES=100,1000 make bench run a subset;
## results in reports/bench/.
bench: $(STAMP)
	$(BIN)/python bench/run_bench.py
	$(BIN)/python bench/bench_scaleout.py
	$(BIN)/python bench/bench_whatif.py
	$(BIN)/python bench/bench_stochastic.py
