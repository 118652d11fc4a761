"""The bad-input table: every command, real CLI runs on real files; each bad input is one line naming the file
(and line) at fault, exit 2, no traceback, and nothing written or destroyed."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import GRAMMARS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    """A small world of real inputs: an instance, its strings and explanations, a mix, a tiny model, a full run,
    a probe of it and a report folder."""
    from typer.testing import CliRunner

    from metaex.cli.main import app

    d = tmp_path_factory.mktemp("world")
    runner = CliRunner()

    def run(*args):
        r = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return r

    run("grammar", "instantiate", GRAMMARS / "reber.pcfg", "--seed", "0", "-o", d / "g.pcfg")
    run("grammar", "instantiate", GRAMMARS / "counting.pcfg", "--seed", "0", "--avoid", d / "g.pcfg",
        "-o", d / "h.pcfg")
    for g in ("g", "h"):
        run("grammar", "sample", d / f"{g}.pcfg", "-n", "8", "--seed", "0", "--distinct", "--max-len", "12",
            "--split", "train", "--test", "6", "--test-out", d / f"{g}.test.jsonl", "-o", d / f"{g}.train.jsonl")
        run("grammar", "sample", d / f"{g}.pcfg", "-n", "30", "--seed", "5", "--max-len", "12", "-o",
            d / f"{g}.pool.jsonl")
        run("explain", d / f"{g}.pcfg", "--paraphrases", "2", "-o", d / f"{g}.expl.jsonl")
    mix = ["--examples", d / "g.train.jsonl", "--examples", d / "h.train.jsonl", "--explanations",
           d / "g.expl.jsonl", "--explanations", d / "h.expl.jsonl", "--tests", d / "g.test.jsonl", "--tests",
           d / "h.test.jsonl", "--paraphrases", "2", "--dose", "4", "--seed", "0"]
    run("mix", "--condition", "examples", *mix, "-o", d / "mix.jsonl")
    run("model", "tiny", "--vocab-from", d / "g.pcfg", "--vocab-from", d / "h.pcfg", "--vocab-from",
        d / "g.expl.jsonl", "--vocab-from", d / "h.expl.jsonl", "--seed", "0", "-o", d / "tiny")
    run("finetune", d / "mix.jsonl", "--model", d / "tiny", "--method", "full", "--steps", "2", "--batch-size", "4",
        "--save-steps", "0", "-q", "--out", d / "run")
    probe = ["--grammar", d / "g.pcfg", "--grammar", d / "h.pcfg", "--samples", "2", "--limit", "2", "--cuts", "1"]
    run("probe", "--model", d / "run", *probe, "--out", d / "probe")
    run("probe", "--model", d / "tiny", *probe, "--out", d / "probe-base")
    run("report", d / "probe", "--no-contrasts", "--bootstrap", "20", "--out", d / "report")
    (d / "notes").mkdir()
    (d / "notes" / "keep.txt").write_text("mine\n")
    (d / "file.txt").write_text("a file\n")
    (d / "bom.pcfg").write_bytes(b"\xef\xbb\xbf" + (d / "g.pcfg").read_bytes())
    return {"d": d, "mix": mix, "probe": probe}


def _grammar(d: Path, name: str, text: str) -> Path:
    (d / name).write_text(text)
    return d / name


def _snapshot(d: Path) -> dict[str, str]:
    """Every file under d with a hash of its bytes (to prove nothing was written or destroyed)."""
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(d.rglob("*"))}


# (id, args with {d} for the world folder, text the one line must contain). Extra files come from `setup`.
CASES = [
    # grammar sample
    ("sample-n-negative", "grammar sample {d}/g.pcfg -n -1 --seed 0", "Invalid value for '-n'"),
    ("sample-max-len-0", "grammar sample {d}/g.pcfg -n 2 --seed 0 --max-len 0", "Invalid value for '--max-len'"),
    ("sample-out-is-input", "grammar sample {d}/g.pcfg -n 2 --seed 0 -o {d}/g.pcfg", "is also an input"),
    ("sample-test-out-is-out", "grammar sample {d}/g.pcfg -n 2 --seed 0 --test 2 --test-out {d}/x.jsonl "
     "-o {d}/x.jsonl", "is given twice as an output"),
    ("sample-out-is-folder", "grammar sample {d}/g.pcfg -n 2 --seed 0 -o {d}/notes", "is a folder, expected a file"),
    ("sample-grammar-is-folder", "grammar sample {d}/notes -n 2 --seed 0", "is a directory"),
    ("sample-no-seed", "grammar sample {d}/g.pcfg -n 2", "Missing option '--seed'"),
    ("sample-zero-prob-rule", "grammar sample {d}/zero.pcfg -n 2 --seed 0", "has probability 0"),
    ("sample-quote-terminal", "grammar sample {d}/quote.pcfg -n 2 --seed 0", "contains a quote"),
    # grammar check / pairs / instantiate / random / info
    ("check-out-is-input", "grammar check {d}/g.pcfg {d}/g.test.jsonl -o {d}/g.test.jsonl", "is also an input"),
    ("check-out-is-grammar", "grammar check {d}/g.pcfg {d}/g.test.jsonl -o {d}/g.pcfg", "is also an input"),
    ("check-missing-input", "grammar check {d}/g.pcfg {d}/none.jsonl", "no such file"),
    ("check-bad-json", "grammar check {d}/g.pcfg {d}/broken.jsonl", "broken.jsonl:2: not valid JSON"),
    ("pairs-out-is-input", "grammar pairs {d}/g.pcfg {d}/g.test.jsonl --seed 0 -o {d}/g.test.jsonl",
     "is also an input"),
    ("pairs-per-string-0", "grammar pairs {d}/g.pcfg {d}/g.test.jsonl --seed 0 --per-string 0",
     "Invalid value for '--per-string'"),
    ("pairs-other-grammar", "grammar pairs {d}/g.pcfg {d}/h.test.jsonl --seed 0", "not of"),
    ("instantiate-over-input", "grammar instantiate {d}/g.pcfg --seed 1 -o {d}/g.pcfg", "is also an input"),
    ("instantiate-over-avoid", "grammar instantiate {d}/g.pcfg --seed 1 --avoid {d}/h.pcfg -o {d}/h.pcfg",
     "is also an input"),
    ("instantiate-missing-avoid", "grammar instantiate {d}/g.pcfg --seed 1 --avoid {d}/none.pcfg",
     "no such grammar file"),
    ("random-family", "grammar random --family tree --seed 0", "unknown grammar family"),
    ("random-out-folder", "grammar random --family cfg --seed 0 -o {d}/notes", "is a folder, expected a file"),
    ("info-samples-negative", "grammar info {d}/g.pcfg --samples -1", "Invalid value for '--samples'"),
    ("grammar-unknown-command", "grammar frobnicate", "No such command 'frobnicate'"),
    # explain
    ("explain-over-grammar", "explain {d}/g.pcfg -o {d}/g.pcfg", "is also an input"),
    ("explain-style", "explain {d}/g.pcfg --styles prose,sonnet", "unknown style 'sonnet'"),
    ("explain-quote-terminal", "explain {d}/quote.pcfg", "contains a quote"),
    # mix and bridge
    ("mix-over-examples", "mix --condition examples {mix} -o {d}/g.train.jsonl", "is also an input"),
    ("mix-manifest-is-out", "mix --condition examples {mix} -o {d}/m.jsonl --manifest {d}/m.jsonl",
     "is given twice as an output"),
    ("mix-dose-0", "mix --condition examples {mix_nodose} --dose 0 -o {d}/m.jsonl", "--dose must be at least 1"),
    ("mix-condition", "mix --condition vibes {mix} -o {d}/m.jsonl", "--condition must be one of examples, explained"),
    ("mix-filler-too-few", "mix --condition filler {mix} --filler {d}/tiny-filler.jsonl -o {d}/m.jsonl",
     "reach"),
    ("mix-test-as-examples", "mix --condition examples {mix} --examples {d}/g.test.jsonl -o {d}/m.jsonl",
     "of split 'test'"),
    ("bridge-over-avoid", "bridge --grammars 2 --seed 0 --avoid {d}/g.pcfg -o {d}/g.pcfg", "is also an input"),
    # model tiny
    ("tiny-out-file", "model tiny --vocab-from {d}/g.pcfg -o {d}/file.txt", "is a file, expected a folder"),
    ("tiny-out-other-folder", "model tiny --vocab-from {d}/g.pcfg -o {d}/notes", "this command did not write"),
    ("tiny-out-run", "model tiny --vocab-from {d}/g.pcfg -o {d}/run", "this command did not write"),
    ("tiny-size", "model tiny --vocab-from {d}/g.pcfg --size huge -o {d}/t2", "unknown size 'huge'"),
    ("tiny-missing-vocab", "model tiny --vocab-from {d}/none.jsonl -o {d}/t2", "no such file"),
    # finetune
    ("finetune-batch-0", "finetune {d}/mix.jsonl --model {d}/tiny --method full --batch-size 0 --out {d}/r2",
     "--batch-size must be at least 1, got 0"),
    ("finetune-lr-negative", "finetune {d}/mix.jsonl --model {d}/tiny --method full --lr -1 --out {d}/r2",
     "--lr must be positive, got -1.0"),
    ("finetune-steps-0", "finetune {d}/mix.jsonl --model {d}/tiny --method full --steps 0 --out {d}/r2",
     "--steps must be at least 1"),
    ("finetune-steps-negative", "finetune {d}/mix.jsonl --model {d}/tiny --method full --steps -5 --out {d}/r2",
     "--steps must be at least 1"),
    ("finetune-method", "finetune {d}/mix.jsonl --model {d}/tiny --method deep --out {d}/r2", "--method must be one of full, lora, qlora, got 'deep'"),
    ("finetune-loss-norm", "finetune {d}/mix.jsonl --model {d}/tiny --method full --loss-norm mean --out {d}/r2",
     "--loss-norm must be one of tokens, fixed, got 'mean'"),
    ("finetune-warmup", "finetune {d}/mix.jsonl --model {d}/tiny --method full --warmup -1 --out {d}/r2",
     "--warmup must be at least 0"),
    # issue 30: every float option is finite and in range, a seed is not negative (checked once, in the schema)
    *[(f"finetune-{flag}-{value}", f"finetune {{d}}/mix.jsonl --model {{d}}/tiny --method full --{flag} {value} "
       "--out {d}/r2", f"--{flag} must be {message}")
      for flag, value, message in (("lr", "inf", "a finite number, got inf"), ("lr", "1e400", "a finite number, got inf"),
                                   ("lr", "nan", "a finite number, got nan"), ("lr", "0", "positive, got 0.0"),
                                   ("weight-decay", "nan", "a finite number"), ("warmup", "nan", "a finite number"),
                                   ("epochs", "inf", "a finite number"), ("max-grad-norm", "-inf", "a finite number"),
                                   ("min-lr-ratio", "2", "between 0 and 1"), ("betas", "0.9,1.5", "in [0, 1)"),
                                   ("seed", "-1", "at least 0"))],
    ("probe-temperature-nan", "probe --model {d}/tiny --grammar {d}/g.pcfg --temperature nan --out {d}/p2",
     "--temperature must be a finite number, got nan"),
    ("mix-seed-negative", "mix {mix_noseed} --condition examples --seed -2 -o {d}/m.jsonl", "--seed must be at least 0"),
    ("finetune-device", "finetune {d}/mix.jsonl --model {d}/tiny --method full --device tpu --out {d}/r2",
     "--device should be cpu or cuda"),
    ("finetune-target-modules", "finetune {d}/mix.jsonl --model {d}/tiny --method lora --target-modules q_proj,qkv "
     "--out {d}/r2", "--target-modules names 'qkv', which is no linear layer"),
    ("finetune-target-modules-empty", "finetune {d}/mix.jsonl --model {d}/tiny --method lora --target-modules , "
     "--out {d}/r2", "--target-modules names ''"),
    ("finetune-out-is-model", "finetune {d}/mix.jsonl --model {d}/tiny --method full --out {d}/tiny",
     "is also an input"),
    ("finetune-out-is-train", "finetune {d}/mix.jsonl --model {d}/tiny --method full --out {d}/mix.jsonl",
     "is also an input"),
    ("finetune-out-in-model", "finetune {d}/mix.jsonl --model {d}/tiny --method full --out {d}/tiny/run",
     "lies inside the input"),
    ("finetune-out-other-folder", "finetune {d}/mix.jsonl --model {d}/tiny --method full --out {d}/notes",
     "this command did not write"),
    ("finetune-unseen-lora", "finetune {d}/mix.jsonl --model {d}/tiny --method lora --unseen-init --out {d}/r2",
     "needs --method full"),
    ("finetune-missing-train", "finetune {d}/none.jsonl --model {d}/tiny --method full --out {d}/r2", "no such file"),
    # merge
    ("merge-full-run", "merge {d}/run -o {d}/merged", "is a full fine-tune run"),
    ("merge-missing", "merge {d}/none -o {d}/merged", "no such run"),
    # probe
    ("probe-samples-0", "probe --model {d}/tiny --grammar {d}/g.pcfg --samples 0 --out {d}/p2",
     "--samples must be at least 1, got 0"),
    ("probe-temperature", "probe --model {d}/tiny --grammar {d}/g.pcfg --temperature -1 --out {d}/p2",
     "--temperature must be at least 0"),
    ("probe-cuts", "probe --model {d}/tiny --grammar {d}/g.pcfg --cuts 0,2 --out {d}/p2", "--cuts must be at least 1, got [0, 2]"),
    ("probe-length-reference", "probe --model {d}/tiny --grammar {d}/g.pcfg --length-reference vibes --out {d}/p2",
     "--length-reference must be one of"),
    ("probe-out-is-model", "probe --model {d}/tiny {probe} --out {d}/tiny", "is also an input"),
    ("probe-out-in-run", "probe --model {d}/run {probe} --out {d}/run/probe", "lies inside the input"),
    ("probe-out-file", "probe --model {d}/tiny {probe} --out {d}/file.txt", "is a file, expected a folder"),
    ("probe-out-other-run", "probe --model {d}/tiny {probe} --out {d}/probe", "holds the probe of another model"),
    ("probe-out-other-folder", "probe --model {d}/tiny {probe} --out {d}/notes", "this command did not write"),
    ("probe-train-pool", "probe --model {d}/tiny {probe} --train {d}/g.pool.jsonl --out {d}/p2",
     "split 'pool' given as training strings"),
    ("probe-no-model", "probe --grammar {d}/g.pcfg --out {d}/p2", "give --model"),
    ("probe-limit-0", "probe --model {d}/tiny --grammar {d}/g.pcfg --limit 0 --out {d}/p2",
     "--limit must be at least 1, got 0"),
    # report
    ("report-out-is-probe", "report {d}/probe {d}/probe-base --out {d}/probe", "is also an input"),
    ("report-out-file", "report {d}/probe --out {d}/file.txt", "is a file, expected a folder"),
    ("report-out-other-folder", "report {d}/probe --out {d}/notes", "this command did not write"),
    ("report-bootstrap-1", "report {d}/probe --bootstrap 1 --out {d}/rep", "--bootstrap must be at least 2"),
    ("report-missing-probe", "report {d}/none --out {d}/rep", "not a probe dir"),
    # a folder is ours only by our marker (whatever its files are called); anything else is refused, never emptied
    ("finetune-out-foreign-checkpoints", "finetune {d}/mix.jsonl --model {d}/tiny --method full --steps 1 "
     "--out {d}/foreign-run", "this command did not write"),
    ("probe-out-foreign-parts", "probe --model {d}/tiny {probe} --out {d}/foreign-probe", "this command did not write"),
    ("probe-parts-foreign", "probe --model {d}/tiny {probe} --parts {d}/foreign-probe/parts --out {d}/p2",
     "this command did not write"),
    ("finetune-out-foreign-config", "finetune {d}/mix.jsonl --model {d}/tiny --method full --steps 1 "
     "--out {d}/fake-config", "this command did not write"),
    ("study-out-lock-only", "study run {d}/study.toml --out {d}/locked", "this command did not write"),
    ("report-out-foreign-report", "report {d}/probe --out {d}/fake-report", "this command did not write"),
    ("tiny-out-foreign-meta", "model tiny --vocab-from {d}/g.pcfg -o {d}/fake-tiny", "this command did not write"),
    ("tiny-out-other-schema", "model tiny --vocab-from {d}/g.pcfg -o {d}/fake-marker", "this command did not write"),
    ("tiny-out-probe", "model tiny --vocab-from {d}/g.pcfg -o {d}/probe", "did not write (a probe"),
    ("report-out-run", "report {d}/probe --out {d}/run", "did not write (a fine-tuning run"),
    ("merge-out-tiny", "merge {d}/run -o {d}/tiny", "is a full fine-tune run"),
    # `-` is never a folder output
    ("tiny-out-dash", "model tiny --vocab-from {d}/g.pcfg -o -", "cannot be a folder"),
    ("report-out-dash", "report {d}/probe --out -", "cannot be a folder"),
    ("probe-out-dash", "probe --model {d}/tiny {probe} --out -", "cannot be a folder"),
    ("probe-parts-dash", "probe --model {d}/tiny {probe} --parts - --out {d}/p2", "cannot be a folder"),
    ("finetune-out-dash", "finetune {d}/mix.jsonl --model {d}/tiny --method full --out -", "cannot be a folder"),
    ("study-out-dash", "study run {d}/study.toml --out -", "cannot be a folder"),
    ("import-out-dash", "model import {d}/cut.gguf -o -", "cannot be a folder"),
    # no file or folder output inside a model, run, probe, report or study folder
    ("explain-into-model", "explain {d}/g.pcfg -o {d}/tiny/tokenizer.json", "lies inside"),
    ("sample-into-run", "grammar sample {d}/g.pcfg -n 2 --seed 0 -o {d}/run/config.json", "lies inside"),
    ("sample-test-into-probe", "grammar sample {d}/g.pcfg -n 2 --seed 0 --test 1 --test-out "
     "{d}/probe-base/t.jsonl -o {d}/s.jsonl", "lies inside"),
    ("check-into-probe", "grammar check {d}/g.pcfg {d}/g.test.jsonl -o {d}/probe/summary.jsonl", "lies inside"),
    ("pairs-into-report", "grammar pairs {d}/g.pcfg {d}/g.test.jsonl --seed 0 -o {d}/report/report.json",
     "lies inside"),
    ("random-into-parts", "grammar random --family cfg --seed 0 -o {d}/probe/parts/new.pcfg", "lies inside"),
    ("mix-into-study", "mix --condition examples {mix} -o {d}/study/m.jsonl", "lies inside"),
    ("bridge-into-final", "bridge --grammars 2 --seed 0 -o {d}/run/final/b.jsonl", "lies inside"),
    ("instantiate-into-hf-model", "grammar instantiate {d}/g.pcfg --seed 3 -o {d}/hf/g.pcfg", "a model folder"),
    ("tiny-into-run", "model tiny --vocab-from {d}/g.pcfg -o {d}/run/sub", "lies inside"),
    ("report-into-model", "report {d}/probe --out {d}/tiny/rep", "lies inside"),
    ("probe-into-study", "probe --model {d}/tiny {probe} --out {d}/study/p", "lies inside"),
    # values the options cannot check: checked where they are read
    ("import-truncated-header", "model import {d}/trunc.gguf -o {d}/imp", "a truncated GGUF file: 9 bytes"),
    ("import-truncated-metadata", "model import {d}/cut.gguf -o {d}/imp", "transformers cannot read this GGUF"),
    ("probe-model-is-probe", "probe --model {d}/probe {probe} --out {d}/p2", "is a probe (`metaex probe`), not a model"),
    ("finetune-model-is-report", "finetune {d}/mix.jsonl --model {d}/report --method full --out {d}/r2",
     "is a report (`metaex report`), not a model"),
    ("probe-model-is-notes", "probe --model {d}/notes {probe} --out {d}/p2", "not a model folder (no config.json)"),
    ("probe-model-config-only", "probe --model {d}/fake-config {probe} --out {d}/p2", "not a model folder"),
    # bounded costs: a string longer than a check takes, a grammar bigger than an explanation is written for
    ("check-too-long", "grammar check {d}/g.pcfg {d}/long.txt", "long.txt:1: a string of 300,000 words"),
    ("pairs-too-long", "grammar pairs {d}/g.pcfg {d}/long.txt --seed 0", "long.txt:1: a string of 300,000 words"),
    ("explain-too-big", "explain {d}/big.pcfg", "metaex explains grammars of at most 500 rules"),
    # JSON nested 100,000 deep: one line at its file:line, in every reader of JSONL
    ("check-deep-json", "grammar check {d}/g.pcfg {d}/deep.jsonl", "deep.jsonl:2: JSON nested too deeply"),
    ("pairs-deep-json", "grammar pairs {d}/g.pcfg {d}/deep.jsonl --seed 0", "deep.jsonl:2: JSON nested too deeply"),
    ("mix-deep-json", "mix --condition examples {mix} --examples {d}/deep.jsonl -o {d}/m.jsonl",
     "deep.jsonl:2: JSON nested too deeply"),
    ("probe-deep-json", "probe --model {d}/tiny {probe} --tests {d}/deep.jsonl --out {d}/p2",
     "deep.jsonl:2: JSON nested too deeply"),
    ("report-deep-json", "report {d}/deep-probe --out {d}/rep2", "summary.jsonl:"),
    ("finetune-deep-json", "finetune {d}/deep-docs.jsonl --model {d}/tiny --method full --out {d}/r2",
     "deep-docs.jsonl:2: JSON nested too deeply"),
    ("tiny-deep-json", "model tiny --vocab-from {d}/deep.jsonl -o {d}/t2", "deep.jsonl:2: JSON nested too deeply"),
    ("study-deep-toml", "study run {d}/deep.toml --out {d}/s", "nested too deeply"),
    # study
    ("study-unknown-key", "study run {d}/typo.toml --out {d}/s", "unknown key 'sed' in [study] (did you mean 'seeds'?)"),
    ("study-unknown-section", "study run {d}/section.toml --out {d}/s", "unknown section [modle] (did you mean 'model'?)"),
    ("study-shard", "study run {d}/study.toml --shard 2/2 --out {d}/s", "--shard should be I/N"),
    ("study-stage", "study run {d}/study.toml --stage train2 --out {d}/s", "--stage should be one of"),
    ("study-out-file", "study run {d}/study.toml --out {d}/file.txt", "is a file, expected a folder"),
    ("study-out-other-folder", "study run {d}/study.toml --out {d}/notes", "this command did not write"),
    ("study-bridge-unused", "study run {d}/unbridged.toml --out {d}/s", "bridge_grammars is set but the arm is not"),
    ("study-bad-type", "study run {d}/badtype.toml --out {d}/s", "[model] batch_size must be an integer"),
    ("study-lr-zero", "study run {d}/lr-0.toml --out {d}/s", "[model] lr must be positive, got 0.0"),
    ("study-lr-nan", "study run {d}/lr-nan.toml --out {d}/s", "[model] lr must be a finite number, got nan"),
    ("study-arm-lr-inf", "study run {d}/lr-inf.toml --out {d}/s", "[arms.tiny-bridged] lr must be a finite number"),
    ("study-seeds-negative", "study run {d}/seeds-negative.toml --out {d}/s", "[study] seeds must be at least 0"),
    ("study-seeds-twice", "study run {d}/seeds-twice.toml --out {d}/s", "[study] seeds must not repeat a value"),
    # a value only a step's options can refuse is found before the study's first step, not after its data stage
    ("study-step-options", "study run {d}/unseen-lora.toml --out {d}/s",
     "step 'seed0 tiny-unbridged finetune examples d8': --unseen-init changes embeddings: it needs --method full"),
]


def _setup(d: Path) -> None:
    """Extra bad files the cases name (written once per module)."""
    if (d / "zero.pcfg").exists():
        return
    _grammar(d, "zero.pcfg", "S -> 'a' S [0.5] | 'b' [0.5] | 'c' [0.0]\n")
    _grammar(d, "quote.pcfg", "S -> \"don't\" S [0.5] | 'b' [0.5]\n")
    first = (d / "g.test.jsonl").read_text().splitlines()[0]
    (d / "broken.jsonl").write_text(first + "\n{broken\n")
    h = (d / "h.expl.jsonl").read_text().splitlines()[0]
    rec = json.loads(h)
    rec.update(grammar="Zzfill", grammar_hash="fffffffffff0", text="Zzfill is short .")
    (d / "tiny-filler.jsonl").write_text(json.dumps(rec) + "\n")
    base = (ROOT / "tests" / "test_study.py").read_text().split('MICRO = """')[1].split('"""')[0]
    base = base.replace("{grammars}", str(GRAMMARS))
    (d / "study.toml").write_text(base)
    (d / "typo.toml").write_text(base.replace("seeds = [0, 1]", "seeds = [0, 1]\nsed = 3"))
    (d / "section.toml").write_text(base + "\n[modle]\nsize = 'tiny'\n")
    (d / "unbridged.toml").write_text(base.replace("[arms.tiny-unbridged]\nbridged = false",
                                                   "[arms.tiny-unbridged]\nbridged = false\nbridge_grammars = 3"))
    (d / "badtype.toml").write_text(base.replace("batch_size = 16", "batch_size = '16'", 1))
    for name, edit in (("lr-0", ("[model]\n", "[model]\nlr = 0\n")), ("lr-nan", ("[model]\n", "[model]\nlr = nan\n")),
                       ("lr-inf", ("bridge_epochs = 1", "bridge_epochs = 1\nlr = inf")),
                       ("seeds-negative", ("seeds = [0, 1]", "seeds = [-2, -1]")),
                       ("seeds-twice", ("seeds = [0, 1]", "seeds = [0, 0]")),
                       ("unseen-lora", ("[model]\n", "[model]\nunseen_init = true\n"))):
        text = base.replace(*edit)
        if name == "unseen-lora":
            text = text.replace("[arms.tiny-unbridged]\nbridged = false", "[arms.tiny-unbridged]\nbridged = false\n"
                                "method = \"lora\"")
        (d / f"{name}.toml").write_text(text)
    _foreign_folders(d)
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    word = json.loads(first)["text"].split()[0]
    (d / "long.txt").write_text(" ".join([word] * 300_000) + "\n")
    (d / "big.pcfg").write_text("".join(f"N{i} -> 'a' N{(i + 1) % 3000} [0.5] | 'b' [0.5]\n" for i in range(3000)))
    (d / "deep.jsonl").write_text(first + "\n" + deep + "\n")
    (d / "deep-docs.jsonl").write_text((d / "mix.jsonl").read_text().splitlines()[0] + "\n" + deep + "\n")
    (d / "deep.toml").write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    shutil.copytree(d / "probe", d / "deep-probe")
    with open(d / "deep-probe" / "summary.jsonl", "a") as fh:
        fh.write(deep + "\n")
    # a real study folder: started, its first (report) step fails for want of probes
    from typer.testing import CliRunner

    from metaex.cli.main import app

    r = CliRunner().invoke(app, ["study", "run", str(d / "study.toml"), "--stage", "report", "--out", str(d / "study")])
    assert r.exit_code == 2 and (d / "study" / "config.resolved.json").is_file(), r.output


def _foreign_folders(d: Path) -> None:
    """Folders another tool wrote, named like ours: none carries our marker."""
    (d / "foreign-run" / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    (d / "foreign-run" / "checkpoints" / "checkpoint-1" / "weights.bin").write_bytes(b"theirs")
    (d / "foreign-run" / "metrics.jsonl").write_text('{"step": 1}\n')
    (d / "foreign-probe" / "parts").mkdir(parents=True)
    (d / "foreign-probe" / "parts" / "a.jsonl").write_text('{"x": 1}\n')
    (d / "foreign-probe" / "items.jsonl").write_text('{"x": 2}\n')
    (d / "fake-config").mkdir()
    (d / "fake-config" / "config.json").write_text('{"schema": "other/run@1", "status": "running"}\n')
    (d / "locked").mkdir()
    (d / "locked" / ".lock").write_text("")
    (d / "fake-report").mkdir()
    (d / "fake-report" / "report.json").write_text('{"schema": "theirs"}\n')
    (d / "fake-tiny").mkdir()
    (d / "fake-tiny" / "metaex_tiny.json").write_text("not ours\n")
    (d / "fake-marker").mkdir()
    (d / "fake-marker" / "metaex_folder.json").write_text('{"schema": "metaex/folder@9", "kind": "tiny"}\n')
    (d / "trunc.gguf").write_bytes(b"GGUF\x03\x00\x00\x00\x01")   # the magic, then a header cut short
    # a whole header announcing 2 tensors and 3 metadata entries, then the file ends
    (d / "cut.gguf").write_bytes(b"GGUF" + (3).to_bytes(4, "little") + (2).to_bytes(8, "little")
                                 + (3).to_bytes(8, "little") + b"\x05\x00")
    (d / "hf").mkdir()
    (d / "hf" / "config.json").write_text("{}\n")
    (d / "hf" / "model.safetensors").write_bytes(b"\0" * 8)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(w, run_cli, case):
    name, template, message = case
    d = w["d"]
    _setup(d)
    mix = " ".join(map(str, w["mix"]))
    args = template.format(d=d, mix=mix, mix_nodose=mix.replace("--dose 4 ", ""), mix_noseed=mix.replace("--seed 0", ""),
                           probe=" ".join(map(str, w["probe"]))).split()
    before = _snapshot(d)
    result = run_cli(*args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("metaex: error: "), result.output
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert _snapshot(d) == before, f"{name} changed the folder"


def test_the_table_covers_every_command():
    commands = {c[1].split()[0] if c[1].split()[0] not in ("grammar", "model", "study") else " ".join(c[1].split()[:2])
                for c in CASES}
    assert {"grammar sample", "grammar check", "grammar pairs", "grammar instantiate", "grammar random",
            "grammar info", "explain", "mix", "bridge", "model tiny", "finetune", "merge", "probe", "report",
            "study run"} <= commands
    assert len(CASES) >= 60


def test_a_bom_is_not_text(w, run_cli):
    """A UTF-8 byte-order mark on a grammar or a JSONL file is read past, not taken for content."""
    d = w["d"]
    bom = d / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + (d / "g.test.jsonl").read_bytes())
    checked = run_cli("grammar", "check", d / "bom.pcfg", bom)
    assert checked.exit_code == 0, checked.output
    rows = [json.loads(line) for line in checked.stdout.splitlines()]
    assert len(rows) == 6 and all(r["valid"] for r in rows)


def test_a_bom_starting_any_line_is_not_text(w, run_cli, tmp_path):
    """Files joined by `cat` carry a byte-order mark at the start of every part: every reader drops it wherever a
    line starts (strings, JSONL, grammars, study configs), never keeps it in a word."""
    d, bom = w["d"], "\ufeff"
    lines = (d / "g.test.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    joined = tmp_path / "joined.jsonl"
    joined.write_text(bom + "\n".join(lines[:3]) + "\n" + bom + "\n".join(lines[3:]) + "\n")
    plain = tmp_path / "plain.txt"
    plain.write_text("".join(bom + t + "\n" for t in texts))
    for strings in (joined, plain):
        checked = run_cli("grammar", "check", d / "g.pcfg", strings)
        assert checked.exit_code == 0, checked.output
        rows = [json.loads(line) for line in checked.stdout.splitlines()]
        assert [r["text"] for r in rows] == texts and all(r["valid"] for r in rows), strings
    grammar = (d / "g.pcfg").read_text().splitlines(keepends=True)
    rules = next(i for i, line in enumerate(grammar) if not line.startswith("#"))
    mid = tmp_path / "mid.pcfg"
    mid.write_text("".join(grammar[:rules]) + bom + "".join(grammar[rules:]))
    a, b = run_cli("grammar", "info", d / "g.pcfg", "--json"), run_cli("grammar", "info", mid, "--json")
    assert b.exit_code == 0 and json.loads(a.stdout) == json.loads(b.stdout), b.output
    examples = tmp_path / "examples.jsonl"
    train = (d / "g.train.jsonl").read_text().splitlines()
    examples.write_text("\n".join(train[:4]) + "\n" + bom + "\n".join(train[4:]) + "\n")
    mix = [str(a) for a in w["mix"]]
    mix[mix.index(str(d / "g.train.jsonl"))] = str(examples)
    made = run_cli("mix", "--condition", "examples", *mix, "-o", tmp_path / "mix.jsonl")
    assert made.exit_code == 0, made.output


def test_replacing_an_own_output_stays_allowed(w, run_cli):
    d = w["d"]
    for args in (["grammar", "sample", d / "g.pcfg", "-n", "3", "--seed", "0", "-o", d / "again.jsonl"],
                 ["model", "tiny", "--vocab-from", d / "g.pcfg", "--vocab-from", d / "h.pcfg", "-o", d / "tiny2"],
                 ["report", d / "probe", "--no-contrasts", "--bootstrap", "20", "--out", d / "rep"]):
        for _ in range(2):
            r = run_cli(*args)
            assert r.exit_code == 0, r.output


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_a_disk_that_refuses_writes_is_one_line(w, run_cli, monkeypatch, code):
    """A full disk, a folder it may not write, a read-only file system: one line naming the file, exit 2, and no
    partial output (the temp file is gone)."""
    import tempfile

    d = w["d"]
    real = tempfile.mkstemp

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code), kwargs.get("dir", args[-1] if args else None))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    r = run_cli("grammar", "sample", d / "g.pcfg", "-n", "3", "--seed", "0", "-o", d / "full.jsonl")
    monkeypatch.setattr(tempfile, "mkstemp", real)
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and os.strerror(code) in lines[0], r.output
    assert not (d / "full.jsonl").exists() and not list(d.glob(".full.jsonl.*"))


def test_device_cuda_without_a_gpu_is_refused(w, run_cli):
    """It used to train on the CPU for as long as that takes, saying nothing."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible here")
    d = w["d"]
    before = _snapshot(d)
    r = run_cli("finetune", d / "mix.jsonl", "--model", d / "tiny", "--method", "full", "--device", "cuda",
                "--out", d / "r2")
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and "--device cuda: no CUDA GPU is visible here" in lines[0], r.output
    assert _snapshot(d) == before
