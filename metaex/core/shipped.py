"""What ships with metaex: the template grammars and the study configs.

Both are package data (`metaex/data/grammars/*.pcfg`, `metaex/data/studies/*.toml`), so an installed wheel holds the
same files that a checkout's `grammars/` and `configs/` link to. A shipped config's `grammar_dir` (default
`../grammars`, relative to the config file) therefore finds the shipped grammars wherever metaex is installed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def grammar_dir() -> Path:
    return Path(str(resources.files("metaex").joinpath("data", "grammars")))


def config_dir() -> Path:
    return Path(str(resources.files("metaex").joinpath("data", "studies")))


def grammars() -> list[Path]:
    """The shipped template grammars, by name."""
    return sorted(grammar_dir().glob("*.pcfg"))


def configs() -> list[Path]:
    """The shipped study configs, by name."""
    return sorted(config_dir().glob("*.toml"))


def summary(config: Path) -> str:
    """A config's first comment line (what it runs)."""
    for line in config.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""
