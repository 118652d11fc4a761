"""Real (non-pad) training tokens/s of `metaex finetune` (packed documents, no padding) vs TRL `SFTTrainer`
with its defaults (one padded row per document, no packing), on the same tiny model, documents, batch size
(32 documents per step) and one pass; and the share of non-pad tokens in the batches each one trains on."""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.common import Result

N_DOCS, BATCH, SIZE, REPEATS = 512, 32, "small", 3
WORDS = ["ka", "blick", "glims", "zorp", "tuv", "mek", "oli", "prass"]


def _documents(n: int) -> list[dict]:
    """A mix-like stream: short example documents and, every 8th, a longer explanation."""
    rng = random.Random(0)
    docs = []
    for i in range(n):
        if i % 8 == 7:
            text = "In Vemo , every sentence begins with 'ka' and ends with " + " or ".join(
                f"'{w}'" for w in rng.sample(WORDS, 4)) + " ; 'blick' never follows 'zorp' ."
        else:
            text = "Vemo: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 16)))
        docs.append({"schema": "metaex/document@1", "kind": "document", "text": text, "doc_kind": "example",
                     "grammar": "Vemo", "seed": 0})
    return docs


def _ours(model: str, train_file: Path, out: Path) -> tuple[float, float]:
    from metaex.core.models import load_model
    from metaex.core.train import train
    from metaex.core.train.data import PackingCollator, read_documents, tokenize_documents
    from metaex.core.train.options import TrainOptions

    result = train(train_file, model, "full", out, batch_size=BATCH, save_steps=0, log_steps=1000)
    _, tok = load_model(model)
    feats = tokenize_documents(tok, [d["text"] for d in read_documents(train_file)], str(train_file))
    collate = PackingCollator(TrainOptions().row_tokens, tok.pad_token_id)  # the collator training used
    batches = [collate(feats[i:i + BATCH]) for i in range(0, len(feats), BATCH)]
    real = sum(int((b["input_ids"] != tok.pad_token_id).sum()) for b in batches)
    return result.tokens / result.runtime_s, real / sum(b["input_ids"].numel() for b in batches)


def _trl(model_dir: str, docs: list[dict], out: Path, *, batch: int = BATCH, lr: float = 3e-3,
         peft_config=None) -> tuple[float, float]:
    """TRL's SFTTrainer on the same documents (its own LoRA when peft_config is given): (real tokens/s, real share)."""
    from datasets import Dataset, disable_progress_bars
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    disable_progress_bars()
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    args = SFTConfig(output_dir=str(out), per_device_train_batch_size=batch, num_train_epochs=1, learning_rate=lr,
                     save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=1000, use_cpu=True,
                     bf16=False)  # TRL's bf16 default is 8-17x slower on this CPU (STACK.md): compare in float32
    trainer = SFTTrainer(model=model, args=args, processing_class=tok, peft_config=peft_config,
                         train_dataset=Dataset.from_list([{"text": d["text"]} for d in docs]))
    loader = trainer.get_train_dataloader()
    real = total = 0
    for batch in loader:
        mask = batch["attention_mask"]
        real, total = real + int(mask.sum()), total + mask.numel()
    stats = trainer.train()
    return real / stats.metrics["train_runtime"], real / total


def run() -> list[Result]:
    import torch

    from metaex.core.models import build_tiny
    from metaex.core.models.tiny import words_of

    torch.set_num_threads(min(2, torch.get_num_threads()))
    for k, v in {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}.items():
        os.environ.setdefault(k, v)
    docs = _documents(N_DOCS)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        train_file = tmp / "train.jsonl"
        from metaex.core import records

        records.write(train_file, docs)
        build_tiny(sorted(words_of(d["text"] for d in docs)), tmp / "m", size=SIZE, seed=0)
        _trl(str(tmp / "m"), docs, tmp / "trl-warm")  # first-call costs (imports, kernels) out of the timing
        runs = [(_ours(str(tmp / "m"), train_file, tmp / f"ours{i}"), _trl(str(tmp / "m"), docs, tmp / f"trl{i}"))
                for i in range(REPEATS)]  # interleaved, so a busy moment on shared cores hits both
        print("real tokens/s per repeat (ours, TRL):", [(round(a[0]), round(b[0])) for a, b in runs], file=sys.stderr)
        ours, our_frac = statistics.median(r[0][0] for r in runs), runs[0][0][1]
        theirs, their_frac = statistics.median(r[1][0] for r in runs), runs[0][1][1]
    if our_frac < 0.95:
        print(f"non-pad share {our_frac:.1%} is below the 95 % target", file=sys.stderr)
    return [Result(f"finetune {SIZE} model, {N_DOCS} docs, batch {BATCH}", "real tokens/s", ours, theirs,
                   "TRL SFTTrainer defaults (padding)", target=1.5),
            Result("finetune non-pad tokens per batch (target ≥ 95 %)", "%", 100 * our_frac, 100 * their_frac,
                   "TRL SFTTrainer defaults (padding)")]
