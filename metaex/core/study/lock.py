"""One writer per study folder, and per cell: `study run` holds locks while it runs.

A whole run takes `STUDY/.lock`; a `--shard I/N` run takes `STUDY/.lock-shard-I-of-N`; a `--cell` run takes a lock
of its own run (`STUDY/.locks/runs/…`). Each run also holds `cell_lock` on every cell while it runs that cell's
steps (`STUDY/.locks/CELL.lock`). So shards and cells run side by side, while a second whole run, a second copy of
one shard, or a second process on one cell fails at once with a one-line error naming the holder (its pid, host,
SLURM job and start). Every lock is taken before the others are read (a whole run takes `.lock` and then looks for
shards, cell runs and cells; they take theirs and then look at `.lock`), so of two runs that start together at
least one sees the other.

The locks are leases (`metaex.core.study.lease`): files made with `link()`, renewed by a heartbeat, which hold on
a cluster's network filesystem where `flock` may not; a lock whose holder died (its pid gone on this host, its
SLURM job ended, its lease expired: a node that died) is taken over by the next run, so a killed run never leaves
the folder locked. `cell_lock` is the one interface the runner takes per cell.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from metaex.core.errors import MetaexError
from metaex.core.markers import write_marker
from metaex.core.study.lease import Held, Lease, dead_reason, host, read

CELLS = ".locks"   # cell locks: STUDY/.locks/CELL.lock; runs of cells: STUDY/.locks/runs/


class Locked(MetaexError):
    """The study folder (or a shard or cell of it) is held by another run."""


def _holder(path: Path) -> str | None:
    """Who holds the lock at `path` now; None when nobody alive does."""
    info, mtime = read(path)
    if info is None or dead_reason(info, mtime) is not None:
        return None
    job = f", SLURM job {info['job']}" if info.get("job") else ""
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')}{job}, started {info.get('started', '?')} " \
           f"({info.get('command', '?')})"


def _take(path: Path, what: str, command: str, folder: Path) -> Lease:
    lease = Lease(path, command, what=f"{folder}: {what}")
    try:
        lease.acquire()
    except Held:
        raise Locked(f"{folder}: {what} is running here already ({_holder(path) or 'another process'}); wait for "
                     "it or use another --out") from None
    return lease


def _parts(root: Path) -> list[str]:
    """The shards, runs of cells and cells that hold parts of a study folder now, as `NAME: HOLDER`."""
    cells = root / CELLS
    found = [(p.name.removeprefix(".lock-"), p) for p in sorted(root.glob(".lock-shard-*")) if p.suffix != ".break"]
    if cells.is_dir():
        found += [(f"cell {p.relative_to(cells).with_suffix('')}", p) for p in sorted(cells.rglob("*.lock"))
                  if p.parent.name != "runs"]
        found += [("a run of cells", p) for p in sorted((cells / "runs").glob("*.lock"))]
    out = []
    for name, p in found:
        holder = _holder(p)
        if holder:
            out.append(f"{name}: {holder}")
    return out


def _refuse_whole(root: Path, held: ExitStack) -> None:
    """Fail (releasing what this run took) if a whole run holds the folder."""
    holder = _holder(root / ".lock")
    if holder:
        held.close()
        raise Locked(f"{root}: a whole-study run is running here already ({holder}); wait for it or use another "
                     "--out")


@contextmanager
def study_lock(folder: str | Path, shard: tuple[int, int] | None, command: str, *,
               shared: bool = False) -> Iterator[None]:
    """Hold the study folder for the duration of the block: whole, one shard of it, or (`shared`) beside other
    runs of single cells."""
    root = Path(folder)
    write_marker(root, "study")   # a folder is a study's by its marker (`markers`), before any lock
    with ExitStack() as held:
        if shard is None and not shared:
            held.callback(_take(root / ".lock", "a study run", command, root).release)
            parts = _parts(root)
            if parts:
                held.close()
                raise Locked(f"{root}: a study run is running here already ({'; '.join(parts[:5])}); wait for it "
                             "or use another --out")
        else:
            if shard is None:
                path = root / CELLS / "runs" / f"{host()}-{secrets.token_hex(4)}.lock"
                held.callback(_take(path, "a run of cells", command, root).release)
            else:
                i, n = shard
                held.callback(_take(root / f".lock-shard-{i}-of-{n}", f"shard {i}/{n}", command, root).release)
            _refuse_whole(root, held)
        yield


@contextmanager
def cell_lock(folder: str | Path, cell: str, command: str) -> Iterator[None]:
    """Hold one cell of the study folder for the duration of the block (Locked at once if another process does)."""
    root = Path(folder)
    lease = _take(root / CELLS / f"{cell}.lock", f"cell {cell}", command, root)
    try:
        yield
    finally:
        lease.release()
