"""An exclusive lock file that holds on a cluster's shared filesystem, and that a dead holder never leaves stuck.

`flock` locks are not honoured by every network filesystem (NFS without a lock manager, some Lustre and GPFS
mounts), so a cell that two SLURM tasks on two nodes both start needs a lock that is only files:

- **Taking it** is one `link()` of a file holding the holder's identity (host, pid and its start time, SLURM job,
  command, a random token, its lease) to the lock's name: atomic on every POSIX and NFS filesystem, and it fails when
  the name exists. (On NFS a lost reply to a link that succeeded is read back through the link count.)
- **A lease**: while it is held, a heartbeat thread (one per process, for all its locks) touches the lock file
  every `lease/6` seconds; the lock belongs to a dead holder when its file is older than the lease (a node that
  died or hangs, a frozen process), when the holder ran on this host and its process is gone, or when its SLURM
  job is no longer running (`squeue`: cancelled, preempted, timed out, failed). A lock judged dead is broken under
  a short-lived second lock (`NAME.break`) after re-reading that it is still the same holder, so two takers never
  break a lock that one of them took meanwhile.
- **Fencing**: the heartbeat also checks that the lock file is still its own; a holder whose lease was broken (it
  froze past it, or its host's clock ran ahead) stops hard with a one-line message rather than write beside the new
  holder. Outputs are atomic (metaex.core.files), so that leaves no half-written file.

Clocks: a lease is judged on the lock file's mtime, which a network filesystem sets from its server's clock, against
the judge's clock; cluster clocks are kept within seconds (NTP) and the lease is minutes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from metaex.core.errors import MetaexError

LEASE_S = 300.0           # how long a holder that stopped renewing keeps its lock
BREAK_S = 30.0            # a `.break` lock older than this was left by a breaker that died mid-break
LOST_EXIT = 75            # the exit status of a holder that found its lock taken (EX_TEMPFAIL: rerun it)
ALIVE_STATES = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
                "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"}


class Held(MetaexError):
    """The lock is held by a live holder."""


def host() -> str:
    return socket.gethostname()


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc), which tells a reused pid from the holder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def slurm_job() -> str | None:
    """This process's SLURM job as squeue names it: `ARRAYJOB_TASK` in an array (a task's own SLURM_JOB_ID can equal
    the array's id, which names every task), else the job id; None outside SLURM."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID") or None


def identity(command: str, lease_s: float) -> dict:
    pid = os.getpid()
    return {"host": host(), "pid": pid, "pid_start": _proc_start(pid), "job": slurm_job(), "command": command,
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "lease_s": lease_s, "token": secrets.token_hex(8)}


def read(path: Path) -> tuple[dict | None, float | None]:
    """The holder recorded in a lock file and the file's mtime; (None, None) if there is no lock."""
    try:
        st = path.stat()
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError):
        info = {}
    return (info if isinstance(info, dict) else {}), st.st_mtime


def describe(info: dict) -> str:
    job = f", SLURM job {info['job']}" if info.get("job") else ""
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')}{job}, started {info.get('started', '?')}"


def _job_state(job: str) -> str | None:
    """The job's state from squeue ('' when SLURM no longer knows it), or None when squeue cannot tell."""
    if not shutil.which("squeue"):
        return None
    try:
        r = subprocess.run(["squeue", "-h", "-t", "all", "-j", job, "-o", "%T"], capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode == 0:
        return r.stdout.split()[0] if r.stdout.split() else ""
    return "" if "Invalid job id" in r.stderr else None


def dead_reason(info: dict, mtime: float, now: float | None = None) -> str | None:
    """Why the holder of a lock is dead, or None while it may be alive."""
    now = time.time() if now is None else now
    lease = float(info.get("lease_s") or LEASE_S)
    if now - mtime > lease:
        return f"its lease expired ({now - mtime:.0f} s since its last heartbeat, lease {lease:.0f} s)"
    if info.get("job"):
        state = _job_state(str(info["job"]))
        if state == "":
            return f"its SLURM job {info['job']} is no longer known to SLURM"
        if state is not None and state not in ALIVE_STATES:
            return f"its SLURM job {info['job']} is {state}"
    pid = info.get("pid")
    if info.get("host") == host() and isinstance(pid, int):
        start = _proc_start(pid)
        if start is None:
            return f"its process {pid} is gone"
        if info.get("pid_start") and start != info["pid_start"]:
            return f"its process {pid} is gone (the pid is now another process's)"
    return None


def _link(path: Path, content: str) -> bool:
    """Create `path` holding `content` atomically; False if it exists."""
    tmp = path.with_name(f".{path.name}.{host()}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(content, encoding="utf-8")
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:
        return tmp.stat().st_nlink == 2   # NFS: the link may have been made though its reply was lost
    finally:
        tmp.unlink(missing_ok=True)


def _break(path: Path, token: str | None) -> bool:
    """Remove the lock at `path` if it still holds `token`, under PATH.break; False if another breaker is at it."""
    guard = path.with_name(path.name + ".break")
    if not _link(guard, json.dumps(identity("break", BREAK_S))):
        try:
            if time.time() - guard.stat().st_mtime > BREAK_S:
                guard.unlink(missing_ok=True)   # its breaker died within the few milliseconds it holds it
        except FileNotFoundError:
            pass
        return False
    try:
        info, _ = read(path)
        if info is not None and info.get("token") == token:
            path.unlink(missing_ok=True)
        return True
    finally:
        guard.unlink(missing_ok=True)


class _Heart:
    """One thread per process renews every lease the process holds (a whole study run holds one per cell)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.due: dict[Lease, float] = {}
        self.thread: threading.Thread | None = None

    def add(self, lease: Lease) -> None:
        with self.cond:
            self.due[lease] = time.monotonic() + lease.lease_s / 6
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="metaex lease heartbeat", daemon=True)
                self.thread.start()
            self.cond.notify()

    def remove(self, lease: Lease) -> None:
        with self.cond:
            self.due.pop(lease, None)

    def _run(self) -> None:
        while True:
            with self.cond:
                now = time.monotonic()
                ready = [lease for lease, t in self.due.items() if t <= now]
                if not ready:
                    self.cond.wait(min(self.due.values(), default=now + 60) - now)
                    continue
                for lease in ready:
                    self.due[lease] = now + lease.lease_s / 6
            for lease in ready:
                lease.renew()


_HEART = _Heart()
os.register_at_fork(after_in_child=lambda: globals().update(_HEART=_Heart()))   # threads do not survive a fork


class Lease:
    """Hold the lock file `path` for the duration of a `with` block (see the module's doc)."""

    def __init__(self, path: str | Path, command: str, lease_s: float = LEASE_S, what: str | None = None):
        self.path = Path(path)
        self.command, self.lease_s = command, lease_s
        self.what = what or str(self.path)
        self.info: dict | None = None
        self.broke: list[str] = []       # why each dead holder's lock was broken (for the caller's log)
        self._mu = threading.Lock()      # a renewal and the release never interleave

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        mine = identity(self.command, self.lease_s)
        for _ in range(20):
            if _link(self.path, json.dumps(mine)):
                self.info = mine
                _HEART.add(self)
                return
            info, mtime = read(self.path)
            if info is None:
                continue   # released between our link and our read
            why = dead_reason(info, mtime)
            if why is None:
                raise Held(f"{self.what} is held by {describe(info)}: {info.get('command', '?')}")
            if _break(self.path, info.get("token")):
                self.broke.append(f"{self.what}: broke the lock of {describe(info)}: {why}")
            else:
                time.sleep(0.1)
        raise Held(f"{self.what}: could not take its lock {self.path} (others kept taking it)")

    def _lost(self, token: str) -> str | None:
        """Why this lock is no longer ours, or None while it is."""
        info, _ = read(self.path)
        if info is not None and info.get("token") == token:
            return None
        holder = f" to {describe(info)}" if info else ""
        return (f"{self.what}: lost its lock {self.path}{holder} (this process stopped renewing it for over "
                f"{self.lease_s:.0f} s)")

    def renew(self) -> None:
        """The heartbeat: touch the lock file, or stop the process hard if the lock is no longer ours (fencing)."""
        with self._mu:
            if self.info is None:
                return
            lost = self._lost(self.info["token"])
            if lost:
                sys.stderr.write(f"metaex: error: {lost}; stopping\n")
                sys.stderr.flush()
                os._exit(LOST_EXIT)
            try:
                os.utime(self.path)
            except FileNotFoundError:
                pass   # seen as lost at the next beat

    def release(self) -> str | None:
        """Remove the lock if it is still ours; returns why it was not (another took it over), else None."""
        _HEART.remove(self)
        with self._mu:
            if self.info is None:
                return None
            lost = self._lost(self.info["token"])
            if lost is None:
                self.path.unlink(missing_ok=True)
            self.info = None
            return lost

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(self, kind, *exc) -> None:
        lost = self.release()
        if lost and kind is None:
            raise Held(lost + "; its work may have overlapped another holder's")
