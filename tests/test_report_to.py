"""`finetune --report-to`: training metrics through the Trainer's own logger integrations (TensorBoard's event
files, read back offline); how a run is watched is not part of what it is."""

from __future__ import annotations

import importlib.util
import json

import pytest
from tiny_helpers import build, documents, write_jsonl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report_to")
    return {"tmp": tmp, "model": str(build(tmp)), "train": str(write_jsonl(tmp / "train.jsonl", documents(32)))}


def _finetune(run_cli, setup, out, *extra):
    return run_cli("finetune", setup["train"], "--model", setup["model"], "--method", "full", "--steps", "4",
                   "--batch-size", "8", "--lr", "3e-3", "--save-steps", "2", "--out", str(out), "-q", *extra)


def test_tensorboard_event_files_hold_the_run_metrics(run_cli, setup):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = setup["tmp"] / "tb"
    result = _finetune(run_cli, setup, out, "--report-to", "tensorboard")
    assert result.exit_code == 0, result.output
    assert not (out / "checkpoints").exists() and list((out / "tensorboard").glob("events.out.tfevents.*"))
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    logged = {e.step: e.value for e in events.Scalars("train/loss")}
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = {r["step"]: r["loss"] for r in rows if r.get("loss") is not None}
    assert sorted(logged) == sorted(losses) == [1, 2, 3, 4]
    assert all(logged[s] == pytest.approx(losses[s], rel=1e-6) for s in losses)
    assert "train/learning_rate" in events.Tags()["scalars"]
    # how a run is watched is not what it is: the same run asked again without a logger is already done
    config = json.loads((out / "config.json").read_text())
    assert "report_to" not in config["options"]
    again = _finetune(run_cli, setup, out)
    assert again.exit_code == 0 and "already finished" in again.output


def test_a_logger_that_is_not_installed_is_one_line_and_writes_nothing(run_cli, setup):
    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    out = setup["tmp"] / "wandb"
    result = _finetune(run_cli, setup, out, "--report-to", "wandb")
    assert result.exit_code == 2
    assert result.output.strip() == ("metaex: error: --report-to wandb needs the wandb package: pip install "
                                     "'metaex[wandb]'")
    assert not out.exists()
