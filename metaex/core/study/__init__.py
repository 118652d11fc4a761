"""A whole study: its config, its plan as typed steps grouped into cells, and the runner that executes them."""

from metaex.core.study.config import Arm, StudyConfig, load_config
from metaex.core.study.plan import STAGES, Cell, Plan, Step, build_plan

__all__ = ["STAGES", "Arm", "Cell", "Plan", "Step", "StudyConfig", "build_plan", "load_config"]
