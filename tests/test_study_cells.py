"""The study runner in core: the plan's cells and what each needs, runs of single cells side by side (never two
of one cell), a step run from its printed command and from the runner writing the same files, Ctrl-C."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_study import MICRO, _config

ROOT = Path(__file__).resolve().parent.parent


def test_plan_json_lists_cells_and_what_each_needs(run_cli, tmp_path):
    result = run_cli("study", "plan", _config(tmp_path), "--out", "S", "--json")
    assert result.exit_code == 0, result.output
    cells = {c["id"]: c for c in json.loads(result.stdout)["cells"]}
    runs = [f"seed{s}/{a}/{c}-d8" for s in (0, 1) for a in ("tiny-unbridged", "tiny-bridged")
            for c in ("examples", "explained", "filler", "worked")]
    assert set(cells) == {"seed0/data", "seed1/data", "seed0/tiny-bridged/pretrain", "seed1/tiny-bridged/pretrain",
                          "report", *runs}
    assert cells["seed0/data"]["needs"] == [] and cells["seed1/data"]["seed"] == 1
    assert cells["seed1/tiny-bridged/pretrain"]["needs"] == ["seed1/data"]
    assert cells["seed1/tiny-unbridged/worked-d8"]["needs"] == ["seed1/data"]
    assert cells["seed1/tiny-bridged/worked-d8"]["needs"] == ["seed1/data", "seed1/tiny-bridged/pretrain"]
    assert sorted(cells["report"]["needs"]) == sorted(runs)
    # a fine-tune cell is its fine-tune and its probe; every step carries its command line
    steps = cells["seed0/tiny-bridged/explained-d8"]["steps"]
    assert [s["kind"] for s in steps] == ["finetune", "probe"] and cells["report"]["arm"] is None
    assert steps[0]["argv"][:2] == ["finetune", "S/seed0/mix/explained-d8.jsonl"]
    assert steps[0]["shell"] == "metaex " + shlex.join(steps[0]["argv"])
    assert not any(c["done"] for c in cells.values())


def _tree(path: Path) -> dict[str, bytes]:
    """{relative path: bytes} of every file under `path` (or of the file itself)."""
    found = sorted(path.rglob("*")) if path.is_dir() else [path] if path.is_file() else []
    return {str(p.relative_to(path)): p.read_bytes() for p in found if p.is_file()}


@pytest.mark.slow
def test_a_step_run_from_its_printed_command_writes_what_the_runner_writes(run_cli, tmp_path, monkeypatch):
    """The data cell and one fine-tune cell of seed 0, run by `study run --cell` in one folder and by their
    printed shell lines (metaex commands, `cat`) in another: the same files, byte for byte."""
    config = _config(tmp_path)
    cells = ["seed0/data", "seed0/tiny-unbridged/examples-d8"]
    (tmp_path / "runner").mkdir()
    (tmp_path / "commands").mkdir()
    monkeypatch.chdir(tmp_path / "runner")
    ran = run_cli("study", "run", config, "--out", "S", *(a for c in cells for a in ("--cell", c)))
    assert ran.exit_code == 0, ran.output
    monkeypatch.chdir(tmp_path / "commands")
    plan = {c["id"]: c for c in json.loads(run_cli("study", "plan", config, "--out", "S", "--json").stdout)["cells"]}
    for step in (s for c in cells for s in plan[c]["steps"]):
        if step["kind"] == "concat":
            subprocess.run(["bash", "-c", step["shell"]], check=True)
        else:
            result = run_cli(*shlex.split(step["shell"])[1:])
            assert result.exit_code == 0, (step["shell"], result.output)
    a, b = tmp_path / "runner" / "S", tmp_path / "commands" / "S"
    for part in ("seed0/grammars", "seed0/data", "seed0/filler", "seed0/mix", "seed0/init", "seed0/bridge.jsonl"):
        assert _tree(a / part) == _tree(b / part) and _tree(a / part), part
    run = "seed0/tiny-unbridged/examples-d8/final"
    assert (a / run / "model.safetensors").read_bytes() == (b / run / "model.safetensors").read_bytes()
    probe = "probes/tiny-unbridged/seed0-examples-d8"
    for name in ("items.jsonl", "summary.jsonl"):
        assert (a / probe / name).read_bytes() == (b / probe / name).read_bytes(), name


def test_cells_run_side_by_side_but_never_one_cell_twice(run_subprocess, tmp_path):
    """A process holding cell seed0/data (as `study run --cell seed0/data` does) leaves seed1/data free to run, and
    refuses a second run of its cell, and a whole run, naming itself."""
    config, folder = _config(tmp_path), tmp_path / "s"
    hold = ("import sys, time; from metaex.core.study.lock import cell_lock, study_lock\n"
            "with study_lock(sys.argv[1], None, 'holder', shared=True), cell_lock(sys.argv[1], 'seed0/data', "
            "'holder of seed0/data'):\n"
            "    print('held', flush=True); time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        other = run_subprocess("study", "run", config, "--out", folder, "--cell", "seed1/data", timeout=300)
        assert other.returncode == 0, other.stderr[-2000:]
        assert (folder / "seed1" / "init" / "config.json").is_file() and not (folder / "seed0").exists()
        for args in (["--cell", "seed0/data"], []):
            again = run_subprocess("study", "run", config, "--out", folder, *args, timeout=120)
            assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1, again.stderr
            assert f"cell seed0/data: pid {holder.pid}" in again.stderr or \
                f"cell seed0/data is running here already (pid {holder.pid}" in again.stderr, again.stderr
    finally:
        holder.kill()
        holder.wait()
    # a cell whose needs are not done is refused before it starts, naming the cell to run first
    early = run_subprocess("study", "run", config, "--out", folder, "--cell", "seed0/tiny-unbridged/examples-d8",
                           timeout=120)
    assert early.returncode == 2 and "needs cell seed0/data, which is not done" in early.stderr, early.stderr
    assert not (folder / "seed0" / "tiny-unbridged").exists()
    unknown = run_subprocess("study", "run", config, "--out", folder, "--cell", "seed0/tiny-unbridged/examples-d9")
    assert unknown.returncode == 2 and "did you mean 'seed0/tiny-unbridged/examples-d8'" in unknown.stderr


def test_ctrl_c_stops_a_study_with_exit_130_and_one_short_line(tmp_path):
    config, folder = _config(tmp_path, MICRO.replace("bridge_grammars = 3", "bridge_grammars = 60")), tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "metaex", "study", "run", str(config), "--out", str(folder),
                             "--cell", "seed0/data"], stderr=subprocess.PIPE, text=True,
                            # a test run from a background job (`pytest &`) inherits SIGINT ignored: as a user's shell
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = ""
    while "bridging corpus" not in seen:      # interrupt it in its slowest data step
        line = proc.stderr.readline()
        assert line, seen
        seen += line
    time.sleep(0.2)                           # inside the step (60 grammars: seconds), not after it
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, rest
    lines = rest.strip().splitlines()
    assert lines[-1].startswith("metaex: interrupted") and len(lines[-1]) < 120 and "Traceback" not in rest, rest
