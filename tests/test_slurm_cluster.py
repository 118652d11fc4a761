"""The local SLURM cluster the `slurm` tests run on: arrays, dependencies, and fake GPUs handed out by SLURM."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slurm


def test_array_runs_after_its_dependency_and_gpus_are_given_out(slurm_cluster, tmp_path):
    c = slurm_cluster
    first = c.run("sbatch", "--parsable", "-o", str(tmp_path / "first.out"), "--wrap", "echo first").stdout.strip()
    gres = ["--gres=gpu:1"] if c.gpus else []
    array = c.run("sbatch", "--parsable", "--array=0-2%2", f"--dependency=afterok:{first}", *gres,
                  "-o", str(tmp_path / "task-%a.out"),
                  "--wrap", 'echo "$SLURM_ARRAY_TASK_ID ${CUDA_VISIBLE_DEVICES-none}"').stdout.strip()
    assert array.isdigit()
    c.wait_idle(120)
    assert (tmp_path / "first.out").read_text() == "first\n"
    seen = {}
    for i in range(3):
        task, device = (tmp_path / f"task-{i}.out").read_text().split()
        seen[int(task)] = device
    assert sorted(seen) == [0, 1, 2]
    if c.gpus:   # at most 2 tasks at once, each given one of the node's two devices
        assert set(seen.values()) <= {"0", "1"}
    else:
        assert set(seen.values()) == {"none"}
