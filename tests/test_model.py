"""`metaex model tiny` and model loading: hub-like folders, word-level tokenizer, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tiny_helpers import build, documents, write_jsonl


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build(tmp_path_factory.mktemp("model"))


def test_folder_loads_like_a_hub_model(tiny):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    model = AutoModelForCausalLM.from_pretrained(tiny)
    ids = tok("Vemo: ka blick?")["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["<s>", "Vemo", ":", "ka", "blick", "?"]
    assert tok.pad_token_id != tok.eos_token_id and tok.unk_token_id is not None
    # a newline is a token (it ends a quoted example in textbook and worked documents) and stops generation
    ids = tok("Vemo: ka\nVemo:  blick", add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["Vemo", ":", "ka", "\n", "Vemo", ":", "blick"]
    from metaex.core.probe.generate import stop_token_ids

    assert stop_token_ids(tok) == [tok.eos_token_id, tok.convert_tokens_to_ids("\n")]
    assert model.config.tie_word_embeddings and model.config.hidden_size == 64
    assert model.config.eos_token_id == tok.eos_token_id and model.config.vocab_size == len(tok)


def test_same_seed_same_bytes_other_seed_other_weights(tmp_path, tiny):
    again = build(tmp_path, seed=0)
    other = build(tmp_path, name="other", seed=1)
    same = (again / "model.safetensors").read_bytes() == (tiny / "model.safetensors").read_bytes()
    assert same and (other / "model.safetensors").read_bytes() != (tiny / "model.safetensors").read_bytes()
    assert (again / "tokenizer.json").read_text() == (tiny / "tokenizer.json").read_text()


def test_cli_vocab_from_jsonl_and_pcfg(tmp_path, run_cli):
    (tmp_path / "g.pcfg").write_text("# name: vemo\nS -> 'ka' [0.5] | 'blick' S [0.5]\n")
    docs = write_jsonl(tmp_path / "d.jsonl", [{**documents(1)[0], "text": "Zib: (glo|tam)"}])
    res = run_cli("model", "tiny", "--vocab-from", tmp_path / "g.pcfg", "--vocab-from", docs, "--no-builtin",
                  "--seed", 2, "-o", tmp_path / "m")
    assert res.exit_code == 0, res.output
    vocab = json.loads((tmp_path / "m" / "tokenizer.json").read_text())["model"]["vocab"]
    assert set(vocab) == {"<pad>", "<unk>", "<s>", "</s>", "vemo", "ka", "blick", "Zib", ":", "(", "glo", "|",
                          "tam", ")"}


def test_load_errors_are_one_line(tmp_path, tiny):
    from metaex.core.errors import InputError
    from metaex.core.models import check_coverage, load_model

    with pytest.raises(InputError, match="no such model folder"):
        load_model(str(tmp_path / "missing"))
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(InputError, match="merge"):
        load_model(str(adapter))
    _, tok = load_model(str(tiny))
    with pytest.raises(InputError, match=r"f\.jsonl:2: word 'frob'"):
        check_coverage(tok, ["Vemo: ka", "Vemo: ka frob"], "f.jsonl")


def _hub_cache(home, repo: str, commit: str, folder) -> None:
    """`folder`'s files as huggingface_hub lays a download out under HF_HOME: blobs named by content, a snapshot
    folder of links to them per commit, and refs/main naming the commit."""
    import hashlib

    root = home / "hub" / f"models--{repo.replace('/', '--')}"
    for f in folder.iterdir():
        blob = root / "blobs" / hashlib.sha256(f.read_bytes()).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(f.read_bytes())
        link = root / "snapshots" / commit / f.name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f"../../blobs/{blob.name}")
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(commit)


def test_a_hub_model_is_recorded_with_the_commit_its_weights_came_from(tmp_path, run_subprocess):
    """A run on a hub id records `hub:ID@COMMIT`, the snapshot refs/main names in the local cache (offline: a fake
    cache under HF_HOME, no network); when refs/main moves to other weights, its adapter no longer loads on the
    id, and an adapter recorded before commits were recorded (`hub:ID`) still does."""
    first, second = "a" * 40, "b" * 40
    home = tmp_path / "hf"
    _hub_cache(home, "toy/Tiny", first, build(tmp_path / "m", seed=0))
    data = write_jsonl(tmp_path / "train.jsonl", documents(8))
    env = {"HF_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    done = run_subprocess("finetune", data, "--model", "toy/Tiny", "--method", "lora", "--steps", "1",
                          "--batch-size", "4", "--save-steps", "0", "--out", tmp_path / "run", "-q", env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["base_model"] == "toy/Tiny" and cfg["base_fingerprint"] == f"hub:toy/Tiny@{first}"
    meta = tmp_path / "run" / "final" / "metaex.json"
    assert json.loads(meta.read_text())["base_fingerprint"] == f"hub:toy/Tiny@{first}"
    _hub_cache(home, "toy/Tiny", second, build(tmp_path / "m2", seed=1))      # refs/main now names other weights
    check = ("from metaex.core.models import load_model\nfrom metaex.core.errors import InputError\n"
             f"try:\n    load_model('toy/Tiny', adapter={str(tmp_path / 'run')!r})\n    print('loaded')\n"
             "except InputError as e:\n    print(e)")

    def load() -> str:
        return subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path,
                              env={**os.environ, **env}, timeout=300).stdout.strip()

    assert "trained on another base model" in load()
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "base_fingerprint": "hub:toy/Tiny"}))
    assert load() == "loaded"
