# Two main targets: `make figures` (paper profile) and `make test` (whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The machine-local CPU-only torch wheel must not be mixed with PyPI torchvision.
export PIP_FIND_LINKS :=
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup figures paper1 paper2 class smoke analyse test test-fast list benchmarks lab strip preview clean

# `make` alone, or `make help`: every target with its `##` comment
help:  ## this list
	@echo "make TARGET [VARIABLE=value ...]; PROFILE=smoke|class|paper for lab, analyse and preview (default: the NA_PROFILE variable)"
	@sed -n 's/^\([a-zA-Z0-9_-]*\):[^#]*## \(.*\)$$/\1\t\2/p' $(firstword $(MAKEFILE_LIST)) | \
	    awk -F '\t' '{ printf "  make %-11s %s\n", $$1, $$2 }'

setup: $(STAMP)  ## install the environment into .venv (every other target does it first)

# The install goes through uv (PyPI's `uv`, a pip-compatible installer) when it can be had: the same packages
# from the same index as pip, in 75 s here against pip's 160 s (pip unpacks and byte-compiles torch's CUDA wheels
# on one core). --compile-bytecode as pip does: where PYTHONDONTWRITEBYTECODE is set (as here) no import writes a
# .pyc, and every process would compile torch from source (a fresh-clone `make test` took 954 s instead of ~650).
# uv does not read pip's configuration, so it is handed pip's constraint files (this machine caps torch at the
# release on its disk in /etc/xdg/pip/constraints.txt). Without uv, or if it fails, pip does it.
# INSTALLER=pip forces pip.
INSTALLER ?= uv
PIP_CONSTRAINTS := $(strip $(PIP_CONSTRAINT) $(shell $(PYTHON) -m pip config list 2>/dev/null | \
                     sed -n "s/^\(global\|install\)\.constraint='\(.*\)'$$/\2/p"))
UV_FLAGS := $(foreach c,$(PIP_CONSTRAINTS),--constraint $(c))

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if [ "$(INSTALLER)" = uv ] && $(PY) -m pip install --quiet uv && \
	    $(VENV)/bin/uv pip install --python $(PY) --quiet --compile-bytecode $(UV_FLAGS) -e '.[dev]'; then \
	    echo "installed with uv"; \
	else \
	    $(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet -e '.[dev]'; \
	fi
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (neural-aesthetics)" >/dev/null
	@touch $(STAMP)

# --keep-going: a failed notebook stops only the notebooks that read its outputs; a summary ends the run
figures: $(STAMP)  ## regenerate every table and figure of both papers (pretrained weights)
	$(PY) -m helpers.pipeline run --profile paper --keep-going

paper1: $(STAMP)  ## Paper 1 only (deep dream and emotion: notebooks 00-04)
	$(PY) -m helpers.pipeline run --profile paper --paper 1 --keep-going

paper2: $(STAMP)  ## Paper 2 only (perturbed BigGAN and nearest painting: notebooks 00, 05-07)
	$(PY) -m helpers.pipeline run --profile paper --paper 2 --keep-going

class: $(STAMP)  ## the teaching profile: pretrained weights, small sizes
	$(PY) -m helpers.pipeline run --profile class --keep-going

smoke: $(STAMP)  ## the same chain with stand-in weights and tiny sizes (start here: minutes, no download)
	$(PY) -m helpers.pipeline run --profile smoke

# your ratings through notebooks 03-04, after notebooks 01-02 at the same profile (the command says if they are not)
analyse: $(STAMP)  ## your ratings: RATINGS=ratings.csv PARTICIPANTS=participants.csv [PROFILE=class]
	@if [ -z "$(RATINGS)" ]; then \
	    echo "make analyse: give your files: make analyse RATINGS=ratings.csv PARTICIPANTS=participants.csv [PROFILE=class]"; \
	    echo "  (format: helpers/study/ratings.py; notebooks 01-02 must have run at that profile)"; exit 2; fi
	$(PY) -m helpers.pipeline analyse "$(RATINGS)" "$(PARTICIPANTS)" $(if $(PROFILE),--profile $(PROFILE))

# the suite mostly keeps one core busy (papermill kernels, pandas, single-thread torch); pytest-xdist runs
# test files side by side, whole files per worker so module fixtures (rehearsal files, the smoke chain) run once
TEST_WORKERS ?= auto
test: $(STAMP)  ## unit tests + smoke run of every notebook (TEST_WORKERS=1: one process)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

test-fast: $(STAMP)  ## unit tests only
	$(PY) -m pytest -q -m "not notebooks"

list: $(STAMP)  ## which notebook makes which table or figure, and where it lands
	$(PY) -m helpers.pipeline list

BENCH_ARGS ?= --quick
benchmarks: $(STAMP)  ## speed vs baselines (BENCH_ARGS= for the full runs)
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b $(BENCH_ARGS) || exit 1; done

# PROFILE= becomes NA_PROFILE, the default of every notebook's parameters cell (profiles.default())
LAB_PROFILE = $(or $(PROFILE),$(NA_PROFILE),class)
lab: $(STAMP)  ## JupyterLab at the repository root; PROFILE=smoke|class|paper sets the notebooks' default (class)
	@case "$(LAB_PROFILE)" in paper|class|smoke) ;; *) echo "make lab: PROFILE must be smoke, class or paper, got '$(LAB_PROFILE)'"; exit 2;; esac
	@echo "Notebooks open with PROFILE = \"$(LAB_PROFILE)\" (NA_PROFILE=$(LAB_PROFILE)): paper = the papers' settings (hours),"
	@echo "class = pretrained weights, small sizes (minutes), smoke = stand-in weights, tiny (no download)."
	@echo "Start another with: make lab PROFILE=smoke. Outputs land in results/<profile>/ and figures/<profile>/."
	NA_PROFILE=$(LAB_PROFILE) $(VENV)/bin/jupyter lab --notebook-dir=. notebooks/00-setup-check.ipynb

preview: $(STAMP)  ## README's preview strip (figures/README-preview.png) from a profile's figures (PROFILE=class)
	$(PY) -m helpers.figures.readme preview --profile $(or $(PROFILE),smoke)

strip: $(STAMP)  ## remove outputs from notebooks before committing
	$(VENV)/bin/nbstripout notebooks/*.ipynb

clean:  ## remove build/, results/ and the smoke and paper figures
	rm -rf build results figures/smoke figures/paper .pytest_cache
