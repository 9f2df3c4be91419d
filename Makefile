# Two commands matter: `make run` and `make test`. Each sets up what it needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run services test lint typecheck system venv sandbox-image serve worker clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

system:
	@scripts/ensure-system.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

typecheck: venv
	$(BIN)/mypy

sandbox-image: system venv
	@scripts/with-docker.sh sandbox/image/build.sh

test: system venv lint
	@scripts/with-docker.sh scripts/run-tests.sh

run: system venv
	@scripts/run-local.sh

services: system venv
	@scripts/run-services.sh

serve: venv
	$(BIN)/ambient serve

worker: venv
	$(BIN)/ambient worker

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
