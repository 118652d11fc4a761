"""The GPU path's decisions, checked on the CPU: the memory model against real model shapes, and what a run
resolves to compute with (precision, gradient checkpointing, fused cross-entropy) on a given card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaex.core.errors import InputError
from metaex.core.train import memory
from metaex.core.train.compute import LARGE_VOCAB, resolve
from metaex.core.train.options import TrainOptions

CONFIGS = Path(__file__).resolve().parent.parent / "metaex" / "data" / "configs"


def _config(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


@pytest.mark.parametrize("name", ["Qwen--Qwen2.5-0.5B", "Qwen--Qwen2.5-7B", "HuggingFaceTB--SmolLM2-135M"])
def test_the_memory_model_counts_the_parameters_transformers_builds(name):
    """The shipped configs build the published models (on torch's meta device: no memory), and `Shape` counts their
    parameters within the attention biases it leaves out; untied output layers count twice."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.for_model(**_config(name))
    with torch.device("meta"):
        net = AutoModelForCausalLM.from_config(cfg)
    built = sum(p.numel() for p in net.parameters())
    shape = memory.Shape.of(cfg)
    assert shape.params == pytest.approx(built, rel=1e-4)
    assert shape.params == memory.Shape.of(_config(name)).params          # the config's dict reads the same
    linear = sum(m.weight.numel() for n, m in net.named_modules()
                 if isinstance(m, torch.nn.Linear) and n.startswith("model.layers."))
    assert shape.linear_params == linear
    assert shape.tied is (net.get_output_embeddings().weight is net.get_input_embeddings().weight)


def test_the_estimate_falls_with_each_saving_and_grows_with_the_step():
    shape = memory.Shape.of(_config("Qwen--Qwen2.5-7B"))

    def peak(method="qlora", tokens=2000, ckpt=False, fused=False):
        return memory.step_peak_bytes(shape, method, tokens, checkpointing=ckpt, fused_ce=fused)

    assert peak(ckpt=True) < peak() and peak(fused=True) < peak() and peak(ckpt=True, fused=True) < peak(ckpt=True)
    assert peak() < peak("lora") < peak("full") and peak(tokens=4000) > peak()
    # QLoRA's base: its linear layers in ~4.1 bits, the rest (embeddings + untied output layer) in bf16
    assert peak(tokens=0) > (shape.linear_params * 0.5 + shape.other_params * 2)
    assert memory.largest_step_tokens([3, 1, 4, 1, 5, 9, 2], 2) == 5 + 9 and memory.largest_step_tokens([], 4) == 0


def test_a_run_resolves_its_compute_from_the_card_and_the_model():
    qwen, smol = _config("Qwen--Qwen2.5-7B"), _config("HuggingFaceTB--SmolLM2-135M")
    opts = TrainOptions(method="qlora")
    shape = memory.Shape.of(qwen)
    need = memory.step_peak_bytes(shape, "qlora", 3000, checkpointing=False, fused_ce=True)
    liger = frozenset({"qwen2", "llama"})

    def on(config=qwen, card=2 * need, opts=opts, cuda=True, bf16=True, lig=liger):
        return resolve(opts, config, cuda=cuda, cuda_bf16=bf16, card_bytes=card, step_tokens=3000, liger=lig)

    # a card with room: no checkpointing; the fused loss for Qwen's 152 k vocabulary where liger knows qwen2
    assert on() == on(card=2 * need) and not on().checkpointing and on().fused_ce and on().bf16
    assert on(card=need).checkpointing                                        # too small a card: on by itself
    assert not on(lig=frozenset()).fused_ce and shape.vocab >= LARGE_VOCAB   # liger not installed
    assert not on(config=smol).fused_ce                                       # 49 k: the plain loss
    assert not on(bf16=False).bf16                                            # a card without bfloat16
    # the CPU: nothing by itself; bf16 only when asked
    cpu = on(cuda=False, card=None, lig=frozenset())
    assert not (cpu.bf16 or cpu.checkpointing or cpu.fused_ce)
    assert on(cuda=False, card=None, opts=TrainOptions(method="qlora", bf16=True)).bf16
    # asked for: checkpointing on any device; the fused loss only where liger-kernel can give it
    assert on(cuda=False, card=None, opts=TrainOptions(method="qlora", grad_checkpointing="on")).checkpointing
    assert not on(card=need, opts=TrainOptions(method="qlora", grad_checkpointing="off")).checkpointing
    assert not on(opts=TrainOptions(method="qlora", fused_ce="off")).fused_ce
    assert on(config=smol, opts=TrainOptions(method="qlora", fused_ce="on")).fused_ce
    with pytest.raises(InputError, match="liger-kernel"):
        on(cuda=False, card=None, lig=frozenset(), opts=TrainOptions(method="qlora", fused_ce="on"))


def test_the_finetune_switches_are_checked_before_anything_is_written(run_cli, tmp_path):
    bad = run_cli("finetune", tmp_path / "none.jsonl", "--model", tmp_path, "--grad-checkpointing", "sometimes",
                  "--out", tmp_path / "run")
    assert bad.exit_code == 2 and "--grad-checkpointing must be one of auto, on, off" in bad.output
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_the_gpu_benchmark_runs_its_smoke_mode_on_the_cpu(tmp_path, smollm2):
    """benchmarks/gpu_qlora.py, which a lent GPU runs once for its figures, runs end to end here in tiny shapes:
    the plain Trainer + peft + bitsandbytes and metaex's train on the same steps, both decoders on the same asks."""
    from benchmarks import gpu_qlora

    assert gpu_qlora.main(["--smoke", "--out", str(tmp_path), "--tokenizer", str(smollm2)]) == 0
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["kind"] == "train"]
    assert [r["side"] for r in train] == ["metaex", "metaex", "plain"]
    assert all("error" not in r and r["tokens_per_s"] > 0 for r in train), train
    assert train[1]["compute"]["checkpointing"] and not train[0]["compute"]["checkpointing"]
    (decode,) = [r for r in rows if r["kind"] == "decode"]
    assert "error" not in decode and decode["samples"] == decode["generate_samples"] == len(gpu_qlora.GRAMMARS) * 2
    assert "| smollm2-135m | plain |" in (tmp_path / "table.md").read_text()
