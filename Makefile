# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean notebooks baseline

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -e '.[test,notebooks]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/na62dump all --preset default --observed published

test: $(STAMP)
	$(BIN)/ruff check na62dump processors tests benchmarks
	$(BIN)/python -m pytest

# Jupyter to open notebooks/ and plots/ (jupyter lab notebooks/)
notebooks: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,notebooks,jupyter]'
	@echo "start with: $(BIN)/jupyter lab notebooks/"

# Regenerate the reference images of the figure tests, deliberately (after a wanted change)
baseline: $(STAMP)
	$(BIN)/python -m pytest tests/test_figures_mpl.py --mpl-generate-path=tests/baseline

lint: $(STAMP)
	$(BIN)/ruff check na62dump processors tests benchmarks

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) results .pytest_cache
