# pokerd: every target builds on `make install`, which creates .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run cluster demo test lint typecheck pytest bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The server on its defaults: the page, the HTTP API and the live stream on
# 127.0.0.1:8000, data/pokerd.db (created and migrated on first start).
run: install
	$(BIN)/pokerd serve

# The same address, 127.0.0.1:8000, served by a cluster on this machine:
# HAProxy in front of one node per core, on PostgreSQL in data/cluster/
# (docs/cluster.md).
cluster: install
	$(BIN)/pokerd cluster

# Bots play a table in the terminal through the real engine.
demo: install
	$(BIN)/pokerd demo

test: lint typecheck pytest

lint: install
	$(BIN)/ruff check pokerd tests benchmarks
	$(BIN)/ruff format --check pokerd tests benchmarks

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/store.py
	$(BIN)/python benchmarks/crash.py
	$(BIN)/python benchmarks/metrics.py
	$(BIN)/python benchmarks/connect.py
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/load.py --cluster 2 --failover
	$(BIN)/python benchmarks/fuzz.py
	$(BIN)/python benchmarks/short_connections.py
	$(BIN)/python benchmarks/lobby.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
