# regie — the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint format bench openapi mutation clean

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

# Mutation testing (mutmut 3, configured in pyproject.toml [tool.mutmut]); slow, so NOT part of
# `make test` or CI. Runs on SQLite only, without the browser tests. Narrow it with
#   make mutation MUTATE="ledger/posting.py regie/kit/money.py"   (files or package dirs)
#   make mutation MUTANTS="ledger.posting.x_post*"                (mutmut's own name globs)
# Survivors: $(BIN)/mutmut results; $(BIN)/mutmut show <name>; $(BIN)/mutmut browse.
MUTATE ?=
MUTANTS ?=
MUTATION_JOBS ?= 1
mutation: $(STAMP)  ## mutation testing (mutmut); MUTATE="pkg/mod.py ..." narrows it
	env -u REGIE_TEST_DATABASE_URL $(BIN)/mutmut run --max-children $(MUTATION_JOBS) \
	  $(foreach f,$(MUTATE),"$(subst /,.,$(patsubst %/,%,$(f:.py=))).*") $(MUTANTS)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache regie-demo.db* mutants
