#!/usr/bin/env bash
# The GPU measurement of issue 34 in one call of a lent GPU machine (torch, transformers, peft, accelerate and
# triton there; no bitsandbytes, no liger-kernel, no network): benchmarks/gpu_qlora.py on random-init Qwen2.5-0.5B,
# 1.5B, 7B and SmolLM2 (metaex against Trainer + peft + bitsandbytes; metaex's sampler against model.generate).
#
#   scripts/gpu_check.sh prepare   # here, once, in the checkout the device tool sends: .whl/ (bitsandbytes,
#                                  # liger-kernel, and the transformers and peft pinned in pyproject.toml: 58 MB) and
#                                  # .dev/smollm2-tokenizer.tgz (0.6 MB), both git-ignored; prints what would travel
#   scripts/gpu_check.sh smoke     # here, on the CPU: the run phase's Python part in tiny shapes (minutes)
#   scripts/gpu_check.sh run       # there: device tool run, command "scripts/gpu_check.sh run",
#                                  # carry [".whl", ".dev"], timeout_s 600
#
# The run phase writes $OUT/gpu.txt (card, driver, versions), $OUT/results.jsonl (one row per measurement, as it
# is made), $OUT/table.md (after each model) and $OUT/log.txt; models and runs go to /tmp (a 7B model is 15 GB).
set -euo pipefail
phase=${1:?usage: scripts/gpu_check.sh prepare|smoke|run}
OUT=${OUT:-/tmp/gpu-check-out}
WHEELS="bitsandbytes==0.50.2 liger-kernel==0.8.5 transformers==5.24.0 peft==0.21.2"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
stamp() { echo "[$(date +%T)] $*"; }
unpack_tokenizer() { rm -rf "$1" && mkdir -p "$1" && tar -xzf .dev/smollm2-tokenizer.tgz -C "$1"; }

case $phase in
prepare)
    py=${PYTHON:-.venv/bin/python}; [ -x "$py" ] || py=/work/main/.venv/bin/python
    mkdir -p .whl .dev
    rm -f .whl/*.whl
    # shellcheck disable=SC2086
    "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform any -d .whl $WHEELS
    tar -czf .dev/smollm2-tokenizer.tgz -C models/smollm2-135m tokenizer.json tokenizer_config.json
    tracked=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
    carried=$(du -cb .whl .dev | tail -1 | cut -f1)
    echo "travels: $((tracked + carried)) bytes of 67108864 (working tree $tracked, .whl + .dev $carried)"
    [ $((tracked + carried)) -lt 67108864 ] || { echo "over the device tool's 64 MiB"; exit 1; }
    ;;
smoke)
    py=${PYTHON:-.venv/bin/python}; [ -x "$py" ] || py=/work/main/.venv/bin/python
    unpack_tokenizer /tmp/gpu-check-smoke/tokenizer
    PYTHONPATH=$PWD "$py" -m benchmarks.gpu_qlora --smoke --out "$OUT" --work /tmp/gpu-check-smoke/work \
        --tokenizer /tmp/gpu-check-smoke/tokenizer
    ;;
run)
    mkdir -p "$OUT"
    stamp "install wheels" | tee "$OUT/log.txt"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
    unpack_tokenizer /tmp/dev/smollm2-tokenizer
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
    python3 -c 'import importlib.metadata as m, torch
def version(p):
    try:
        return m.version(p)
    except m.PackageNotFoundError:
        return "missing"
print("torch", torch.__version__, "cuda", torch.version.cuda, "bf16", torch.cuda.is_available()
      and torch.cuda.is_bf16_supported(), "|", " | ".join(f"{p} {version(p)}" for p in (
          "transformers", "peft", "bitsandbytes", "accelerate", "liger-kernel", "triton", "tokenizers")))' \
        | tee -a "$OUT/gpu.txt"
    stamp "benchmarks.gpu_qlora" | tee -a "$OUT/log.txt"
    # a kill at the limit still leaves results.jsonl and table.md of the models measured so far
    timeout 540 python3 -m benchmarks.gpu_qlora --out "$OUT" --work /tmp/gpu-work --tokenizer /tmp/dev/smollm2-tokenizer \
        2>&1 | grep --line-buffered -v -e "^Failed to load CPU" -e "warnings.warn" | tee -a "$OUT/log.txt" || true
    stamp "done" | tee -a "$OUT/log.txt"
    ;;
*)
    echo "unknown phase $phase (prepare, smoke, run)"; exit 2
    ;;
esac
