# pokerd: every target builds on `make install`, which creates .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Until the live server lands, `make run` plays a demo table in the terminal
# through the real engine (shuffled decks, bots, the action clock's rules).
run: install
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

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
