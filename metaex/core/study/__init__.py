"""A whole study: its config, its plan as typed steps grouped into cells, and the runner that executes them."""

from metaex.core.study.config import Arm, StudyConfig
from metaex.core.study.plan import STAGES, Cell, Plan, Step, build_plan
from metaex.core.study.read import load_config

__all__ = ["STAGES", "Arm", "Cell", "Plan", "Step", "StudyConfig", "build_plan", "load_config"]
