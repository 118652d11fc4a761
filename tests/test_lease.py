"""The cell lock that holds on a shared filesystem (metaex.core.study.lease), against real processes: a second
holder is refused, a killed holder's lock is taken over, a frozen holder's expired lease is broken and the holder
stops when it wakes, and racing takers never hold one lock together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metaex.core.study.lease import LOST_EXIT, Held, Lease

ROOT = Path(__file__).resolve().parent.parent
HOLD = """
import sys, time
from metaex.core.study.lease import Lease
with Lease(sys.argv[1], "holder", lease_s=float(sys.argv[2])):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _holder(path: Path, lease_s: float = 60) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(lease_s)], cwd=ROOT, text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == "held\n", p.stderr.read()
    return p


def test_a_second_process_is_refused_until_the_holder_releases(tmp_path):
    lock = tmp_path / "cell.lock"
    holder = _holder(lock)
    with pytest.raises(Held, match=f"pid {holder.pid} on .*: holder"):
        Lease(lock, "second").acquire()
    holder.communicate("\n", timeout=30)
    assert holder.returncode == 0 and not lock.exists()
    with Lease(lock, "second") as lease:
        assert json.loads(lock.read_text())["pid"] == os.getpid() and lease.broke == []
    assert not lock.exists()


def test_a_killed_holder_leaves_a_lock_the_next_taker_recovers(tmp_path):
    lock = tmp_path / "cell.lock"
    holder = _holder(lock)
    holder.kill()
    holder.wait(30)
    assert json.loads(lock.read_text())["pid"] == holder.pid   # left behind
    with Lease(lock, "next") as lease:
        assert len(lease.broke) == 1
        assert lease.broke[0].startswith(f"{lock}: broke the lock of pid {holder.pid} on ")
        assert lease.broke[0].endswith(f": its process {holder.pid} is gone")


def test_a_frozen_holder_loses_its_expired_lease_and_stops_when_it_wakes(tmp_path):
    lock = tmp_path / "cell.lock"
    holder = _holder(lock, lease_s=2.4)   # renewed every 0.4 s
    os.kill(holder.pid, signal.SIGSTOP)
    with pytest.raises(Held):
        Lease(lock, "early").acquire()    # alive on this host, lease still running
    time.sleep(2.8)
    with Lease(lock, "next") as lease:
        assert "its lease expired" in lease.broke[0]
        os.kill(holder.pid, signal.SIGCONT)
        holder.wait(30)   # it stops at its next heartbeat, leaving our lock alone
        err = holder.stderr.read()
        assert holder.returncode == LOST_EXIT
        assert f"lost its lock {lock} to pid {os.getpid()}" in err
        assert json.loads(lock.read_text())["pid"] == os.getpid()


RACE = """
import os, sys, time
from metaex.core.study.lease import Held, Lease
lock, log = sys.argv[1], sys.argv[2]
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))   # all start together
held = 0
while held < 5:   # each racer holds the lock 5 times, retrying while another holds it
    try:
        with Lease(lock, "racer"):
            with open(log, "a") as fh:
                fh.write(f"in {os.getpid()}\\n")
            time.sleep(0.02)
            with open(log, "a") as fh:
                fh.write(f"out {os.getpid()}\\n")
        held += 1
    except Held:
        time.sleep(0.001)
"""


def test_racing_takers_never_hold_one_lock_together_even_over_a_dead_holders_lock(tmp_path):
    lock, log = tmp_path / "cell.lock", tmp_path / "log"
    dead = _holder(lock)
    dead.kill()
    dead.wait(30)
    start = time.time() + 1.5
    racers = [subprocess.Popen([sys.executable, "-c", RACE, str(lock), str(log), str(start)], cwd=ROOT)
              for _ in range(4)]
    assert [r.wait(120) for r in racers] == [0, 0, 0, 0]
    events = log.read_text().split("\n")[:-1]
    assert len(events) == 4 * 5 * 2 and len({e.split()[1] for e in events}) == 4
    for i in range(0, len(events), 2):   # strictly in, out, in, out… of the same process
        assert events[i].startswith("in ") and events[i + 1] == "out " + events[i].split()[1]
    assert not lock.exists()


@pytest.mark.slurm
def test_a_cancelled_slurm_tasks_lock_is_recovered_by_its_job_state(slurm_cluster, tmp_path):
    lock, ready = tmp_path / "cell.lock", tmp_path / "ready"
    script = tmp_path / "hold.sh"
    script.write_text(f"#!/bin/bash\ncd {ROOT}\nexec {sys.executable} -c '{HOLD}' {lock} 600 > {ready} < /dev/zero\n"
                      .replace("sys.stdin.readline()", "time.sleep(600)"))
    array = slurm_cluster.run("sbatch", "--parsable", "--array=3", "-o", str(tmp_path / "log"),
                              str(script)).stdout.strip()
    end = time.monotonic() + 60
    while not (ready.is_file() and ready.read_text() == "held\n"):
        assert time.monotonic() < end, slurm_cluster.logs()
        time.sleep(0.1)
    assert json.loads(lock.read_text())["job"] == f"{array}_3"
    with pytest.raises(Held, match=f"SLURM job {array}_3"):
        Lease(lock, "next").acquire()
    slurm_cluster.run("scancel", f"{array}_3")
    slurm_cluster.wait_idle(60)
    with Lease(lock, "next") as lease:
        assert lease.broke[0].endswith(f"its SLURM job {array}_3 is CANCELLED")


MANY = """
import sys, time
from metaex.core.study.lease import Lease
leases = [Lease(f"{sys.argv[1]}/cell{i}.lock", "many", lease_s=1.5).__enter__() for i in range(40)]
print("held", flush=True)
sys.stdin.readline()
"""


def test_one_heartbeat_keeps_many_leases_alive(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", MANY, str(tmp_path)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout.readline() == "held\n"
    time.sleep(3.5)   # over 2 leases: a lock not renewed would be broken as expired
    for i in (0, 17, 39):
        with pytest.raises(Held, match=f"pid {holder.pid} "):
            Lease(tmp_path / f"cell{i}.lock", "other").acquire()
    holder.communicate("\n", timeout=30)
