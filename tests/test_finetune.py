"""`metaex finetune` / `merge` on tiny models: exact losses, packing, kill -9 + resume, merge, QLoRA, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from tiny_helpers import build, documents, write_jsonl

SMALL = {"batch_size": 8, "lr": 3e-3, "save_steps": 0}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import torch

    torch.set_num_threads(2)
    tmp = tmp_path_factory.mktemp("ft")
    return {"tmp": tmp, "model": str(build(tmp)), "train": write_jsonl(tmp / "train.jsonl", documents(32)),
            "eval": write_jsonl(tmp / "eval.jsonl", documents(8, seed=9))}


def _losses(result):
    return [m["loss"] for m in result.metrics if "loss" in m]


def _first_batch_loss(model_dir, texts):
    """Step-1 loss computed another way: one forward of the first batch through the packing collator."""
    import torch

    from metaex.core.models import load_model
    from metaex.core.train.data import PackingCollator, tokenize_documents

    net, tok = load_model(model_dir)
    with torch.no_grad():
        return net(**PackingCollator()(tokenize_documents(tok, texts, "x"))).loss.item()


def test_losses_are_deterministic_and_normalised_per_token(setup):
    from metaex.core.train import train

    t = setup["tmp"]
    a = train(setup["train"], setup["model"], "full", t / "a", steps=3, **SMALL)
    b = train(setup["train"], setup["model"], "full", t / "b", steps=3, **SMALL)
    accum = train(setup["train"], setup["model"], "full", t / "c", steps=3, grad_accum=2,
                  **{**SMALL, "batch_size": 4})
    assert _losses(a) == _losses(b) and len(_losses(a)) == 3
    expected = _first_batch_loss(setup["model"], [d["text"] for d in documents(32)[:8]])
    assert _losses(a)[0] == pytest.approx(expected, abs=1e-5)
    # 2 micro-batches of 4 documents (different token counts) = one batch of 8: a per-token mean, not a mean of means
    assert _losses(accum) == pytest.approx(_losses(a), abs=1e-4)
    rows = [json.loads(line) for line in (t / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all(r["kind"] == "train_metric" for r in rows)
    assert rows[-1]["tokens"] == sum(len(d["text"].split()) for d in documents(32)[:24]) + 24 * 2 + sum(
        d["text"].count(":") + d["text"].count(",") + d["text"].count("'") for d in documents(32)[:24])
    cfg = json.loads((t / "a" / "config.json").read_text())
    assert cfg["method"] == "full" and cfg["options"]["shuffle"] is False and cfg["status"] == "finished"
    again = train(setup["train"], setup["model"], "full", t / "a", steps=3, **SMALL)
    assert again.already_done and _losses(again) == _losses(a)


def test_fixed_loss_norm_divides_the_summed_loss_by_one_constant(setup):
    from metaex.core.train import train

    t = setup["tmp"]
    docs = documents(32)
    fixed = train(setup["train"], setup["model"], "full", t / "fixed", steps=2, loss_norm="fixed", **SMALL)
    cfg = json.loads((t / "fixed" / "config.json").read_text())
    # the divisor: batch size × the mean loss tokens (tokens − 1 under packing) of an example document
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(setup["model"])
    sizes = [len(tok(d["text"])["input_ids"]) for d in docs if d["doc_kind"] == "example"]  # BOS + words; +EOS −1
    assert cfg["loss_tokens_per_step"] == pytest.approx(8 * sum(sizes) / len(sizes), abs=1e-3)
    # step 1: the per-token mean × (loss tokens in the batch) ÷ that divisor
    first = docs[:8]
    n_loss = sum(len(tok(d["text"])["input_ids"]) for d in first)
    expected = _first_batch_loss(setup["model"], [d["text"] for d in first]) * n_loss / cfg["loss_tokens_per_step"]
    assert _losses(fixed)[0] == pytest.approx(expected, rel=1e-4)


def test_max_grad_norm_reaches_the_optimizer_and_0_turns_clipping_off(setup, tmp_path, run_cli):
    """--max-grad-norm: recorded with the run; a tiny norm freezes the weights (every step clipped to ~0), 0 does
    not clip at all and equals a norm no step reaches."""
    import torch
    from transformers import AutoModelForCausalLM

    def run(name, norm):
        out = tmp_path / name
        res = run_cli("finetune", setup["train"], "--model", setup["model"], "--method", "full", "--out", out,
                      "--steps", "2", "--batch-size", "8", "--lr", "3e-2", "--save-steps", "0", "-q",
                      "--max-grad-norm", norm)
        assert res.exit_code == 0, res.output
        assert json.loads((out / "config.json").read_text())["options"]["max_grad_norm"] == float(norm)
        return AutoModelForCausalLM.from_pretrained(out / "final").state_dict()

    base = AutoModelForCausalLM.from_pretrained(setup["model"]).state_dict()
    frozen, off, huge = run("frozen", "1e-12"), run("off", "0"), run("huge", "1e9")
    moved = {k: float((off[k] - base[k]).abs().max()) for k in base}
    assert max(moved.values()) > 1e-2
    assert all(float((frozen[k] - base[k]).abs().max()) < 1e-3 * max(moved[k], 1e-6) + 1e-7 for k in base)
    assert all(torch.allclose(off[k], huge[k]) for k in base)
    bad = run_cli("finetune", setup["train"], "--model", setup["model"], "--method", "full", "--out",
                  tmp_path / "bad", "--max-grad-norm", "-1", "-q")
    assert bad.exit_code == 2 and "--max-grad-norm" in bad.output and not (tmp_path / "bad").exists()


def test_bf16_trains_under_autocast_is_recorded_and_compared(setup, tmp_path, run_cli, monkeypatch):
    """--bf16 on the CPU: the steps run under bfloat16 autocast (losses close to float32's, not equal), the
    weights stay float32; the option is recorded, a float32 run records no bf16 key (earlier folders keep
    matching), reusing a folder with the other setting is refused; QLoRA runs with it. On a CPU without native
    bfloat16 it runs, with a one-line warning that it is slower there."""
    import torch
    from transformers import AutoModelForCausalLM

    from metaex.core.models import precision

    def run(name, *extra):
        return run_cli("finetune", setup["train"], "--model", setup["model"], "--method", "lora", "--out",
                       tmp_path / name, "--steps", "3", "--batch-size", "8", "--lr", "1e-2", "--save-steps", "0",
                       "-q", *extra)

    def losses(name):
        return [r["loss"] for r in map(json.loads, (tmp_path / name / "metrics.jsonl").read_text().splitlines())
                if "loss" in r]

    assert run("f32").exit_code == 0
    monkeypatch.setattr(precision, "cpu_bf16", lambda: False)
    b16 = run("b16", "--bf16")
    assert b16.exit_code == 0 and "warning: this CPU has no native bfloat16" in b16.output
    monkeypatch.setattr(precision, "cpu_bf16", lambda: True)
    opts = {n: json.loads((tmp_path / n / "config.json").read_text())["options"] for n in ("f32", "b16")}
    assert "bf16" not in opts["f32"] and opts["b16"] == {**opts["f32"], "bf16": True}
    assert losses("b16") != losses("f32") and losses("b16") == pytest.approx(losses("f32"), rel=2e-2)
    from peft import PeftModel

    net = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(setup["model"]), tmp_path / "b16" / "final")
    assert {p.dtype for p in net.parameters()} == {torch.float32}
    again = run("b16")
    assert again.exit_code == 2 and "options.bf16" in again.output
    # QLoRA takes it too: its embeddings, norms and output layer then stay bf16 (no float32 preparation)
    assert run("q", "--bf16", "--method", "qlora").exit_code == 0
    compute = json.loads((tmp_path / "q" / "config.json").read_text())["compute"]
    assert compute == {"bf16": True, "checkpointing": False, "fused_ce": False}


def test_unseen_init_gives_absent_words_the_mean_embedding(setup, tmp_path, run_cli):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    only_ka = write_jsonl(tmp_path / "ka.jsonl", [{**d, "text": "Vemo: ka ka"} for d in documents(16)])
    out = tmp_path / "run"
    res = run_cli("finetune", only_ka, "--model", setup["model"], "--method", "full", "--out", out, "--steps", "2",
                  "--batch-size", "8", "--save-steps", "0", "--unseen-init", "-q")
    assert res.exit_code == 0, res.output
    tok = AutoTokenizer.from_pretrained(out / "final")
    emb = AutoModelForCausalLM.from_pretrained(out / "final").get_input_embeddings().weight.detach()
    seen = tok.convert_tokens_to_ids(["Vemo", ":", "ka"]) + [tok.bos_token_id, tok.eos_token_id]
    unseen = tok.convert_tokens_to_ids(["blick", "zorp", "tuv"])
    mean = emb[seen].mean(0)
    assert all(torch.allclose(emb[i], mean, atol=0.05 * float(emb[seen].std())) for i in unseen)
    assert not torch.equal(emb[unseen[0]], emb[unseen[1]])        # a little noise keeps them apart
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["unseen_tokens_mean_init"] == len(tok) - len(seen) - 2   # pad and unk are kept as they are
    bad = run_cli("finetune", only_ka, "--model", setup["model"], "--method", "lora", "--out", tmp_path / "r2",
                  "--unseen-init", "-q")
    assert bad.exit_code == 2 and "--unseen-init" in bad.output


def test_packed_document_logits_equal_alone(setup):
    import torch

    from metaex.core.models import load_model
    from metaex.core.train.data import PackingCollator, tokenize_documents

    net, tok = load_model(setup["model"])  # eval mode, where a KV cache would leak across documents
    feats = tokenize_documents(tok, [d["text"] for d in documents(6)], "x")
    batch = PackingCollator()(feats)
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 1
    with torch.no_grad():
        packed = net(**{k: v for k, v in batch.items() if k != "labels"}).logits[0]
        start = 0
        for f in feats:
            n = len(f["input_ids"])
            alone = net(input_ids=torch.tensor([f["input_ids"]])).logits[0]
            assert (packed[start:start + n] - alone).abs().max().item() <= 1e-5
            start += n
    assert f["input_ids"][-1] == tok.eos_token_id != tok.pad_token_id


def test_rows_capped_and_padded_keep_documents_apart(setup):
    """Rows of at most `row_tokens` (padded by a pseudo-document of pad tokens): each document's logits still
    equal its logits alone, and the loss equals the one-row loss (pads carry no labels)."""
    import torch

    from metaex.core.models import load_model
    from metaex.core.train.data import PackingCollator, tokenize_documents

    net, tok = load_model(setup["model"])
    feats = tokenize_documents(tok, [d["text"] for d in documents(7)], "x")
    longest = max(len(f["input_ids"]) for f in feats)
    batch = PackingCollator(row_tokens=longest + 2, pad_id=tok.pad_token_id)(feats)
    rows, width = batch["input_ids"].shape
    assert rows > 1 and width <= 2 * longest + 2
    assert int((batch["labels"] != -100).sum()) == sum(len(f["input_ids"]) - 1 for f in feats)
    assert ((batch["input_ids"] == tok.pad_token_id) <= (batch["labels"] == -100)).all()
    with torch.no_grad():
        logits = net(**{k: v for k, v in batch.items() if k != "labels"}).logits
        for f in feats:
            n = len(f["input_ids"])
            where, i = next((r, i) for r in range(rows) for i in range(width - n + 1)
                            if batch["input_ids"][r, i:i + n].tolist() == f["input_ids"]
                            and batch["position_ids"][r, i] == 0)
            alone = net(input_ids=torch.tensor([f["input_ids"]])).logits[0]
            assert (logits[where, i:i + n] - alone).abs().max().item() <= 1e-5
        one_row = net(**PackingCollator()(feats)).loss.item()
        assert net(**batch).loss.item() == pytest.approx(one_row, abs=1e-5)


def test_a_long_document_trains_apart_from_short_rows_with_the_same_step(setup, monkeypatch):
    """A batch holding one document far longer than the rest: its rows run as groups of similar width (fewer
    positions than one padded batch), and the step is the same: losses and weights equal those of the unsplit
    batch, under both loss norms."""
    from metaex.core.models import load_model
    from metaex.core.train import data, train
    from metaex.core.train.data import PackingCollator, split_by_width, tokenize_documents

    docs = documents(12)
    docs[5] = {**docs[5], "text": "Vemo: " + " ".join(["ka", "zorp", "tuv"] * 60), "doc_kind": "example"}
    train_file = write_jsonl(setup["tmp"] / "long.jsonl", docs)
    net, tok = load_model(setup["model"])
    batch = PackingCollator(row_tokens=32, pad_id=tok.pad_token_id)(
        tokenize_documents(tok, [d["text"] for d in docs[4:8]], "x"))
    groups = split_by_width(batch)
    assert len(groups) == 2 and groups[0]["input_ids"].shape[0] == 1
    assert sum(g["input_ids"].numel() for g in groups) < batch["input_ids"].numel() / 1.5
    assert sum(int((g["labels"] != -100).sum()) for g in groups) == int((batch["labels"] != -100).sum())
    short = PackingCollator(row_tokens=32)(tokenize_documents(tok, [d["text"] for d in docs[:4]], "x"))
    assert split_by_width(short) == [short]          # rows of like width: the batch as it is
    calls = []

    def counted(b, ratio=0.5):
        calls.append(len(split_by_width(b, ratio)))
        return split_by_width(b, ratio)

    t = setup["tmp"]
    for norm in ("fixed", "tokens"):
        opts = {**SMALL, "batch_size": 4, "row_tokens": 32, "loss_norm": norm}
        monkeypatch.setattr(data, "split_by_width", counted)
        split = train(train_file, setup["model"], "full", t / f"split-{norm}", steps=3, **opts)
        monkeypatch.setattr(data, "split_by_width", lambda b, ratio=0.5: [b])
        whole = train(train_file, setup["model"], "full", t / f"whole-{norm}", steps=3, **opts)
        assert _losses(split) == pytest.approx(_losses(whole), abs=1e-5), norm
        a, _ = load_model(str(t / f"split-{norm}" / "final"))
        b, _ = load_model(str(t / f"whole-{norm}" / "final"))
        diff = max((x - y).abs().max().item() for x, y in zip(a.parameters(), b.parameters(), strict=True))
        assert diff <= 1e-5, norm
    assert max(calls) == 2 and calls.count(2) == 2      # the long document's step, once per loss norm


def test_kill_resume_equals_uninterrupted_and_merge(setup, run_subprocess):
    import torch
    from safetensors.torch import load_file

    from metaex.core.models import load_model
    from metaex.core.train import merge, train

    t = setup["tmp"]
    opts = {"batch_size": 2, "lr": 3e-3, "save_steps": 2, "steps": 16}
    cli = ["finetune", setup["train"], "--model", setup["model"], "--method", "lora", "--batch-size", "2",
           "--lr", "3e-3", "--save-steps", "2", "--steps", "16", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "metaex", *map(str, cli), "--out", str(t / "killed")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (t / "killed" / "checkpoints" / "checkpoint-4" / "trainer_state.json").exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (t / "killed" / "final").exists()
    refused = run_subprocess(*cli, "--out", t / "killed")
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = train(setup["train"], setup["model"], "lora", t / "killed", resume=True, **opts)
    whole = train(setup["train"], setup["model"], "lora", t / "whole", **opts)
    # finished: final/ holds the adapter, and no checkpoint is kept beside it (nothing resumes from them)
    assert not (t / "killed" / "checkpoints").exists() and not (t / "whole" / "checkpoints").exists()
    assert _losses(resumed) == pytest.approx(_losses(whole), abs=1e-6) and len(_losses(whole)) == 16
    a = load_file(t / "killed" / "final" / "adapter_model.safetensors")
    b = load_file(t / "whole" / "final" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)

    merge(t / "whole", t / "merged")
    ids = torch.tensor([[2, 5, 6, 7, 8, 9]])
    with torch.no_grad():
        adapted = load_model(setup["model"], adapter=t / "whole")[0](input_ids=ids).logits
        merged = load_model(str(t / "merged"))[0](input_ids=ids).logits
        base = load_model(setup["model"])[0](input_ids=ids).logits
    assert (adapted - merged).abs().max().item() <= 1e-5 < (adapted - base).abs().max().item()


def test_checkpoints_a_kill_left_beside_a_finished_run_are_deleted_when_it_is_asked_for_again(setup, tmp_path):
    """A kill after final/ was committed but before the checkpoints were deleted leaves a finished run with its
    checkpoints, or with the temp they were renamed to: asked again, the run is done and both are gone."""
    import shutil

    from metaex.core.train import train

    opts = {**SMALL, "save_steps": 1, "steps": 2}
    first = train(setup["train"], setup["model"], "lora", tmp_path / "run", **opts)
    assert not first.already_done and (tmp_path / "run" / "final").is_dir()
    assert [p.name for p in (tmp_path / "run").iterdir() if "checkpoint" in p.name] == []
    # what a kill at each point of `_drop_checkpoints` would leave: the folder whole, or renamed by a dead process
    dead = subprocess.Popen(["true"])
    dead.wait()
    shutil.copytree(tmp_path / "run" / "final", tmp_path / "run" / "checkpoints" / "checkpoint-2")
    shutil.copytree(tmp_path / "run" / "final", tmp_path / "run" / f".checkpoints.{dead.pid}.x1.tmp" / "checkpoint-1")
    again = train(setup["train"], setup["model"], "lora", tmp_path / "run", **opts)
    assert again.already_done and again.loss == first.loss
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "final", "metaex_folder.json",
                                                                    "metrics.jsonl"]


def test_qlora_uses_4bit_layers_and_learns(setup):
    import torch

    from metaex.core.models import load_model
    from metaex.core.train import TrainOptions, train
    from metaex.core.train.compute import Compute
    from metaex.core.train.hf import prepare_model

    net, _ = load_model(setup["model"], method="qlora", for_training=True)
    import bitsandbytes as bnb

    net = prepare_model(net, TrainOptions(method="qlora"), Compute(bf16=False, checkpointing=False, fused_ce=False))
    four_bit = [m for m in net.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(four_bit) == 2 * 7 and all(m.weight.dtype == torch.uint8 for m in four_bit)  # q,k,v,o,gate,up,down
    result = train(setup["train"], setup["model"], "qlora", setup["tmp"] / "q", epochs=3, **SMALL)
    losses = _losses(result)
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.2
    assert (setup["tmp"] / "q" / "final" / "adapter_model.safetensors").exists()


def test_qlora_preparation_checkpoints_without_changing_gradients(setup):
    """Where memory needs it (a CUDA card, `compute.py`) QLoRA trains with gradient checkpointing (non-reentrant):
    run here on the CPU, it must give the adapters the gradients of the plain model, and raise no checkpoint warning
    (torch says it will become an error)."""
    import warnings

    import torch

    from metaex.core.models import load_model
    from metaex.core.train import TrainOptions
    from metaex.core.train.compute import Compute
    from metaex.core.train.hf import prepare_model

    opts = TrainOptions(method="qlora", lora_dropout=0.0)
    ids = torch.tensor([[2, 5, 6, 7, 8, 9, 5, 6]])
    grads = []
    for ckpt in (False, True):
        torch.manual_seed(0)
        net = prepare_model(load_model(setup["model"], method="qlora", for_training=True)[0], opts,
                            Compute(bf16=False, checkpointing=ckpt, fused_ce=False))
        assert net.base_model.model.is_gradient_checkpointing is ckpt
        net.train()
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*use_reentrant.*")
            net(input_ids=ids, labels=ids).loss.backward()
        grads.append({n: p.grad.clone() for n, p in net.named_parameters() if p.requires_grad})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) == 2 * 2 * 7   # A and B of 7 modules, 2 layers
    assert any(g.abs().max() > 0 for g in grads[0].values())
    assert all(torch.allclose(grads[0][k], grads[1][k], atol=1e-6) for k in grads[0])


def test_qlora_in_bf16_keeps_its_other_weights_in_bf16_and_gets_the_float32_gradients(setup):
    """With bfloat16 compute (a CUDA card with bf16; here the CPU's autocast on a CPU with avx512_bf16), QLoRA keeps
    the embeddings, norms and output layer in bf16 instead of peft's float32 copies, the adapters in float32, and its
    first step's loss and adapter gradients are those of the float32 preparation within bf16 rounding."""
    import torch

    from metaex.core.models import load_model
    from metaex.core.train import TrainOptions
    from metaex.core.train.compute import Compute
    from metaex.core.train.hf import prepare_model

    opts = TrainOptions(method="qlora", lora_dropout=0.0)
    ids = torch.tensor([[2, 5, 6, 7, 8, 9, 5, 6, 7, 9]])
    out = {}
    for bf16 in (False, True):
        torch.manual_seed(0)
        net = prepare_model(load_model(setup["model"], method="qlora", for_training=True, bf16=bf16)[0], opts,
                            Compute(bf16=bf16, checkpointing=False, fused_ce=False))
        kinds = {(p.dtype, p.requires_grad) for n, p in net.named_parameters()}
        half = torch.bfloat16 if bf16 else torch.float32
        assert kinds == {(torch.uint8, False), (half, False), (torch.float32, True)}, kinds
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = net(input_ids=ids, labels=ids).loss
        loss.backward()
        out[bf16] = loss.item(), torch.cat([p.grad.flatten() for p in net.parameters() if p.requires_grad])
    (l32, g32), (l16, g16) = out[False], out[True]
    assert l16 == pytest.approx(l32, rel=2e-2) and g32.abs().max() > 0
    assert torch.nn.functional.cosine_similarity(g16, g32, dim=0) > 0.99


def test_eval_loss_and_no_network(setup):
    from metaex.core.train import train

    attempts = []

    def hook(event, args):
        if event == "socket.connect":
            attempts.append(args)

    sys.addaudithook(hook)
    result = train(setup["train"], setup["model"], "lora", setup["tmp"] / "e", eval_file=setup["eval"],
                   eval_steps=2, steps=4, **SMALL)
    assert attempts == []
    assert [m["step"] for m in result.metrics if "eval_loss" in m] == [2, 4] and result.eval_loss is not None


@pytest.mark.parametrize("case", ["kind", "empty", "missing", "adapter", "word"])
def test_bad_inputs_are_one_line_exit_2(setup, tmp_path, run_cli, case):
    train_file, model = setup["train"], setup["model"]
    if case == "kind":
        train_file = write_jsonl(tmp_path / "t.jsonl", [{"schema": "metaex/example@1", "kind": "example"}])
    elif case == "empty":
        train_file = write_jsonl(tmp_path / "t.jsonl", [])
    elif case == "missing":
        model = str(tmp_path / "no-such-model")
    elif case == "adapter":
        (tmp_path / "ad").mkdir()
        (tmp_path / "ad" / "adapter_config.json").write_text("{}")
        model = str(tmp_path / "ad")
    else:
        train_file = write_jsonl(tmp_path / "t.jsonl", [{**documents(1)[0], "text": "Vemo: ka florp"}])
    res = run_cli("finetune", train_file, "--model", model, "--method", "full", "--out", tmp_path / "run", "-q")
    expected = {"kind": "t.jsonl:1: record of kind 'example'", "empty": "no records", "missing": "no such model",
                "adapter": "merge", "word": "t.jsonl:1: word 'florp'"}[case]
    assert res.exit_code == 2 and expected in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_accelerate_two_cpu_processes_match_one(setup):
    from safetensors.torch import load_file

    t = setup["tmp"]
    args = ["-m", "metaex", "finetune", str(setup["train"]), "--model", setup["model"], "--method", "full",
            "--lr", "3e-3", "--save-steps", "0", "--steps", "3", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # --multi_gpu picks the torchrun launcher; without CUDA each process runs on CPU with the gloo backend
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    two = subprocess.run([*launch, *args, "--batch-size", "4", "--out", str(t / "ddp")], env=env,
                         capture_output=True, text=True, timeout=180)
    assert two.returncode == 0, two.stderr[-2000:]
    from metaex.core.train import train

    one = train(setup["train"], setup["model"], "full", t / "single", steps=3, **SMALL)
    ddp_losses = [json.loads(x)["loss"] for x in (t / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert ddp_losses == pytest.approx(_losses(one), abs=1e-4)
    a, b = load_file(t / "ddp" / "final" / "model.safetensors"), load_file(t / "single" / "final" / "model.safetensors")
    assert all((a[k] - b[k]).abs().max().item() < 1e-4 for k in a)


def test_a_disk_error_mid_run_is_one_line_and_marks_the_run_failed(setup, tmp_path, run_cli, monkeypatch):
    """A full disk while training: one line naming the file, exit 2, and config.json says the run failed (not
    `running`); the same command then trains the run to its end."""
    import errno

    from transformers import Trainer

    real = Trainer._save_checkpoint

    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "run" / "checkpoints"))

    monkeypatch.setattr(Trainer, "_save_checkpoint", full_disk)
    args = ["finetune", setup["train"], "--model", setup["model"], "--method", "full", "--steps", "4",
            "--batch-size", "8", "--save-steps", "2", "-q", "--out", tmp_path / "run"]
    res = run_cli(*args)
    lines = res.output.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and "No space left on device" in lines[0], res.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["status"] == "failed" and "No space left" in config["error"]
    monkeypatch.setattr(Trainer, "_save_checkpoint", real)
    again = run_cli(*args, "--resume")
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["status"] == "finished"
