"""A built wheel is a working metaex: installed alone (no repository on the path), it runs from any folder and
carries the shipped grammars and study configs, which a shipped config finds by its default `grammar_dir`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the sources (the checkout stays clean) and installed into a bare folder with
    `--no-deps`: its dependencies are the test environment's own (torch is not reinstalled)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "metaex", src / "metaex", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)],
                   check=True, cwd=tmp)
    wheels = list((tmp / "dist").glob("metaex-*.whl"))
    assert len(wheels) == 1, wheels
    target = tmp / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheels[0])],
                   check=True, cwd=tmp)
    return target


def _run(target: Path, *args: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_wheel_runs_from_outside_the_repository_with_its_own_files(installed, tmp_path):
    py = sys.executable
    where = _run(installed, py, "-c", "import metaex; print(metaex.__file__)", cwd=tmp_path).strip()
    assert Path(where).is_relative_to(installed), f"imported {where}, not the wheel's package"
    assert _run(installed, py, "-m", "metaex", "--version", cwd=tmp_path).startswith("metaex ")

    grammars = [json.loads(line) for line in _run(installed, py, "-m", "metaex", "grammar", "list", "--json",
                                                  cwd=tmp_path).splitlines()]
    shipped = sorted(p.stem for p in (ROOT / "grammars").glob("*.pcfg"))
    assert [g["name"] for g in grammars] == shipped
    assert all(Path(g["path"]).is_relative_to(installed) and g["description"] for g in grammars)

    configs = [line.split("\t") for line in _run(installed, py, "-m", "metaex", "study", "configs",
                                                 cwd=tmp_path).splitlines()]
    assert sorted(c[0] for c in configs) == sorted(p.stem for p in (ROOT / "configs").glob("*.toml"))
    study = next(Path(c[2]) for c in configs if c[0] == "study")
    assert study.is_relative_to(installed)

    # a shipped config plans against the shipped grammars; a grammar instantiates from the shipped lexicon
    plan = _run(installed, py, "-m", "metaex", "study", "plan", str(study), "--out", "s", cwd=tmp_path)
    assert str(installed / "metaex" / "data" / "grammars" / "counting.pcfg") in plan
    counting = installed / "metaex" / "data" / "grammars" / "counting.pcfg"
    _run(installed, py, "-m", "metaex", "grammar", "instantiate", str(counting), "--seed", "0", "-o", "inst.pcfg",
         cwd=tmp_path)
    sample = _run(installed, py, "-m", "metaex", "grammar", "sample", "inst.pcfg", "-n", "3", "--seed", "0",
                  cwd=tmp_path)
    assert len(sample.splitlines()) == 3

    # the console script the wheel installs
    script = installed / "bin" / "metaex"
    assert "grammar" in _run(installed, str(script), "--help", cwd=tmp_path)


def test_the_repository_paths_are_the_packaged_files():
    """`make study` reads grammars/ and configs/: the same files the wheel carries."""
    from metaex.core import shipped

    assert (ROOT / "grammars").resolve() == shipped.grammar_dir().resolve()
    assert (ROOT / "configs").resolve() == shipped.config_dir().resolve()
