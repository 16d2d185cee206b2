# regie — the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint format bench drill openapi mutation clean lock

# The venv installs the whole tree from requirements.lock (runtime + dev, every version
# pinned with its hashes), then regie itself without resolving anything, built with the
# lock's setuptools (--no-build-isolation: pip's isolated build would fetch the newest
# setuptools, unchecked; `make lock` refreshes the lock; the Dockerfile installs
# requirements-runtime.lock, the same pins).
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)  ## SQLite + simulator PSP on http://127.0.0.1:8000 (PORT=8001: another port)
	$(BIN)/regie demo $(if $(PORT),--port $(PORT))

test: $(STAMP)  ## the whole suite (PostgreSQL too when REGIE_TEST_DATABASE_URL is set)
	$(BIN)/python -m pytest -q

lint: $(STAMP)  ## ruff, mypy, import-linter, hadolint (the Dockerfile)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)  ## benchmarks, each printing a ratio against a baseline measured in the same run
	$(BIN)/python -m bench

# The fault drill (bench/drill.py) on PostgreSQL: 2,000 PSP events, a worker SIGKILLed and
# PostgreSQL restarted mid-run (the whole cluster: pg_ctlcluster, as root), then every check.
# PG_FAULT=terminate only kills the backends of the drill's database (a shared server).
# It drops and creates $(DRILL_DATABASE_URL) and the same name + _replay.
PG_FAULT ?= restart
DRILL_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/regie_drill
drill: $(STAMP)  ## the fault drill on PostgreSQL (PG_FAULT=restart|terminate)
	$(BIN)/python -m bench.drill --pg-fault $(PG_FAULT) --database-url $(DRILL_DATABASE_URL)

openapi: $(STAMP)  ## regenerate openapi.yaml from the app
	$(BIN)/python -m regie.openapi > openapi.yaml

# Mutation testing (mutmut 3, configured in pyproject.toml [tool.mutmut]); slow, so NOT part of
# `make test` or CI. Runs on SQLite only, without the browser tests. Narrow it with
#   make mutation MUTATE="ledger/posting.py regie/kit/money.py"   (files or package dirs)
#   make mutation MUTANTS="ledger.posting.x_post*"                (mutmut's own name globs)
#   make mutation SAMPLE=60 [SEED=20261201]  (a reproducible random sample per package, scored
#                                             with a 95 % interval: tests/mutation_sample.py)
# Survivors: $(BIN)/mutmut results; $(BIN)/mutmut show <name>; $(BIN)/mutmut browse.
MUTATE ?=
MUTANTS ?=
SAMPLE ?=
SEED ?= 20261201
MUTATION_JOBS ?= 1
mutation: $(STAMP)  ## mutation testing (mutmut); MUTATE="pkg/mod.py ..." or SAMPLE=60 narrows it
ifneq ($(SAMPLE),)
	env -u REGIE_TEST_DATABASE_URL $(BIN)/python -m tests.mutation_sample run \
	  --sample $(SAMPLE) --seed $(SEED) --jobs $(MUTATION_JOBS)
else
	env -u REGIE_TEST_DATABASE_URL $(BIN)/mutmut run --max-children $(MUTATION_JOBS) \
	  $(foreach f,$(MUTATE),"$(subst /,.,$(patsubst %/,%,$(f:.py=))).*") $(MUTANTS)
	$(BIN)/mutmut results
endif

# Re-pin after a change of dependencies in pyproject.toml: requirements.lock (runtime +
# dev: make, .ci/run) first, then requirements-runtime.lock (the Dockerfile) seeded from it,
# so both pin the same versions. Pins already in the lock are kept when they still fit;
# `make lock UPGRADE=1` moves every package to its newest allowed version. Needs only
# pip-tools, which it installs into the venv when missing (so it works before the stamp,
# and after pyproject.toml named a package the venv lacks). tests/test_lock.py checks both.
UPGRADE ?=
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links --no-emit-trusted-host
lock:  ## re-pin requirements.lock, requirements-runtime.lock and requirements-build.lock (hashes)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/pip-compile || $(BIN)/python -m pip install --quiet pip-tools
	CUSTOM_COMPILE_COMMAND="make lock" $(PIP_COMPILE) $(if $(UPGRADE),--upgrade) --extra dev \
	  -o requirements.lock pyproject.toml
	cp requirements.lock requirements-runtime.lock
	CUSTOM_COMPILE_COMMAND="make lock" $(PIP_COMPILE) -o requirements-runtime.lock pyproject.toml
	{ echo "# pyproject's build requirements, cut from requirements.lock by make lock: the"; \
	  echo "# Dockerfile builds regie with them (--no-build-isolation), hashes checked"; \
	  sed -n '/^setuptools==/,/^[^ ]/{/^setuptools==/p;/^    --hash/p;}' requirements.lock; \
	} > requirements-build.lock

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache regie-demo.db* mutants
