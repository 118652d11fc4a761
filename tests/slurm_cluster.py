"""A real one-node SLURM cluster on localhost for the `slurm` tests (Debian's slurm-wlm 22.05 and munge).

`LocalSlurm(folder).start()` writes a slurm.conf (no accounting database, free ports, state/spool/log folders under
`folder`), a munge key, and two fake GPUs (character devices made with mknod, as gres.conf needs), starts munged,
slurmctld and slurmd by hand, each in its own session, and waits until the node is idle; `stop()` cancels what is
left of the jobs and stops the three daemons by PID. Clients find the cluster through `SLURM_CONF` (`env()`).

The `slurm_cluster` fixture (one cluster per test session, its jobs cancelled after each test) installs the packages with apt-get if they are missing
and this is root; where the cluster cannot start it skips with the reason, or fails when METAEX_REQUIRE_SLURM=1
(CI sets it: there the tests must run).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo")
REQUIRE_ENV = "METAEX_REQUIRE_SLURM"
GPUS = 2


def install() -> str | None:
    """Install the SLURM and munge packages if a daemon or client is missing; returns why it could not, or None."""
    if all(shutil.which(d) for d in DAEMONS):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "slurm is not installed and this is not root on a Debian-like machine (apt-get install -y " \
               + " ".join(PACKAGES) + ")"
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:   # a clean machine may have no package lists yet
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        return f"apt-get install {' '.join(PACKAGES)} failed: {done.stderr.strip()[-300:]}"
    missing = [d for d in DAEMONS if not shutil.which(d)]
    return f"{', '.join(missing)} not on PATH after apt-get install {' '.join(PACKAGES)}" if missing else None


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class LocalSlurm:
    """A one-node SLURM cluster whose every file lives under `folder`."""

    def __init__(self, folder: str | Path, cpus: int = 2, memory_mb: int = 4000):
        self.dir = Path(folder)
        self.node = socket.gethostname().split(".")[0]
        self.cpus, self.memory_mb = cpus, memory_mb
        self.conf = self.dir / "slurm.conf"
        self.munge_socket = self.dir / "munge" / "munge.socket"
        self.procs: dict[str, subprocess.Popen] = {}
        self.gpus = 0
        self.startup_s: float | None = None

    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def _fake_gpus(self) -> int:
        """Character devices for gres.conf (ordinary files are refused); none where mknod is not allowed."""
        dev = self.dir / "dev"
        dev.mkdir(exist_ok=True)
        try:
            for i in range(GPUS):
                os.mknod(dev / f"nvidia{i}", 0o666 | 0o020000, os.makedev(195, i))
        except OSError:
            return 0
        return GPUS

    def write_config(self) -> None:
        d = self.dir
        for sub in ("munge", "state", "spool", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "munge").chmod(0o711)   # munged refuses a socket folder others cannot reach (700 fails)
        key = d / "munge" / "munge.key"
        key.write_bytes(os.urandom(128))
        key.chmod(0o400)
        self.gpus = self._fake_gpus()
        ctld_port, slurmd_port = _free_ports(2)
        gres = f" Gres=gpu:{self.gpus}" if self.gpus else ""
        self.conf.write_text(f"""\
ClusterName=metaex-test
SlurmctldHost={self.node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
StateSaveLocation={d / 'state'}
SlurmdSpoolDir={d / 'spool'}
SlurmctldPidFile={d / 'slurmctld.pid'}
SlurmdPidFile={d / 'slurmd.pid'}
SlurmctldLogFile={d / 'log' / 'slurmctld.log'}
SlurmdLogFile={d / 'log' / 'slurmd.log'}
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=300
KillWait=2
SchedulerParameters=sched_interval=1
GresTypes=gpu
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb}{gres} State=UNKNOWN
PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")
        gres_conf = "AutoDetect=off\n"
        if self.gpus:
            gres_conf += f"NodeName={self.node} Name=gpu File={d / 'dev'}/nvidia[0-{self.gpus - 1}]\n"
        (d / "gres.conf").write_text(gres_conf)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.dir / "log" / f"{name}.out", "wb")   # noqa: SIM115 (kept open for the daemon's life)
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True, env={**os.environ, **self.env()})
        log.close()

    def start(self, timeout: float = 60) -> LocalSlurm:
        t0 = time.perf_counter()
        self.write_config()
        m = self.dir / "munge"
        self._spawn("munged", ["munged", "-F", "--force", f"--key-file={m / 'munge.key'}",
                               f"--socket={self.munge_socket}", f"--pid-file={m / 'munged.pid'}",
                               f"--seed-file={m / 'munged.seed'}", f"--log-file={self.dir / 'log' / 'munged.log'}"])
        self._wait(lambda: self.munge_socket.exists(), timeout, "munged to open its socket")
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf), "-N", self.node])
        self._wait(lambda: self.node_state() == "idle", timeout, "the node to be idle")
        self.startup_s = time.perf_counter() - t0
        return self

    def _wait(self, ready, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not ready():
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead or time.monotonic() > end:
                self.stop()
                why = f"{', '.join(dead)} exited" if dead else f"no answer in {timeout:.0f} s"
                raise RuntimeError(f"local SLURM did not start ({why}) waiting for {what}:\n{self.logs()}")
            time.sleep(0.05)

    def node_state(self) -> str:
        r = self.run("sinfo", "-h", "-N", "-o", "%T", check=False)
        return r.stdout.strip() if r.returncode == 0 else ""

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        """A SLURM client command against this cluster."""
        return subprocess.run(list(cmd), capture_output=True, text=True, check=check, timeout=60,
                              env={**os.environ, **self.env()})

    def jobs(self) -> list[str]:
        """The ids of this cluster's jobs that are pending or running."""
        r = self.run("squeue", "-h", "-r", "-o", "%i", check=False)
        return r.stdout.split() if r.returncode == 0 else []

    def wait_idle(self, timeout: float = 300) -> None:
        """Until no job is pending or running."""
        end = time.monotonic() + timeout
        while self.jobs():
            if time.monotonic() > end:
                raise TimeoutError(f"jobs still queued after {timeout:.0f} s: {self.jobs()}")
            time.sleep(0.2)

    def cancel_all(self) -> None:
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            self.run("scancel", "--user", str(os.geteuid()), check=False)
            end = time.monotonic() + 15
            while self.jobs() and time.monotonic() < end:
                time.sleep(0.2)

    def stop(self) -> None:
        """Cancel what is left of the jobs, then stop the daemons by PID (slurmd first, munged last)."""
        self.cancel_all()
        for name in ("slurmd", "slurmctld", "munged"):
            p = self.procs.pop(name, None)
            if p is None:
                continue
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)

    def logs(self) -> str:
        out = []
        for f in sorted((self.dir / "log").glob("*")):
            text = f.read_text(errors="replace").strip().splitlines()[-15:]
            out.append(f"--- {f.name}\n" + "\n".join(text))
        return "\n".join(out)


@pytest.fixture(scope="session")
def slurm_session(tmp_path_factory):
    """One local SLURM cluster for the session; skipped (failed under METAEX_REQUIRE_SLURM=1) where it cannot run."""
    required = os.environ.get(REQUIRE_ENV) == "1"

    def unavailable(why: str):
        if required:
            pytest.fail(f"SLURM tests required ({REQUIRE_ENV}=1) but {why}", pytrace=False)
        pytest.skip(f"no local SLURM: {why}")

    why = install()
    if why:
        unavailable(why)
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except RuntimeError as e:
        unavailable(str(e))
    os.environ["SLURM_CONF"] = str(cluster.conf)   # every client the tests start (metaex's sbatch too) finds it
    try:
        yield cluster
    finally:
        os.environ.pop("SLURM_CONF", None)
        cluster.stop()


@pytest.fixture
def slurm_cluster(slurm_session):
    """The session's cluster, with whatever a test left queued (a failed one) cancelled after it."""
    yield slurm_session
    slurm_session.cancel_all()
