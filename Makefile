# Two commands do all the set-up on a fresh machine with python3 and make:
#   make demo   build .venv, install the kit, generate the demo clinic, render its reports
#   make test   build .venv, install the kit, run the whole suite (ruff, pytest, doctests, notebooks)
#   make lab    open progress_kit/notebooks/explore.ipynb in JupyterLab (installed into .venv by make)
#   make kernel register this checkout's .venv as your per-user "progress-kit" Jupyter kernel
#   make test-browser   drive JupyterLab in Chromium (Debian's chromium package) through explore.ipynb
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= data/demo
REPORTS ?= reports
# The kit's modules compiled to bytecode, as pip does for a package it installs: an editable install
# leaves it to the first import, which writes nothing where PYTHONDONTWRITEBYTECODE is set (many
# container images and CI runners), so every command and every report's kernel would compile the
# kit's ~60 modules again (0.2-0.3 s of each start; docs/performance.md, round five, seventh
# session). Run again by demo, test and bench, so that an edited module is compiled too; a
# module whose bytecode is already up to date is only checked.
COMPILE := $(BIN)/python -m compileall -q progress_kit >/dev/null

.PHONY: demo test test-browser lab lint bench clean venv kernel

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,dask,sql,lab]'
	$(COMPILE)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (progress-kit)" >/dev/null
	# The "progress-kit" kernel inside .venv, which Jupyter run from .venv prefers, so tests and renders
	# always use this checkout's kernel. Never per user here: that copy would point at whichever
	# checkout ran make last, even a deleted temporary clone ("make kernel" does it when asked).
	$(BIN)/python -m ipykernel install --sys-prefix --name progress-kit --display-name "Python 3 (progress-kit)" >/dev/null
	touch $(STAMP)

# Register this checkout's .venv as the per-user "progress-kit" kernel, so that a JupyterLab installed
# elsewhere lists it; run it again from the checkout you want that kernel to use.
kernel: $(STAMP)
	$(BIN)/python -m ipykernel install --user --name progress-kit --display-name "Python 3 (progress-kit, $(CURDIR))" >/dev/null
	@echo "the per-user kernel \"progress-kit\" now runs $(CURDIR)/$(BIN)/python"

# The demo clinic ends on the last day of the previous month, so "--month last" is its last full
# month; the batch prints where the reports are.
demo: $(STAMP)
	$(COMPILE)
	$(BIN)/progress-kit demo-data $(DEMO_DIR)
	MPLBACKEND=Agg $(BIN)/progress-kit batch $(DEMO_DIR) --month last --out $(REPORTS) --jobs 2

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(COMPILE)
	$(BIN)/ruff check .
	MPLBACKEND=Agg $(BIN)/python -m pytest progress_kit tests
	MPLBACKEND=Agg $(BIN)/python -m pytest --nbval-lax --nbval-current-env progress_kit/notebooks/

# Starts JupyterLab headless on 127.0.0.1 and drives explore.ipynb in /usr/bin/chromium (apt install
# chromium) with Playwright; the test starts and stops everything itself.
test-browser: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -m browser -p no:cacheprovider tests/test_browser.py

lab: $(STAMP)
	$(COMPILE)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) progress_kit/notebooks/explore.ipynb

bench: $(STAMP)
	$(COMPILE)
	MPLBACKEND=Agg $(BIN)/python -m bench batch --clients 40 --jobs 2
	MPLBACKEND=Agg $(BIN)/python -m bench cohort --clients 1000000
	MPLBACKEND=Agg $(BIN)/python -m bench flags --clients 100000
	MPLBACKEND=Agg $(BIN)/python -m bench flags --clients 1000000

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
