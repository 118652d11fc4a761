"""A full disk or a read-only folder under `model tiny`, `finetune` and `merge`, on a real size-limited file system:
one line naming the user's path (never a hidden temp), exit 2, no temp left, a run marked "failed" (never left
"running"), and the same run resumed once space is freed completes.

The file system is a tmpfs of a few hundred KiB mounted for the test (as root); elsewhere the commands run under a
per-process file size limit (RLIMIT_FSIZE, writes past it fail with EFBIG), the kernel's other way to refuse a write.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests import tiny_helpers as th

FULL = (os.strerror(errno.ENOSPC), os.strerror(errno.EFBIG))


class Disk:
    """A folder whose writes fail for want of space; `free()` gives it room, `read_only()` refuses every write."""

    def __init__(self, root: Path, kib: int):
        self.root, self.kib = root, kib
        root.mkdir()
        self.tmpfs = os.geteuid() == 0 and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(root)], capture_output=True).returncode == 0
        self.limit: int | None = None if self.tmpfs else kib * 1024

    def run(self, *args: object) -> subprocess.CompletedProcess:
        limit = self.limit

        def limited() -> None:
            if limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # the write fails with EFBIG instead of killing
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run([sys.executable, "-m", "metaex", *map(str, args)], capture_output=True, text=True,
                              timeout=600, preexec_fn=limited)

    def free(self) -> None:
        if self.tmpfs:
            subprocess.run(["mount", "-o", "remount,size=64m", str(self.root)], check=True)
        self.limit = None

    def read_only(self) -> None:
        if self.tmpfs:
            subprocess.run(["mount", "-o", "remount,ro", str(self.root)], check=True)
        else:
            if os.geteuid() == 0:
                pytest.skip("root ignores folder permissions and could not mount a read-only tmpfs here")
            self.root.chmod(0o555)

    def close(self) -> None:
        if self.tmpfs:
            subprocess.run(["umount", "-l", str(self.root)], check=False)
        else:
            self.root.chmod(0o755)


@pytest.fixture
def disk(tmp_path):
    made: list[Disk] = []

    def make(kib: int) -> Disk:
        made.append(Disk(tmp_path / f"disk{len(made)}", kib))
        return made[-1]

    yield make
    for d in made:
        d.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("diskfull")
    return {"tiny": th.build(d), "docs": th.write_jsonl(d / "docs.jsonl", th.documents(20)), "d": d}


def _one_line(r: subprocess.CompletedProcess, path: Path, *reasons: str) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("metaex: error: "), r.stderr
    assert str(path) in lines[0] and any(reason in lines[0] for reason in reasons), lines[0]
    assert ".tmp" not in lines[0], lines[0]
    return lines[0]


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]


def test_model_tiny_on_a_full_disk(world, disk):
    d = disk(128)   # the weights (~530 KB) do not fit
    out = d.root / "tiny"
    _one_line(d.run("model", "tiny", "--vocab-from", world["docs"], "--no-lexicon", "-o", out), out, *FULL)
    assert not out.exists() and not _temps(d.root)
    d.free()
    r = d.run("model", "tiny", "--vocab-from", world["docs"], "--no-lexicon", "-o", out)
    assert r.returncode == 0, r.stderr


def test_model_tiny_into_a_read_only_folder(world, disk):
    d = disk(1024)
    d.read_only()
    out = d.root / "tiny"
    _one_line(d.run("model", "tiny", "--vocab-from", world["docs"], "-o", out), out,
              os.strerror(errno.EROFS), os.strerror(errno.EACCES))


def test_a_finetune_that_fills_the_disk_fails_and_resumes(world, disk):
    d = disk(256)   # its config and metrics fit, a checkpoint (weights + optimizer, ~1.6 MB) does not
    out = d.root / "run"
    args = ["finetune", world["docs"], "--model", world["tiny"], "--method", "full", "--steps", "4",
            "--save-steps", "2", "--batch-size", "4", "--out", out]
    _one_line(d.run(*args), out, *FULL)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["status"] == "failed" and any(reason in cfg["error"] for reason in FULL), cfg.get("error")
    assert not (out / "final").exists() and not _temps(d.root)
    d.free()
    r = d.run(*args, "--resume")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "config.json").read_text())["status"] == "finished" and (out / "final").is_dir()


def test_a_finetune_whose_final_model_does_not_fit(world, disk):
    """No checkpoints: training ends, then final/ cannot be written. The run says failed, not running."""
    d = disk(256)
    out = d.root / "run"
    args = ["finetune", world["docs"], "--model", world["tiny"], "--method", "full", "--steps", "2",
            "--save-steps", "0", "--batch-size", "4", "-q", "--out", out]
    _one_line(d.run(*args), out, *FULL)
    assert json.loads((out / "config.json").read_text())["status"] == "failed"
    assert not (out / "final").exists() and not _temps(d.root)
    d.free()
    r = d.run(*args)
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "config.json").read_text())["status"] == "finished"


def test_merge_on_a_full_disk(world, disk, tmp_path):
    run = tmp_path / "lora"
    r = subprocess.run([sys.executable, "-m", "metaex", "finetune", str(world["docs"]), "--model", str(world["tiny"]),
                        "--method", "lora", "--steps", "2", "--save-steps", "0", "-q", "--out", str(run)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    d = disk(128)
    out = d.root / "merged"
    _one_line(d.run("merge", run, "-o", out), out, *FULL)
    assert not out.exists() and not _temps(d.root)
