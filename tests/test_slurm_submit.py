"""`metaex study submit --dry-run` (no cluster needed): the arrays, their resources from [slurm] and its
overrides, their dependencies and the GPU estimate; bad [slurm] values and options are one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import GRAMMARS

LADDER = f"""
[study]
grammars = ["reber", "counting"]
seeds = [0, 1]
conditions = ["examples", "explained"]
doses = [32]
grammar_dir = "{GRAMMARS}"

[data]
max_len = 14
test_strings = 20

[arms.small]
model = "Qwen/Qwen2.5-0.5B"

[arms.big]
model = "Qwen/Qwen2.5-7B"

[slurm]
partition = "gpu"
gpus = 1
cpus = 4
mem = "24G"
time = "2:00:00"
parallel = 3
sbatch = ["--account=lab"]

[slurm.data]
time = "0:30:00"

[slurm.arms.big]
gpus = 2
mem = "80G"
time = "12:00:00"
"""


def _config(tmp_path: Path, text: str = LADDER) -> Path:
    path = tmp_path / "ladder.toml"
    path.write_text(text)
    return path


def _scripts(stdout: str) -> dict[str, list[str]]:
    """The printed sbatch scripts by array name: their #SBATCH lines and the sbatch command line first."""
    out = {}
    for block in stdout.split("# --- ")[1:]:
        name = block.split(":", 1)[0]
        lines = block.splitlines()
        out[name] = [lines[0]] + [line for line in lines if line.startswith("#SBATCH ")]
    return out


def test_dry_run_prints_one_array_per_stage_and_arm_with_its_resources(run_cli, tmp_path):
    out = tmp_path / "study"
    result = run_cli("study", "submit", _config(tmp_path), "--out", out, "--dry-run")
    assert result.exit_code == 0, result.output
    scripts = _scripts(result.stdout)
    assert list(scripts) == ["data", "small", "big", "report"]
    data, small, big, report = scripts.values()
    assert "#SBATCH --array=0-1" in data and "#SBATCH --time=0:30:00" in data and "#SBATCH --mem=24G" in data
    assert not any("--gres" in line for line in data + report)           # data and report ask for no GPU
    assert "#SBATCH --gres=gpu:1" in small and "#SBATCH --time=2:00:00" in small
    assert "#SBATCH --gres=gpu:2" in big and "#SBATCH --mem=80G" in big and "#SBATCH --time=12:00:00" in big
    for lines in (small, big):   # one task per cell: 2 seeds × 2 conditions, at most 3 at once
        assert "#SBATCH --array=0-3%3" in lines
        assert "--dependency=afterok:$JOB_data " in lines[0]
    assert "--dependency=afterok:$JOB_small:$JOB_big " in report[0]
    for lines in scripts.values():
        assert {"#SBATCH --partition=gpu", "#SBATCH --account=lab", "#SBATCH --kill-on-invalid-dep=yes",
                "#SBATCH --cpus-per-task=4"} <= set(lines)
        assert f"#SBATCH --output={out.resolve()}/slurm/logs/" in " ".join(lines)
    # each task runs its own cells through `study run --cell`, with the CPUs it asked for as torch threads
    assert "  3) cells=(seed1/big/explained-d32) ;;" in result.stdout
    assert result.stdout.count(f"study run {tmp_path / 'ladder.toml'} --out {out.resolve()} --threads 4 ") == 4
    assert "0 cells done, 0 queued by earlier submissions; would submit 4 arrays, 11 tasks:" in result.stdout
    assert "  big: 4 tasks of 2 GPUs, 4 CPUs, 80G memory, 12:00:00 limit (4 cells, at most 3 at once); after data" \
        in result.stdout
    estimates = [line for line in result.stdout.splitlines() if line.startswith("  estimate: ")]
    assert [e.split(":")[1].strip() for e in estimates] == ["small", "big"]
    assert all(re.search(r"≈ [\d.,]+ GPU-hours of fine-tuning in 4 cells", e) for e in estimates)
    assert not out.exists()                                        # a dry run writes nothing


def test_the_command_line_overrides_every_table(run_cli, tmp_path):
    result = run_cli("study", "submit", _config(tmp_path), "--out", tmp_path / "s", "--dry-run", "--time", "1:00:00",
                     "--cells-per-task", "2", "--sbatch=--qos=low")
    assert result.exit_code == 0, result.output
    for name, lines in _scripts(result.stdout).items():
        assert "#SBATCH --time=1:00:00" in lines and "#SBATCH --qos=low" in lines, name
        assert "#SBATCH --account=lab" not in lines
    assert "  big: 2 tasks of 2 GPUs" in result.stdout   # 2 cells of one seed a task


@pytest.mark.parametrize("table, message", [
    ("[slurm]\ngpu = 1\n", "unknown key 'gpu' in [slurm] (did you mean 'gpus'?)"),
    ("[slurm]\ntime = \"two hours\"\n", "[slurm] time must be a SLURM time such as 4:00:00, got 'two hours'"),
    ("[slurm]\ncpus = 0\n", "[slurm] cpus must be at least 1, got 0"),
    ("[slurm.arms.bigg]\ngpus = 2\n", "[slurm.arms.bigg]: no arm 'bigg' in the study (did you mean 'big'?)"),
    ("[slurm.data]\nmem = 4\n", "[slurm.data] mem must be a string, got 4"),
])
def test_bad_slurm_tables_are_one_line_errors(run_subprocess, tmp_path, table, message):
    config = _config(tmp_path, LADDER.split("[slurm]")[0] + table)
    r = run_subprocess("study", "submit", config, "--out", tmp_path / "s", "--dry-run")
    assert r.returncode == 2 and r.stderr.strip() == f"metaex: error: {config}: {message}", r.stderr


def test_bad_options_and_a_folder_never_submitted_are_one_line_errors(run_subprocess, tmp_path):
    r = run_subprocess("study", "submit", _config(tmp_path), "--out", tmp_path / "s", "--dry-run", "--mem", "lots")
    assert r.returncode == 2 and r.stderr.strip() == "metaex: error: --mem must be a SLURM mem such as 32G, got " \
        "'lots'", r.stderr
    r = run_subprocess("study", "status", tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "no submission recorded here" in r.stderr


def test_dry_run_names_job_ids_by_variables_a_shell_takes(run_cli, tmp_path):
    """The shipped GPU config's ladder: arms named for hub models (`Qwen2.5-0.5B`) get job-id variables a shell can
    hold, so the printed sbatch lines can be pasted (`$JOB_Qwen2.5-0.5B` is `$JOB_Qwen2` then text)."""
    config = Path(__file__).resolve().parent.parent / "configs" / "study-gpu.toml"
    result = run_cli("study", "submit", config, "--out", tmp_path / "s", "--dry-run", "--models",
                     "Qwen/Qwen2.5-0.5B Qwen/Qwen2.5-7B")
    assert result.exit_code == 0, result.output
    heads = [line for line in result.stdout.splitlines() if line.startswith("# --- ")]
    names = re.findall(r"\$(\S+?)(?=[\s:)])", "\n".join(heads))
    assert names and all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names), names
    assert heads[-1].startswith("# --- report: ") and "afterok:$JOB_Qwen2_5_0_5B:$JOB_Qwen2_5_7B " in heads[-1]
