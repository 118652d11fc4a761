"""On the real SmolLM2-135M (`make models`): LoRA training tokens/s of `metaex finetune` against TRL's SFTTrainer
with its own LoRA config, on the same documents and batch size; and the seconds of one probe cell of an adapter
whose base part is already cached (the study's case), with where they go."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "smollm2-135m"
CONFIG = ROOT / "configs" / "study-pretrained.toml"   # the probe cell runs with this study's probe options
BATCH, REPEATS = 16, 2


def _mix(tmp: Path, max_len: int) -> tuple[Path, list[str]]:
    """A study-like stream for 4 grammars: example documents and explanations (metaex's own commands)."""
    from typer.testing import CliRunner

    from metaex.cli.main import app

    def run(*args):
        r = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
        assert r.exit_code == 0, r.output

    files: list[str] = []
    avoid: list[str] = []
    for i, name in enumerate(("agreement", "arith", "counting", "reber")):
        g = tmp / f"g{i}.pcfg"
        run("grammar", "instantiate", ROOT / "grammars" / f"{name}.pcfg", "--seed", "0", *avoid, "-o", g)
        avoid += ["--avoid", g]
        run("grammar", "sample", g, "-n", "16", "--seed", "0", "--distinct", "--max-len", str(max_len), "--split", "train",
            "--test", "16", "--test-out", tmp / f"g{i}.test.jsonl", "-o", tmp / f"g{i}.train.jsonl")
        run("explain", g, "--paraphrases", "1", "-o", tmp / f"g{i}.expl.jsonl")
        files += ["--examples", str(tmp / f"g{i}.train.jsonl"), "--explanations", str(tmp / f"g{i}.expl.jsonl"),
                  "--grammar", str(g)]
    run("mix", "--condition", "explained", *files, "--dose", "16", "--seed", "0", "--passes", "2",
        "--paraphrases", "1", "-o", tmp / "mix.jsonl")
    return tmp / "mix.jsonl", [str(tmp / f"g{i}.pcfg") for i in range(4)]


def _ours(train_file: Path, out: Path) -> float:
    from metaex.core.train import train

    result = train(train_file, str(MODEL), "lora", out, batch_size=BATCH, lr=2e-3, save_steps=0, log_steps=1000)
    return result.tokens / result.runtime_s


def _trl(docs: list[dict], out: Path) -> float:
    from peft import LoraConfig

    from benchmarks.bench_finetune import _trl as trl_run

    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    return trl_run(str(MODEL), docs, out, batch=BATCH, lr=2e-3, peft_config=lora)[0]


def _probe_cell(tmp: Path, train_file: Path, grammars: list[str], cells: dict[str, object]
                ) -> tuple[float, dict[str, tuple[float, dict[str, float]]]]:
    """Seconds of a probe of an adapter with nothing cached, then per kind of cell (its probe options: the study's,
    in-context ceiling included) with the base parts cached, and of each phase."""
    from metaex.core.probe import generate, run_probe, scoring
    from metaex.core.train import train

    train(train_file, str(MODEL), "lora", tmp / "adapter", batch_size=BATCH, steps=2, save_steps=0)
    tests = tmp / "tests.jsonl"
    tests.write_text("".join((tmp / f"g{i}.test.jsonl").read_text() for i in range(4)))
    explanations = tmp / "expl.jsonl"
    explanations.write_text("".join((tmp / f"g{i}.expl.jsonl").read_text() for i in range(4)))
    args = {"tests": tests, "train": [train_file], "explanations": explanations, "parts_dir": tmp / "parts"}
    first = next(iter(cells.values()))
    t0 = time.perf_counter()
    run_probe(adapter=str(tmp / "adapter"), grammars=grammars, out_dir=tmp / "warm", options=first, **args)
    uncached = time.perf_counter() - t0
    spent: dict[str, float] = {}
    for module, name in ((generate, "sample_many"), (generate, "greedy"), (scoring, "loglikelihoods")):
        real = getattr(module, name)

        def timed(*a, _real=real, _name=name, **k):
            t0 = time.perf_counter()
            try:
                return _real(*a, **k)
            finally:
                spent[_name] = spent.get(_name, 0.0) + time.perf_counter() - t0

        setattr(module, name, timed)
    out = {}
    for label, opts in cells.items():
        for f in (tmp / "parts").glob("*.adapter.*"):
            f.unlink()
        spent.clear()
        t0 = time.perf_counter()
        run_probe(adapter=str(tmp / "adapter"), grammars=grammars, out_dir=tmp / f"cell-{label}", options=opts,
                  **args)
        out[label] = (time.perf_counter() - t0, dict(spent))
    return uncached, out


def run() -> list[Result]:
    import torch

    from metaex.core import records
    from metaex.core.study.read import load_config

    if not (MODEL / "metaex.json").is_file():
        print(f"{MODEL} is missing: run `make models` (skipping the SmolLM2 benchmarks)", file=sys.stderr)
        return []
    torch.set_num_threads(min(2, torch.get_num_threads()))
    for k, v in {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}.items():
        os.environ.setdefault(k, v)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cfg = load_config(CONFIG)
        cells = {"examples": cfg.probe_options(condition="examples"), "other": cfg.probe_options(condition="filler")}
        train_file, grammars = _mix(tmp, cfg.max_len)
        docs = records.read_all(train_file, "document")
        runs = [(_ours(train_file, tmp / f"ours{i}"), _trl(docs, tmp / f"trl{i}")) for i in range(REPEATS)]
        print("SmolLM2 LoRA real tokens/s per repeat (ours, TRL):", [(round(a), round(b)) for a, b in runs],
              file=sys.stderr)
        uncached, timed = _probe_cell(tmp, train_file, grammars, cells)
        print(f"probe cell (4 grammars, adapter): {uncached:.1f} s with nothing cached (an `examples` cell)",
              file=sys.stderr)
        for label, (seconds, spent) in timed.items():
            print(f"  base part cached, {label} cell: {seconds:.1f} s: "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items()), file=sys.stderr)
    ours, theirs = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    return [Result(f"SmolLM2-135M LoRA, {len(docs)} docs, batch {BATCH}", "real tokens/s", ours, theirs,
                   "TRL SFTTrainer + its LoRA config (padding)", target=1.5),
            Result("SmolLM2 probe cell, 4 grammars, base part cached", "cells/h", 3600 / timed["examples"][0],
                   3600 / uncached, "the same probe computing its base part too"),
            Result("SmolLM2 probe cell of a condition besides `examples` (in context for the base only)", "cells/h",
                   3600 / timed["other"][0], 3600 / timed["examples"][0], "an `examples` cell (adapter in context)")]
