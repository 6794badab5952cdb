# Two main targets: `make figures` (paper profile) and `make test` (whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The machine-local CPU-only torch wheel must not be mixed with PyPI torchvision.
export PIP_FIND_LINKS :=
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup figures smoke test test-fast list benchmarks lab strip clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (neural-aesthetics)" >/dev/null
	@touch $(STAMP)

figures: $(STAMP)  ## regenerate every table and figure of both papers (pretrained weights)
	$(PY) -m helpers.pipeline run --profile paper

smoke: $(STAMP)  ## the same chain with stand-in weights and tiny sizes
	$(PY) -m helpers.pipeline run --profile smoke

test: $(STAMP)  ## unit tests + smoke run of every notebook
	$(PY) -m pytest -q

test-fast: $(STAMP)  ## unit tests only
	$(PY) -m pytest -q -m "not notebooks"

list: $(STAMP)
	$(PY) -m helpers.pipeline list

BENCH_ARGS ?= --quick
benchmarks: $(STAMP)  ## speed vs baselines (BENCH_ARGS= for the full runs)
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b $(BENCH_ARGS) || exit 1; done

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

strip: $(STAMP)  ## remove outputs from notebooks before committing
	$(VENV)/bin/nbstripout notebooks/*.ipynb

clean:
	rm -rf build results figures/smoke figures/paper .pytest_cache
