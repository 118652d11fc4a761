# metaex — `make study` runs the CPU study, `make test` the test suite. Both set up .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
METAEX := $(VENV)/bin/metaex
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export DO_NOT_TRACK := 1

.PHONY: setup test test-fast bench lint study study-gpu clean

setup: $(STAMP)

# torch first, pinned, so that pip never pulls a multi-GB CUDA build on a CPU machine (STACK.md).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

bench: $(STAMP)
	$(PY) -m benchmarks

lint: $(STAMP)
	$(VENV)/bin/ruff check metaex tests benchmarks

study: $(STAMP)
	@echo "make study: not yet (the study issue adds it)"

clean:
	rm -rf $(VENV) .pytest_cache
