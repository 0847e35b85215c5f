# Communiqué — the entry points. Only Python (with venv and pip) and make are needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run validate test lint fuzz bench bench-full clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[bench]'
	touch $@ $(VENV)/.installed

## run: validate the bundled graph and serve it on http://$(HOST):$(PORT)
run: $(VENV)/.installed
	$(BIN)/communique validate
	$(BIN)/communique serve --host $(HOST) --port $(PORT)

## validate: run the SHACL gate over the bundled graph
validate: $(VENV)/.installed
	$(BIN)/communique validate

## test: the whole test suite (the README's contract)
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

## lint: ruff over code and tests
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check communique tests bench server.py
	$(BIN)/ruff format --check communique tests bench server.py

## fuzz: the property-based tests, for longer than in `make test`
fuzz: $(VENV)/.installed-dev
	FUZZ_SECONDS=600 $(BIN)/python -m pytest tests/security -k fuzz

## bench: a quick side-by-side benchmark (a few minutes); bench-full: every size
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench --quick

bench-full: $(VENV)/.installed-bench
	$(BIN)/python -m bench --full

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
