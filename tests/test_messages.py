"""Messages: a command group with nothing after it, a moved adapter base, a finetune error (one line, whatever
optional library is installed), and `-` as stdin for a grammar or `--vocab-from` (and where it is refused)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import tiny_helpers as th
from tests.conftest import GRAMMARS


@pytest.mark.parametrize("group", ["", "grammar", "study", "model"])
def test_a_group_with_nothing_after_it_names_its_commands(run_subprocess, group):
    r = run_subprocess(*group.split())
    errors = [line for line in r.stderr.splitlines() if line.startswith("metaex: error")]
    assert r.returncode == 2 and len(errors) == 1, r.stderr
    assert "give a command: " in errors[0] and ":  (" not in errors[0], errors[0]


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """A LoRA run whose base model was given as a relative path with one slash (it looks like a hub id)."""
    d = tmp_path_factory.mktemp("moved")
    (d / "w").mkdir()
    th.build(d / "w", "tiny")
    th.write_jsonl(d / "docs.jsonl", th.documents(20))
    r = subprocess.run([sys.executable, "-m", "metaex", "finetune", "docs.jsonl", "--model", "w/tiny", "--method",
                        "lora", "--steps", "1", "--save-steps", "0", "-q", "--out", "run"], cwd=d, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return d


def test_a_moved_adapter_base_is_named_as_moved(lora_run, run_subprocess):
    d = lora_run
    (d / "vemo.pcfg").write_text("S -> 'ka' S [0.5] | 'zorp' [0.5]\n")
    (d / "w" / "tiny").rename(d / "w" / "elsewhere")
    try:
        for args in (["probe", "--adapter", "run", "--grammar", "vemo.pcfg", "--out", "p"],
                     ["merge", "run", "-o", "m"]):
            r = run_subprocess(*args, cwd=d)
            lines = r.stderr.strip().splitlines()
            assert r.returncode == 2 and len(lines) == 1, r.stderr
            assert "the base model this adapter was trained on" in lines[0] and "no longer exists" in lines[0], lines
            assert "hub" not in lines[0], lines[0]
        assert not (d / "p").exists() and not (d / "m").exists()
    finally:
        (d / "w" / "elsewhere").rename(d / "w" / "tiny")


def test_a_finetune_error_is_one_line_with_the_progress_bar_on(lora_run, run_subprocess, tmp_path):
    """Without -q, a run that fails after loading the model (bitsandbytes imported, the bar started) says one line."""
    r = run_subprocess("finetune", lora_run / "docs.jsonl", "--model", lora_run / "w" / "tiny", "--method", "lora",
                       "--target-modules", "q_proj,nope", "--out", tmp_path / "r")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [r.stderr.strip()], r.stderr
    assert "--target-modules names 'nope'" in r.stderr and not (tmp_path / "r").exists()


def test_dash_reads_a_grammar_or_vocabulary_from_stdin(run_subprocess, tmp_path):
    grammar = (GRAMMARS / "reber.pcfg").read_text()
    from_file = run_subprocess("grammar", "sample", GRAMMARS / "reber.pcfg", "-n", "5", "--seed", "3")
    from_stdin = run_subprocess("grammar", "sample", "-", "-n", "5", "--seed", "3", input=grammar)
    assert from_stdin.returncode == 0, from_stdin.stderr
    texts = [json.loads(line)["text"] for line in from_stdin.stdout.splitlines()]
    assert texts == [json.loads(line)["text"] for line in from_file.stdout.splitlines()]
    (tmp_path / "s.txt").write_text("\n".join(texts) + "\n")
    checked = run_subprocess("grammar", "check", "-", tmp_path / "s.txt", input=grammar)
    assert checked.returncode == 0 and all(json.loads(x)["valid"] for x in checked.stdout.splitlines()), checked.stderr
    explained = run_subprocess("explain", "-", "-o", tmp_path / "e.jsonl", input=grammar)
    assert explained.returncode == 0, explained.stderr
    tiny = run_subprocess("model", "tiny", "--vocab-from", "-", "--no-builtin", "-o", tmp_path / "tiny",
                          input="\n".join(texts) + "\n")
    assert tiny.returncode == 0, tiny.stderr
    vocab = json.loads((tmp_path / "tiny" / "tokenizer.json").read_text())["model"]["vocab"]
    assert {w for t in texts for w in t.split()} <= set(vocab)


@pytest.mark.parametrize("args", [["grammar", "check", "-"], ["grammar", "check", "-", "-"],
                                  ["model", "tiny", "--vocab-from", "-", "--vocab-from", "-", "-o", "{tmp}/t"]])
def test_dash_for_two_inputs_is_refused(run_subprocess, tmp_path, args):
    r = run_subprocess(*[a.format(tmp=tmp_path) for a in args], input="S -> 'a' [1.0]\n")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "is given for two inputs" in lines[0], r.stderr
