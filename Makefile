# Two commands do all the set-up on a fresh machine with python3 and make:
#   make demo   build .venv, install the kit, generate the demo clinic, render its reports
#   make test   build .venv, install the kit, run the whole suite (ruff, pytest, doctests, notebooks)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= data/demo
REPORTS ?= reports

.PHONY: demo test lint bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,dask,sql]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (progress-kit)" >/dev/null
	touch $(STAMP)

# The demo clinic ends on the last day of the previous month, so "--month last" is its last full
# month; the batch prints where the reports are.
demo: $(STAMP)
	$(BIN)/progress-kit demo-data $(DEMO_DIR)
	MPLBACKEND=Agg $(BIN)/progress-kit batch $(DEMO_DIR) --month last --out $(REPORTS) --jobs 2

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	MPLBACKEND=Agg $(BIN)/python -m pytest progress_kit tests
	MPLBACKEND=Agg $(BIN)/python -m pytest --nbval-lax notebooks/

bench: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m bench batch --clients 40 --jobs 2
	MPLBACKEND=Agg $(BIN)/python -m bench cohort --clients 1000000

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
