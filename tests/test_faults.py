"""Crash safety, SQLite-style: a micro study is killed hard (`os._exit`, as `kill -9` would) just before its Nth
commit (every rename of an output into place, `metaex.core.files.commit_point`), for every N up to the number of
commits an uninterrupted run makes. After each crash a plain re-run completes, and its report.json results equal
the uninterrupted run's. Runs fork from this process (imports paid once), two at a time."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import GRAMMARS

# one arm (bridged: its corpus, manifest and pre-training are write boundaries too), one condition, two seeds,
# checkpoints every 2 steps: every kind of commit a study makes, as few of each as a study can have
FAULT_STUDY = """
[study]
grammars = ["reber", "counting"]
seeds = [0, 1]
conditions = ["examples"]
doses = [4]
grammar_dir = "{grammars}"

[data]
max_len = 10
test_strings = 6
paraphrases = 1
filler_grammars = 0
example_steps = 4

[model]
batch_size = 4
save_steps = 2

[arms.tiny-bridged]
bridged = true
bridge_grammars = 2
bridge_examples = 2
bridge_epochs = 1

[probe]
samples = 4
limit = 4
verbal = 1
cuts = [1]
batch_size = 16
"""


def _spawn(config: Path, out: Path, env: dict[str, str]) -> int:
    """Start `metaex study run` in a forked child with `env`; returns its pid."""
    pid = os.fork()
    if pid == 0:   # the child: run the study in-process, then leave without running the parent's cleanup
        code = 1
        try:
            os.environ.update(env)
            import sys

            from typer.main import get_command

            from metaex.cli.main import app

            sys.stderr = open(out.parent / f"{out.name}.log", "a")   # noqa: SIM115  (the child's messages)
            rc = get_command(app).main(["study", "run", str(config), "--out", str(out), "--threads", "1"],
                                       prog_name="metaex", standalone_mode=False)
            code = rc if isinstance(rc, int) else 0
        finally:
            os._exit(code)
    return pid


def _study(config: Path, out: Path, env: dict[str, str]) -> int:
    """Run `metaex study run` in a forked child; its exit status."""
    return os.waitstatus_to_exitcode(os.waitpid(_spawn(config, out, env), 0)[1])


def _results(out: Path) -> list:
    return json.loads((out / "report" / "report.json").read_text())["results"]


def _leftovers(out: Path) -> list[str]:
    """Hidden temp files or folders anywhere in the study folder."""
    return sorted(str(p.relative_to(out)) for p in out.rglob(".*.tmp"))


@pytest.mark.slow
def test_a_study_killed_at_every_commit_resumes_to_the_same_report(tmp_path):
    import torch

    from metaex.core.files import FAULT_ENV, FAULT_EXIT, FAULT_LOG_ENV

    torch.set_num_threads(1)
    # imported once here, inherited by every forked run
    import matplotlib.pyplot  # noqa: F401
    import scipy.stats  # noqa: F401
    from transformers import LlamaForCausalLM, Trainer  # noqa: F401

    import metaex.core.report  # noqa: F401
    import metaex.core.train.hf  # noqa: F401

    config = tmp_path / "faults.toml"
    config.write_text(FAULT_STUDY.replace("{grammars}", str(GRAMMARS)))
    log = tmp_path / "commits.log"
    reference = tmp_path / "reference"
    assert _study(config, reference, {FAULT_LOG_ENV: str(log)}) == 0
    total = len(log.read_text().splitlines())
    expected = _results(reference)
    assert total > 40 and not _leftovers(reference)

    # every N: a run killed at its Nth commit, then a plain re-run of the same folder; two at a time (2 cores)
    todo, running, outcomes = list(range(1, total + 1)), {}, {}
    while todo or running:
        while todo and len(running) < 2:
            n = todo.pop(0)
            running[_spawn(config, tmp_path / f"crash-{n}", {FAULT_ENV: str(n)})] = (n, "kill")
        pid, status = os.wait()
        n, phase = running.pop(pid)
        out = tmp_path / f"crash-{n}"
        if phase == "kill":
            outcomes[n] = [os.waitstatus_to_exitcode(status), None, None, None, _leftovers(out)]
            running[_spawn(config, out, {})] = (n, "resume")
        else:
            outcomes[n][1] = os.waitstatus_to_exitcode(status)
            outcomes[n][2] = _results(out) if outcomes[n][1] == 0 else None
            outcomes[n][3] = _leftovers(out)
            if outcomes[n][1] == 0 and outcomes[n][2] == expected:
                shutil.rmtree(out)
    outcomes = [outcomes[n] for n in range(1, total + 1)]
    for n, (killed, resumed, results, left, _) in enumerate(outcomes, 1):
        assert killed == FAULT_EXIT, f"commit {n}: the injected fault did not fire (exit {killed})"
        log = (tmp_path / f"crash-{n}.log").read_text()[-600:]
        assert resumed == 0, f"commit {n}: the re-run after the crash failed (exit {resumed}): {log}"
        assert results == expected, f"commit {n}: the resumed study's report differs from the uninterrupted one"
        assert left == [], f"commit {n}: temp files left after the re-run: {left}"
    # the kills did leave temps behind somewhere (the test would not see a cleanup that never had work)
    assert any(after for *_, after in outcomes)
    print(f"faults injected: {total}")
