"""QLoRA (and LoRA beside it) on a CUDA GPU: real (non-pad) training tokens/s and peak GPU memory, through `metaex.core.train.train`.

    python -m benchmarks.gpu_qlora                      # tiny model, then a random-init ~1B Llama if it fits
    python -m benchmarks.gpu_qlora models/smollm2-135m  # these model folders instead (their own tokenizers)

With no folder, the models are built from configs in a temp folder (no hub). Prints one line per model; on a
machine without a CUDA GPU it prints "no CUDA GPU: skipped" and exits 0.
"""

from __future__ import annotations

import itertools
import random
import sys
import tempfile
from pathlib import Path

N_DOCS, BATCH, STEPS = 2048, 32, 30
METHODS = ("qlora", "lora")         # LoRA on the bf16 base beside QLoRA's NF4 one: what the 4-bit base saves
WORDS = ["ka", "blick", "glims", "zorp", "tuv", "mek", "oli", "prass"]


def _docs() -> list[dict]:
    rng = random.Random(0)
    return [{"schema": "metaex/document@1", "kind": "document", "doc_kind": "example", "grammar": "Vemo", "seed": 0,
             "text": "Vemo: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 40)))}
            for _ in range(N_DOCS)]


def _one_b(words: list[str], out: Path) -> Path:
    """A random-init Llama of ~1.1 B parameters (TinyLlama-like shape) with the tiny word-level tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from metaex.core.models.tiny import make_tokenizer

    tok = make_tokenizer(words)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                      num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048,
                      pad_token_id=0, bos_token_id=2, eos_token_id=3, tie_word_embeddings=False)
    torch.manual_seed(0)
    with torch.device("cuda"):          # initialised on the GPU: seconds, not a minute of CPU time
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(out)
    del model
    torch.cuda.empty_cache()
    tok.save_pretrained(out)
    return out


def main(folders: list[str]) -> int:
    import torch

    if not torch.cuda.is_available():
        print("no CUDA GPU: skipped")
        return 0
    from metaex.core import records
    from metaex.core.models import build_tiny
    from metaex.core.models.tiny import words_of
    from metaex.core.train import train

    docs = _docs()
    words = sorted(words_of(d["text"] for d in docs))
    print(f"device: {torch.cuda.get_device_name(0)}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        records.write(tmp / "train.jsonl", docs)
        models = [(Path(f).name, Path(f)) for f in folders]
        if not models:
            build_tiny(words, tmp / "tiny", seed=0)
            models = [("tiny", tmp / "tiny")]
            free, _ = torch.cuda.mem_get_info()
            if free > 12 * 2**30:
                models.append(("llama-1.1B random", _one_b(words, tmp / "one_b")))
            else:
                print(f"llama-1.1B: skipped ({free / 2**30:.1f} GiB free)")
        for (name, path), method in itertools.product(models, METHODS):
            torch.cuda.reset_peak_memory_stats()
            result = train(tmp / "train.jsonl", str(path), method, tmp / f"run-{name}-{method}", steps=STEPS,
                           batch_size=BATCH, save_steps=0, log_steps=10)
            print(f"{name}: {method}, {result.steps} steps x {BATCH} docs, {result.tokens:,} real tokens, "
                  f"{result.tokens / result.runtime_s:,.0f} real tokens/s, "
                  f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB, "
                  f"final loss {result.loss:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
