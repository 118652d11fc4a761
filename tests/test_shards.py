"""scripts/shards.sh (`make study-gpu`'s train stage): one shard per GPU side by side, a failed shard never silent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARD = """
import os, sys, time
i = sys.argv[-1].split('/')[0]
open(os.path.join(sys.argv[1], 'shard' + i), 'w').write(os.environ['CUDA_VISIBLE_DEVICES'])
if i == sys.argv[2]:
    sys.exit(3)
time.sleep(0.5)   # a shard that fails early does not end the others
open(os.path.join(sys.argv[1], 'shard' + i + '.done'), 'w').close()
"""


def _shards(gpus: str, folder: Path, failing: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts" / "shards.sh"), gpus, sys.executable, "-c", SHARD, str(folder),
                           failing, "--shard"], capture_output=True, text=True, timeout=60)


def test_every_shard_runs_on_its_gpu(tmp_path):
    r = _shards("4 7 9", tmp_path, failing="none")
    assert r.returncode == 0, r.stderr
    assert {p.name: p.read_text() for p in tmp_path.iterdir() if not p.suffix} == {"shard0": "4", "shard1": "7",
                                                                                  "shard2": "9"}
    assert sorted(p.name for p in tmp_path.glob("*.done")) == ["shard0.done", "shard1.done", "shard2.done"]


def test_a_failed_shard_fails_the_run_and_is_named(tmp_path):
    r = _shards("4 7 9", tmp_path, failing="1")
    assert r.returncode == 1
    assert "shard 1/3 (GPU 7) failed with exit 3" in r.stderr
    assert "shard 0/3" not in r.stderr and "shard 2/3" not in r.stderr
    assert "1 of 3 shards failed" in r.stderr
    assert sorted(p.name for p in tmp_path.glob("*.done")) == ["shard0.done", "shard2.done"]   # the others finished
