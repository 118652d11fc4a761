"""Reports: `run.make_report` reads a study's probe dirs (`load`), analyses them (`analysis` and the section
modules) and writes one report directory (`document`, `figures`); `options.ReportOptions` is what `metaex report`
takes. Importing this package imports neither numpy nor matplotlib: its names load on first use (the CLI reads
`metaex.core.report.options` at start-up without paying for the rest)."""

from __future__ import annotations

from typing import Any

__all__ = ["HEADLINE", "Study", "load_study", "make_report"]
_WHERE = {"HEADLINE": "analysis", "Study": "load", "load_study": "load", "make_report": "run"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(f"metaex.core.report.{_WHERE[name]}"), name)
    raise AttributeError(name)
