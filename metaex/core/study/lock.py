"""One writer per study folder, and per cell: `study run` holds locks while it runs.

A whole run takes `STUDY/.lock` exclusively; a `--shard I/N` run shares it and takes `STUDY/.lock-shard-I-of-N`
exclusively; a `--cell` run shares it. Each run also holds `cell_lock` on every cell while it runs that cell's
steps (`STUDY/.locks/CELL.lock`). So shards and cells run side by side, while a second whole run, a second copy
of one shard, or a second process on one cell fails at once with a one-line error naming the holder (its pid,
host and start). The locks are `fcntl.flock` locks: the kernel drops them when the holder exits, however it
exits, so a killed run never leaves the folder locked. `cell_lock` is the one interface the runner takes per cell:
a scheduler with its own exclusion (one array task per cell) may replace it.
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


def _take(path: Path, mode: int, what: str, command: str, folder: Path | None = None) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holders = "; ".join(f"{name}: {_holder(p)}" for name, p in _parts(path)) or _holder(path)
        raise Locked(f"{folder or path.parent}: {what} is running here already ({holders}); wait for it or use "
                     "another --out") from None
    if mode == fcntl.LOCK_EX:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                                 "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
    return fd


def _parts(path: Path) -> list[tuple[str, Path]]:
    """(name, lock file) of the shards and cells that hold a study folder's parts now (for `.lock` only)."""
    if path.name != ".lock":
        return []
    shards = [(p.name.removeprefix(".lock-"), p) for p in sorted(path.parent.glob(".lock-shard-*"))]
    cells = [(f"cell {p.relative_to(path.parent / CELLS).with_suffix('')}", p)
             for p in sorted((path.parent / CELLS).rglob("*.lock"))]
    return [(name, p) for name, p in shards + cells if _held(p)]


CELLS = ".locks"   # cell locks: STUDY/.locks/CELL.lock


@contextmanager
def study_lock(folder: str | Path, shard: tuple[int, int] | None, command: str, *,
               shared: bool = False) -> Iterator[None]:
    """Hold the study folder for the duration of the block: whole (exclusively), one shard of it, or (`shared`)
    beside other runs of single cells."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    fds = []
    try:
        if shard is None:
            fds.append(_take(root / ".lock", fcntl.LOCK_SH if shared else fcntl.LOCK_EX,
                             "a whole-study run" if shared else "a study run", command))
        else:
            fds.append(_take(root / ".lock", fcntl.LOCK_SH, "a whole-study run", command))
            i, n = shard
            fds.append(_take(root / f".lock-shard-{i}-of-{n}", fcntl.LOCK_EX, f"shard {i}/{n}", command))
        yield
    finally:
        for fd in fds:
            os.close(fd)


@contextmanager
def cell_lock(folder: str | Path, cell: str, command: str) -> Iterator[None]:
    """Hold one cell of the study folder for the duration of the block (Locked at once if another process does)."""
    path = Path(folder) / CELLS / f"{cell}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _take(path, fcntl.LOCK_EX, f"cell {cell}", command, Path(folder))
    try:
        yield
    finally:
        os.close(fd)
