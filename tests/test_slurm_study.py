"""`metaex study submit|status` against a real one-node SLURM cluster (tests/slurm_cluster.py): a micro study
submitted as job arrays ends with `study run`'s report, after a cancelled task, a task killed mid-cell, a cell
another process holds, and a second submission of the same folder; GPU tasks get the devices SLURM gives them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import GRAMMARS
from tests.test_faults import FAULT_STUDY

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
# test_faults' micro study (a bridged arm: data, then its pre-training, then its cells, then the report: four arrays,
# each after the last) with a second condition
MICRO = FAULT_STUDY.replace('conditions = ["examples"]', 'conditions = ["examples", "explained"]') + """in_context = false

[slurm]
cells_per_task = 2
"""


def _config(folder: Path, slurm: str = "") -> Path:
    path = folder / "micro.toml"
    path.write_text(MICRO.replace("{grammars}", str(GRAMMARS)) + slurm)
    return path


def _metaex(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metaex", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, env={**os.environ, **(env or {})})


def _results(out: Path) -> list:
    return json.loads((out / "report" / "report.json").read_text())["results"]


def _status(out: Path) -> dict[str, dict]:
    r = _metaex("study", "status", out, "--json")
    assert r.returncode == 0, r.stderr
    return {c["cell"]: c for c in map(json.loads, r.stdout.splitlines())}


def _leftovers(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob(".*.tmp"))


def _task_running(cluster, name: str, log_has: str, folder: Path, timeout: float = 300) -> str:
    """The JOB_TASK of the first task of array `metaex-NAME` once it runs and its log shows `log_has`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = cluster.run("squeue", "-h", "-r", "-n", f"metaex-{name}", "-t", "RUNNING", "-o", "%F_%K", check=False)
        for task in r.stdout.split():
            logs = list(folder.glob(f"slurm/logs/{name}-{task}.out"))
            if logs and log_has in logs[0].read_text():
                return task
        time.sleep(0.2)
    raise AssertionError(f"no task of {name} ran in {timeout:.0f} s:\n{cluster.logs()}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> list:
    """The micro study's report.json results from `metaex study run` in one process."""
    folder = tmp_path_factory.mktemp("reference")
    t0 = time.perf_counter()
    r = _metaex("study", "run", _config(folder), "--out", folder / "study", "--threads", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    print(f"study run: {time.perf_counter() - t0:.1f} s wall")
    return _results(folder / "study")


def test_a_cancelled_task_is_resubmitted_and_the_report_is_study_runs(slurm_cluster, reference, tmp_path):
    # the arm's tasks one at a time (the second waits while the first is cancelled), each on one GPU where the
    # node has its two fake ones
    table = "[slurm.arms.tiny-bridged]\nparallel = 1\n" + ("gpus = 1\n" if slurm_cluster.gpus else "")
    config, out = _config(tmp_path, table), tmp_path / "study"
    t0 = time.perf_counter()
    first = _metaex("study", "submit", config, "--out", out)
    assert first.returncode == 0, first.stderr
    assert "submitted 4 arrays, 7 tasks" in first.stdout
    # a second submission of the folder queues nothing: every cell is queued already
    again = _metaex("study", "submit", config, "--out", out)
    assert again.returncode == 0, again.stderr
    assert "0 cells done, 9 queued by earlier submissions; submitted 0 arrays" in again.stdout
    # cancel the fine-tune task that runs first, in the middle of its first cell
    task = _task_running(slurm_cluster, "tiny-bridged", "[2/", out)
    slurm_cluster.run("scancel", task)
    slurm_cluster.wait_idle(600)
    state = _status(out)
    cancelled = [c for c, s in state.items() if s["state"] == "failed" and s["task"] == task]
    assert len(cancelled) == 2, state
    assert "CANCELLED" in state[cancelled[0]]["why"] and Path(state[cancelled[0]]["log"]).is_file()
    assert state["report"]["state"] == "failed" and state["report"]["why"].startswith("never started")
    assert Counter(s["state"] for s in state.values()) == {"done": 6, "failed": 3}
    # submitting again runs what is not done: the cancelled task's cells, then the report
    resumed = _metaex("study", "submit", config, "--out", out)
    assert resumed.returncode == 0, resumed.stderr
    assert "6 cells done, 0 queued by earlier submissions; submitted 2 arrays, 2 tasks" in resumed.stdout
    slurm_cluster.wait_idle(600)
    print(f"study submit: {time.perf_counter() - t0:.1f} s wall, with a cancel and a resubmission")
    assert Counter(s["state"] for s in _status(out).values()) == {"done": 9}
    assert _results(out) == reference
    assert _leftovers(out) == []
    # no step ran twice: the cancelled one was killed before its timing was written, and ran once more
    steps = Counter(json.loads(line)["step"] for line in (out / "timings.jsonl").read_text().splitlines())
    assert steps and set(steps.values()) == {1}, steps
    if slurm_cluster.gpus:   # each of the arm's tasks was given one of the node's two devices; its steps ran on it
        rows = [json.loads(line) for line in (out / "timings.jsonl").read_text().splitlines()]
        arm = [r for r in rows if r["cell"].startswith(("seed0/tiny-bridged/", "seed1/tiny-bridged/"))]
        assert len(arm) == 10 and all(r["cuda_visible_devices"] in ("0", "1") for r in arm)
        for r in arm:
            job, task = r["slurm_job"].split("_")
            log = next((out / "slurm" / "logs").glob(f"*-{job}_{task}.out")).read_text()
            assert f"(CUDA_VISIBLE_DEVICES={r['cuda_visible_devices']})" in log
        assert all("cuda_visible_devices" not in r for r in rows if r not in arm)   # data and report asked none


def test_a_task_killed_mid_cell_leaves_no_output_and_is_redone(slurm_cluster, reference, tmp_path):
    # every task of the arm dies hard (as a kill would) just before its second commit (metaex.core.files): the
    # pre-training tasks, in their cell; what needs them is cancelled
    config, out = _config(tmp_path, '[slurm.arms.tiny-bridged]\nsbatch = ["--export=ALL,METAEX_FAULT_AT=2"]\n'), \
        tmp_path / "study"
    assert _metaex("study", "submit", config, "--out", out).returncode == 0
    slurm_cluster.wait_idle(600)
    state = _status(out)
    killed = sorted(c for c, s in state.items() if s["state"] == "failed" and s["why"].startswith("SLURM: FAILED"))
    assert killed == ["seed0/tiny-bridged/pretrain", "seed1/tiny-bridged/pretrain"], state
    for cell in killed:   # nothing visible of the killed cells: no finished run
        assert not (out / cell / "final").exists()
    assert Counter(s["state"] for s in state.values()) == {"done": 2, "failed": 7}
    assert all(state[c]["why"].startswith("never started") for c in state if c not in killed and "data" not in c)
    # the [slurm] table is where the study runs, not what it computes: changing it resumes the same folder
    config.write_text(config.read_text().replace('sbatch = ["--export=ALL,METAEX_FAULT_AT=2"]', ""))
    resumed = _metaex("study", "submit", config, "--out", out)
    assert resumed.returncode == 0, resumed.stderr
    slurm_cluster.wait_idle(600)
    assert Counter(s["state"] for s in _status(out).values()) == {"done": 9}
    assert _results(out) == reference
    assert _leftovers(out) == []


def test_a_task_whose_cell_another_process_holds_fails_and_says_so(slurm_cluster, tmp_path):
    from metaex.core.study.lock import cell_lock

    config, out = _config(tmp_path), tmp_path / "study"
    assert _metaex("study", "run", config, "--out", out, "--cell", "seed0/data").returncode == 0
    with cell_lock(out, "seed1/data", "the test"):
        assert _metaex("study", "submit", config, "--out", out).returncode == 0
        slurm_cluster.wait_idle(600)
    state = _status(out)
    assert state["seed0/data"]["state"] == "done" and state["seed1/data"]["state"] == "failed"
    why = state["seed1/data"]["why"]
    assert why.startswith("metaex: error:") and f"pid {os.getpid()}" in why, why
    assert not (out / "seed1" / "data").exists()
    assert Counter(s["state"] for s in state.values()) == {"done": 1, "failed": 8}
    dry = _metaex("study", "submit", config, "--out", out, "--dry-run")
    assert "1 cells done, 0 queued by earlier submissions; would submit 4 arrays, 6 tasks" in dry.stdout
