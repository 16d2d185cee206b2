# regie — the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint format bench openapi clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## SQLite + simulator PSP on http://127.0.0.1:8000
	$(BIN)/regie demo

test: $(STAMP)  ## the whole suite (PostgreSQL too when REGIE_TEST_DATABASE_URL is set)
	$(BIN)/python -m pytest -q

lint: $(STAMP)  ## ruff, mypy, import-linter
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)  ## benchmarks, each printing a ratio against a baseline measured in the same run
	$(BIN)/python -m bench

openapi: $(STAMP)  ## regenerate openapi.yaml from the app
	$(BIN)/python -m regie.openapi > openapi.yaml

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache regie-demo.db*
