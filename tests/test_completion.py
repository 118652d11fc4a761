"""Shell completion: `metaex --show-completion`, `--install-completion`, and what the installed script asks for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _metaex(*args: str, env: dict[str, str] | None = None, home: Path | None = None) -> str:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    if home is not None:
        full["HOME"] = str(home)
    done = subprocess.run([sys.executable, "-m", "metaex", *args], env=full, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _complete(words: str) -> list[str]:
    """What bash's completion function gets back for the words typed so far (the last one being completed)."""
    parts = words.split(" ")
    out = _metaex(env={"_METAEX_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)})
    return out.split()


def test_commands_groups_and_options_complete():
    assert _complete("metaex gr") == ["grammar"]
    assert "instantiate" in _complete("metaex grammar ") and "sample" in _complete("metaex grammar s")
    assert "--max-len" in _complete("metaex grammar sample --ma")
    assert "configs" in _complete("metaex study c")


def test_show_and_install_completion(tmp_path):
    script = _metaex("--show-completion", "bash")
    assert "_metaex_completion()" in script and "_METAEX_COMPLETE=complete_bash" in script
    _metaex("--install-completion", "bash", home=tmp_path)
    installed = tmp_path / ".bash_completions" / "metaex.sh"
    assert "_metaex_completion()" in installed.read_text()
    assert f"source '{installed}'" in (tmp_path / ".bashrc").read_text()
