"""QLoRA on one CUDA GPU, metaex against the plain recipe, in one run (issue 34).

    python -m benchmarks.gpu_qlora --out DIR [--models qwen2.5-0.5b,qwen2.5-7b] [--tokenizer DIR]
    python -m benchmarks.gpu_qlora --smoke --out DIR      # the same code on the CPU, tiny shapes (a test runs it)

Each model is built from its shipped config (metaex/data/configs) with random weights (memory and speed do not
depend on them) and SmolLM2's tokenizer (--tokenizer, default models/smollm2-135m: its ids fit every model's
vocabulary, and nonce words cost what they cost in the study). On the same documents in the same order, at the
study's batch (configs/study-gpu.toml) and loss normalisation:

- fine-tuning: metaex's `train` against transformers' Trainer + peft + bitsandbytes set up as their docs do
  (`prepare_model_for_kbit_training`: float32 copies and reentrant gradient checkpointing; a padding collator;
  bf16 autocast): peak GPU memory (torch's max allocated, from before the model is loaded) and real (non-pad)
  tokens/s over the steps after WARMUP. A baseline that runs out of memory at the study's batch is retried at a
  quarter of it with four accumulation steps (the same documents per step), and says so.
- decoding: metaex's sampler (`probe.generate.sample_many`: every grammar's samples in batches sized by free
  memory, rows leaving as they end) against `model.generate(num_return_sequences=…)` per grammar prompt (true
  temperature sampling: top_k 0, top_p 1; the same stop tokens and token budget), on the QLoRA base a study
  probes: seconds for the same prompts and number of samples.

The documents, like a GPU-study mix's (seed 0 of configs/study-gpu.toml: 13 % explanations of ~80 words, up to 8 %
worked documents of ~900 tokens): 85 % example strings (2–20 nonce words), 12 % explanations (40–120 words), 3 %
worked documents (16 example lines). Writes DIR/results.jsonl (a row per measurement, written as it is made) and DIR/table.md (rewritten after each
model, so a run cut short keeps what it measured); models and runs go to --work.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "metaex" / "data" / "configs"
# in the order a run measures them: the 7B first (the targets are its), so a run cut short still has its figures
MODELS = {"qwen2.5-7b": "Qwen--Qwen2.5-7B", "qwen2.5-0.5b": "Qwen--Qwen2.5-0.5B", "qwen2.5-1.5b": "Qwen--Qwen2.5-1.5B",
          "smollm2-135m": "HuggingFaceTB--SmolLM2-135M"}
SMOKE_SHAPE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
               "num_key_value_heads": 2, "head_dim": 16}
GRAMMARS = ("Vemo", "Dura", "Kelish", "Tamb")           # the study's four grammars' worth of prompts
WORDS = ("ka", "blick", "glims", "zorp", "tuv", "mek", "oli", "prass", "dorafel", "nipos", "bazane", "fuso")
PROSE = ("every", "sentence", "of", "the", "language", "begins", "with", "and", "ends", "one", "or", "more")
WARMUP = 2


def study_settings() -> dict:
    """Batch, probe samples and string length of the GPU study (configs/study-gpu.toml)."""
    cfg = tomllib.loads((ROOT / "configs" / "study-gpu.toml").read_text())
    return {"batch": cfg["model"]["batch_size"], "samples": cfg["probe"]["samples"], "max_len": cfg["data"]["max_len"]}


def documents(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)

    def example() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 20)))

    docs = []
    for _ in range(n):
        name, r = rng.choice(GRAMMARS), rng.random()
        if r < 0.03:
            kind, text = "worked", "\n".join(f"{name}: {example()}" for _ in range(16))
        elif r < 0.15:
            kind, text = "explanation", " ".join(rng.choice(PROSE + WORDS) for _ in range(rng.randint(40, 120)))
        else:
            kind, text = "example", f"{name}: {example()}"
        docs.append({"schema": "metaex/document@1", "kind": "document", "doc_kind": kind, "grammar": name,
                     "seed": seed, "text": text})
    return docs


def build(name: str, tokenizer_dir: Path, out: Path, smoke: bool) -> Path:
    """The model `name` from its shipped config, random weights (bf16 on a GPU), with the tokenizer beside it."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    raw = json.loads((CONFIGS / f"{MODELS[name]}.json").read_text())
    raw.update(SMOKE_SHAPE if smoke else {})
    raw.update(vocab_size=len(tok) if smoke else raw["vocab_size"], bos_token_id=tok.bos_token_id,
               eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id or tok.eos_token_id)
    cuda = torch.cuda.is_available()
    torch.manual_seed(0)
    with torch.device("cuda" if cuda else "cpu"):      # initialised on the GPU: seconds, not minutes of CPU
        net = AutoModelForCausalLM.from_config(AutoConfig.for_model(**raw),
                                               dtype=torch.bfloat16 if cuda else torch.float32)
    net.save_pretrained(out)
    tok.save_pretrained(out)
    del net
    _free()
    return out


def _free() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak() -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2 ** 30, 3) if torch.cuda.is_available() else None


def _clock() -> Any:
    """A TrainerCallback that notes the time at the end of every step (the GPU's work finished)."""
    import torch
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.times.append(time.perf_counter())

    return StepClock()


def tokens_per_s(lengths: list[int], batch: int, times: list[float], warmup: int) -> float | None:
    """Real tokens per second over the steps after `warmup` (step k holds documents k·batch … (k+1)·batch − 1)."""
    if not 1 <= warmup < len(times):
        return None
    real = sum(lengths[warmup * batch: len(times) * batch])
    return round(real / (times[-1] - times[warmup - 1]), 1)


def metaex_side(path: Path, data: Path, run: Path, steps: int, batch: int, **variant: Any) -> dict:
    from metaex.core.train import train

    clock = _clock()
    _free()
    result = train(data, str(path), "qlora", run, steps=steps, batch_size=batch, save_steps=0, log_steps=1,
                   loss_norm="fixed", callbacks=[clock], **variant)
    compute = json.loads((run / "config.json").read_text())["compute"]
    return {"times": clock.times, "peak_gib": _peak(), "compute": compute, "loss": result.loss}


def plain_side(path: Path, texts: list[str], out: Path, steps: int, batch: int) -> dict:
    """transformers' Trainer + peft + bitsandbytes as their docs set QLoRA up; a quarter batch × 4 on OOM."""
    import torch

    for micro in (batch, max(1, batch // 4)):
        _free()
        try:
            return {**_plain(path, texts, out, steps, micro, batch // micro), "micro_batch": micro}
        except torch.OutOfMemoryError as err:
            oom = str(err).splitlines()[0]
    return {"times": [], "peak_gib": _peak(), "error": f"out of memory at micro-batch {micro}: {oom}"}


def _plain(path: Path, texts: list[str], out: Path, steps: int, micro: int, accum: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        BitsAndBytesConfig,
        DataCollatorForLanguageModeling,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )

    from metaex.core.train.data import tokenize_documents

    cuda = torch.cuda.is_available()
    half = torch.bfloat16 if cuda else torch.float32
    tok = AutoTokenizer.from_pretrained(path)
    tok.pad_token = tok.pad_token or tok.eos_token
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=half)
    net = AutoModelForCausalLM.from_pretrained(path, quantization_config=quant, dtype=half,
                                               device_map={"": 0 if cuda else "cpu"})
    net = get_peft_model(prepare_model_for_kbit_training(net),
                         LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
                                    task_type="CAUSAL_LM"))
    clock = _clock()
    args = TrainingArguments(output_dir=str(out), max_steps=steps, per_device_train_batch_size=micro,
                             gradient_accumulation_steps=accum, learning_rate=2e-4, bf16=cuda, use_cpu=not cuda,
                             logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
                             train_sampling_strategy="sequential", dataloader_num_workers=0,
                             remove_unused_columns=False)
    trainer = Trainer(model=net, args=args, train_dataset=tokenize_documents(tok, texts, "bench"),
                      data_collator=DataCollatorForLanguageModeling(tok, mlm=False), callbacks=[clock])
    trainer.remove_callback(PrinterCallback)     # its log lines, not its work
    try:
        trainer.train()
        return {"times": clock.times, "peak_gib": _peak()}
    finally:
        del trainer, net


def decoding(path: Path, samples: int, max_len: int) -> dict:
    """metaex's sampler and `model.generate` on the same prompts and number of samples, on the 4-bit base."""
    import torch

    from metaex.core.formats import example_prompt
    from metaex.core.models.load import load_model
    from metaex.core.probe import generate
    from metaex.core.probe.memory import decode_rows

    _free()
    net, tok = load_model(str(path), method="qlora")
    budget = 3 * max_len + 1                         # what tasks.max_new_tokens gives nonce words of ~3 tokens
    asks = [(example_prompt(g), samples, generate.grammar_seed(0, g), budget, max_len) for g in GRAMMARS]
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    stops, device = generate.stop_token_ids(tok), next(net.parameters()).device
    warm = tok(asks[0][0], return_tensors="pt").to(device)      # kernels loaded and compiled before either clock
    generate.sample_many(net, tok, [(asks[0][0], 2, 0, 2, None)])
    net.generate(**warm, do_sample=True, max_new_tokens=2, pad_token_id=generate.pad_id(tok))
    sync()
    t0 = time.perf_counter()
    ours = generate.sample_many(net, tok, asks, batch_size=64)
    sync()
    t_ours = time.perf_counter() - t0
    t0, theirs = time.perf_counter(), []
    for prompt, n, seed, _, _ in asks:
        torch.manual_seed(seed)
        ids = tok(prompt, return_tensors="pt").to(device)
        with torch.no_grad():
            out = net.generate(**ids, do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=budget,
                               num_return_sequences=n, eos_token_id=stops, pad_token_id=generate.pad_id(tok))
        theirs += [row[ids["input_ids"].shape[1]:].tolist() for row in out]
    sync()
    t_gen = time.perf_counter() - t0
    widths = [len(tok(prompt)["input_ids"]) + budget for prompt, n, _, _, _ in asks for _ in range(n)]
    ended = sum(e for rows_ in ours for _, e in rows_)
    result = {"samples": sum(len(r) for r in ours), "generate_samples": len(theirs), "metaex_s": round(t_ours, 3),
              "generate_s": round(t_gen, 3), "metaex_ended": ended,
              "generate_ended": sum(any(t in stops for t in row) for row in theirs),
              "rows_per_batch": decode_rows(net, widths, 64), "peak_gib": _peak()}
    del net
    _free()
    return result


def variants(name: str, smoke: bool) -> list[dict]:
    """metaex's settings measured per model: auto; for the 7B, checkpointing and the fused loss on (the consumer-card
    configuration, which the ≤ 10 GiB target is about); for the smaller Qwens, the plain loss where auto takes the
    fused one (does it pay?). A 7B load costs about a minute, so it gets no third variant."""
    if smoke:
        return [{}, {"grad_checkpointing": "on"}]
    if name == "qwen2.5-7b":
        return [{}, {"grad_checkpointing": "on", "fused_ce": "on"}]
    return [{}, {"fused_ce": "off"}] if name.startswith("qwen") else [{}]


def attempt(fn: Any, *args: Any, **kwargs: Any) -> dict:
    """fn's result, or its error in one line (one failed measurement must not cost a lent GPU's whole run)."""
    import traceback

    try:
        return fn(*args, **kwargs)
    except Exception as err:   # noqa: BLE001 - recorded, and the run goes on
        where = traceback.extract_tb(err.__traceback__)[-1]
        return {"times": [], "error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''} "
                                      f"({Path(where.filename).name}:{where.lineno})"}


def table(rows: list[dict]) -> str:
    """The markdown table of docs/finetune.md from the result rows."""
    lines = ["| model | side | settings | peak GiB | real tokens/s | ratio to plain |", "|---|---|---|---|---|---|"]
    rows = sorted(rows, key=lambda r: (r["kind"] == "decode", r["model"], r.get("side") != "plain"))
    plain = {r["model"]: r.get("tokens_per_s") for r in rows if r["kind"] == "train" and r["side"] == "plain"}
    for r in rows:
        if r["kind"] == "train":
            base = plain.get(r["model"])
            ratio = f"{r['tokens_per_s'] / base:.2f}×" if r.get("tokens_per_s") and base else "-"
            what = r.get("settings") or r.get("error") or ""
            lines.append(f"| {r['model']} | {r['side']} | {what} | {r.get('peak_gib')} | {r.get('tokens_per_s')} "
                         f"| {ratio} |")
    lines += ["", "| model | samples | metaex s | generate s | ratio | rows ended (metaex / generate) | rows per "
              "batch |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["kind"] == "decode":
            lines.append(f"| {r['model']} | {r['samples']} | {r['metaex_s']} | {r['generate_s']} | "
                         f"{r['generate_s'] / max(r['metaex_s'], 1e-9):.2f}× | {r['metaex_ended']} / "
                         f"{r['generate_ended']} | {r['rows_per_batch']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_qlora", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-bench"), help="folder for results.jsonl and table.md")
    parser.add_argument("--work", type=Path, help="folder for the models and runs (default OUT/work; a 7B model "
                        "takes 15 GB)")
    parser.add_argument("--models", help="comma-separated, of " + ", ".join(MODELS) + " (default: all; smoke: "
                        "smollm2-135m)")
    parser.add_argument("--tokenizer", type=Path, default=ROOT / "models" / "smollm2-135m")
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps per side (the first WARMUP untimed)")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes, few steps and samples, on any device")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available() and not args.smoke:
        print("no CUDA GPU: skipped")
        return 0
    from metaex.core import records
    from metaex.core.models.load import load_tokenizer
    from metaex.core.train.data import tokenize_documents

    settings = study_settings()
    batch, samples = (2, 2) if args.smoke else (settings["batch"], settings["samples"])
    steps = 3 if args.smoke else args.steps
    out = args.out
    work = args.work or out / "work"
    shutil.rmtree(work, ignore_errors=True)     # runs of an earlier call would be reported "already finished"
    out.mkdir(parents=True, exist_ok=True)
    docs = documents(steps * batch)
    records.write(work / "train.jsonl", docs)
    texts = [d["text"] for d in docs]
    lengths = [len(f["input_ids"]) for f in tokenize_documents(load_tokenizer(str(args.tokenizer)), texts, "x")]
    rows: list[dict] = []
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"

    def note(row: dict) -> None:
        rows.append({"device": device, **row})
        with open(out / "results.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rows[-1]) + "\n")
        print(json.dumps(rows[-1]), flush=True)

    (out / "results.jsonl").unlink(missing_ok=True)
    for name in (args.models or ("smollm2-135m" if args.smoke else ",".join(MODELS))).split(","):
        t0 = time.perf_counter()
        path = build(name, args.tokenizer, work / name, args.smoke)
        common = {"model": name, "batch": batch, "steps": steps, "real_tokens": sum(lengths)}
        warmup = 1 if args.smoke else WARMUP
        for k, variant in enumerate(variants(name, args.smoke)):      # metaex first: the 7B's target rows
            ours = attempt(metaex_side, path, work / "train.jsonl", work / f"{name}-metaex-{k}", steps, batch,
                           **variant)
            note({**common, "kind": "train", "side": "metaex", "variant": variant,
                  "settings": ", ".join(f"{a}={int(b)}" for a, b in ours.get("compute", {}).items()),
                  "tokens_per_s": tokens_per_s(lengths, batch, ours.pop("times"), warmup), **ours})
        plain = attempt(plain_side, path, texts, work / f"{name}-plain", steps, batch)
        note({**common, "kind": "train", "side": "plain",
              "tokens_per_s": tokens_per_s(lengths, batch, plain.pop("times"), warmup), **plain})
        note({"model": name, "kind": "decode",
              **attempt(decoding, path, samples, 2 if args.smoke else settings["max_len"])})
        shutil.rmtree(path, ignore_errors=True)
        (out / "table.md").write_text(f"{device}, torch {torch.__version__}\n\n" + table(rows), encoding="utf-8")
        print(f"# {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
