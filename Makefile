# bsm-relay: `make run` starts the relay on its embedded defaults; `make test` runs everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The suite in one pytest worker per core (pytest-xdist): every test has its own ports and
# folders. PYTEST_JOBS= runs it in one process.
PYTEST_JOBS ?= -n auto

.PHONY: run test lint typecheck unit peers corpus bench clean

$(VENV)/.installed: pyproject.toml relay/_langwalk.c relay/_termscan.c relay/_htmlwalk.c relay/_linemarks.c relay/_emojiscan.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev: pyproject.toml relay/_langwalk.c relay/_termscan.c relay/_htmlwalk.c relay/_linemarks.c relay/_emojiscan.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed          ## set up and start the relay (CONFIG=file for a configuration)
	$(BIN)/bsm-relay serve $(if $(CONFIG),--config $(CONFIG))

peers:                           ## install the Debian test peers (swaks, postfix, redis-server)
	scripts/install-peers.sh

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

unit: $(VENV)/.dev               ## the test suite alone, without lint or peers
	$(BIN)/pytest $(PYTEST_JOBS)

test: $(VENV)/.dev peers lint typecheck  ## set up and run the whole suite
	$(BIN)/pytest $(PYTEST_JOBS)

corpus: $(VENV)/.installed       ## score the public corpus (needs ../shared/eval)
	$(BIN)/python ../shared/eval/run_corpus.py --corpus ../shared/eval/corpus --relay-cmd $(BIN)/bsm-relay

bench: $(VENV)/.dev peers        ## throughput and latency against real peers (see bench/README.md)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
