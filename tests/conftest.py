"""Shared fixtures. Tests run offline: the hub and telemetry are off before anything is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

for _k, _v in {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false", "DO_NOT_TRACK": "1"}.items():
    os.environ.setdefault(_k, _v)
os.environ.pop("METAEX_DEBUG", None)

ROOT = Path(__file__).resolve().parent.parent
GRAMMARS = ROOT / "grammars"


@pytest.fixture
def run_cli():
    """Invoke the real `metaex` app in-process with Typer's CliRunner; returns the Click Result."""
    from typer.testing import CliRunner

    from metaex.cli.main import app

    runner = CliRunner()

    def _run(*args, input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return _run


@pytest.fixture
def run_subprocess():
    """Run `python -m metaex ARGS` in a fresh process (for import checks, kill -9 tests, exit codes)."""

    def _run(*args, input: str | None = None, timeout: float = 300, env: dict | None = None, cwd=None):
        full_env = {**os.environ, **(env or {})}
        return subprocess.run([sys.executable, "-m", "metaex", *map(str, args)], input=input, text=True,
                              capture_output=True, timeout=timeout, env=full_env, cwd=cwd)

    return _run


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The imported SmolLM2-135M folder (`make test` imports it first; a bare pytest run imports it here once)."""
    folder = ROOT / "models" / "smollm2-135m"
    if not (folder / "metaex.json").is_file():
        from metaex.core.models.imports import import_model

        import_model("smollm2-135m", folder)
    return folder


@pytest.fixture(scope="session")
def grammars_dir() -> Path:
    return GRAMMARS


from tests.slurm_cluster import slurm_cluster, slurm_session  # noqa: E402,F401  (a local SLURM cluster)
