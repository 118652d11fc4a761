"""One writer per study folder: `study run` holds a lock on it while it runs.

A whole run takes `STUDY/.lock` exclusively; a `--shard I/N` run shares it and takes `STUDY/.lock-shard-I-of-N`
exclusively, so shards run side by side while a second whole run, or a second copy of one shard, fails at once
with a one-line error naming the holder (its pid, host and start). The locks are `fcntl.flock` locks: the kernel
drops them when the holder exits, however it exits, so a killed run never leaves the folder locked.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from metaex.core.errors import MetaexError


class Locked(MetaexError):
    """The study folder is held by another run."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']}, started {info['started']} ({info['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _held(path: Path) -> bool:
    """Whether some process holds a lock on `path` now."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _take(path: Path, mode: int, what: str, command: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        shards = sorted(p for p in path.parent.glob(".lock-shard-*") if _held(p)) if path.name == ".lock" else []
        holders = "; ".join(f"{p.name.removeprefix('.lock-')}: {_holder(p)}" for p in shards) or _holder(path)
        raise Locked(f"{path.parent}: {what} is running here already ({holders}); wait for it or use "
                     "another --out") from None
    if mode == fcntl.LOCK_EX:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                                 "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
    return fd


@contextmanager
def study_lock(folder: str | Path, shard: tuple[int, int] | None, command: str) -> Iterator[None]:
    """Hold the study folder (whole, or one shard of it) for the duration of the block."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    fds = []
    try:
        if shard is None:
            fds.append(_take(root / ".lock", fcntl.LOCK_EX, "a study run", command))
        else:
            fds.append(_take(root / ".lock", fcntl.LOCK_SH, "a whole-study run", command))
            i, n = shard
            fds.append(_take(root / f".lock-shard-{i}-of-{n}", fcntl.LOCK_EX, f"shard {i}/{n}", command))
        yield
    finally:
        for fd in fds:
            os.close(fd)
