"""Reports: `run.make_report` reads a study's probe dirs (`load`), analyses them (`analysis` and the section
modules) and writes one report directory (`document`, `figures`)."""

from metaex.core.report.analysis import HEADLINE
from metaex.core.report.load import Study, load_study
from metaex.core.report.run import is_report_dir, make_report

__all__ = ["HEADLINE", "Study", "is_report_dir", "load_study", "make_report"]
