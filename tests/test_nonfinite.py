"""Non-finite numbers never pass as results: a training loss or trained weights that turn NaN/inf stop the run with
one line and status "failed" (not "finished, loss 0.0000"), and a probe refuses a model whose weights hold NaN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import tiny_helpers as th


def nan_model(src: Path, dst: Path) -> Path:
    """A copy of the tiny model `src` with one NaN in its final norm (every forward then gives a NaN loss)."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    weights = load_file(dst / "model.safetensors")
    weights["model.norm.weight"][0] = float("nan")
    save_file(weights, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("nonfinite")
    tiny = th.build(d)
    return {"d": d, "tiny": tiny, "nan": nan_model(tiny, d / "nan-model"),
            "docs": th.write_jsonl(d / "docs.jsonl", th.documents(20))}


def _one_line(result, *needles: str, alone: bool = True) -> str:
    """The error is one line, the last, exit 2, no traceback; `alone`: the only line (a probe's progress lines
    may come before its error)."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 or not alone, result.output
    assert lines[-1].startswith("metaex: error: ") and "Traceback" not in result.output, result.output
    assert sum(line.startswith("metaex: error") for line in lines) == 1, result.output
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    return lines[-1]


def test_a_nan_loss_stops_the_run_as_failed(world, run_cli, tmp_path):
    out = tmp_path / "run"
    r = run_cli("finetune", world["docs"], "--model", world["nan"], "--method", "full", "--steps", "3",
                "--save-steps", "0", "-q", "--out", out)
    _one_line(r, str(out), "training stopped", "loss became nan at step 1")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["status"] == "failed" and "loss became nan" in cfg["error"]
    assert not (out / "final").exists()


def test_weights_that_turn_infinite_fail_the_run(world, run_cli, tmp_path):
    """1e39 is a finite float but infinite in float32: the one update (after a warm-up step at lr 0) makes the
    weights infinite while every loss the run saw was finite; the run must not say finished."""
    out = tmp_path / "run"
    r = run_cli("finetune", world["docs"], "--model", world["tiny"], "--method", "full", "--steps", "2",
                "--lr", "1e39", "--save-steps", "0", "-q", "--out", out)
    _one_line(r, "training stopped", "NaN or infinite")
    assert json.loads((out / "config.json").read_text())["status"] == "failed"
    assert not (out / "final").exists()


def test_a_lora_run_on_a_nan_base_fails_too(world, run_cli, tmp_path):
    out = tmp_path / "run"
    r = run_cli("finetune", world["docs"], "--model", world["nan"], "--method", "lora", "--steps", "2",
                "--save-steps", "0", "-q", "--out", out)
    _one_line(r, "training stopped")
    assert json.loads((out / "config.json").read_text())["status"] == "failed"


def test_a_probe_refuses_a_model_with_nan_weights(world, run_cli, tmp_path, grammars_dir):
    g = tmp_path / "g.pcfg"
    assert run_cli("grammar", "instantiate", grammars_dir / "reber.pcfg", "--seed", "0", "-o", g).exit_code == 0
    nan = nan_model(_covering(tmp_path, g, run_cli), tmp_path / "nan")
    r = run_cli("probe", "--model", nan, "--grammar", g, "--samples", "2", "--limit", "2", "--cuts", "1",
                "--out", tmp_path / "probe")
    _one_line(r, "NaN or infinite", alone=False)
    assert not (tmp_path / "probe").exists()


def _covering(tmp: Path, grammar: Path, run_cli) -> Path:
    out = tmp / "covering"
    assert run_cli("model", "tiny", "--vocab-from", grammar, "-o", out).exit_code == 0
    return out
