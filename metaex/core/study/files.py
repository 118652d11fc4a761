"""Small file steps of a study plan that no subcommand does (joining per-grammar JSONL files)."""

from __future__ import annotations

from pathlib import Path

from metaex.core import records


def concat(out: str | Path, inputs: list[str]) -> None:
    """Join JSONL files line by line into `out`, atomically (the shell plan shows it as `cat`)."""
    with records.atomic_output(out) as fh:
        for path in inputs:
            for _, line in records.iter_lines(path):
                fh.write(line + "\n")
