"""A whole study: its config, and its plan as a list of metaex command lines."""

from metaex.core.study.config import Arm, StudyConfig, load_config
from metaex.core.study.plan import STAGES, Step, build_plan

__all__ = ["STAGES", "Arm", "Step", "StudyConfig", "build_plan", "load_config"]
