"""Mixes: one condition's whole training stream with its manifest (`run.build_mix`), the options it takes
(`options`), the documents it is built from (`build`, `inputs`, `bridge`) and the leakage guard (`leakage`)."""

from metaex.core.mix.build import CONDITIONS, ORDERS
from metaex.core.mix.options import MixOptions
from metaex.core.mix.run import build_mix, manifest_path, run_mix, write_with_manifest

__all__ = ["CONDITIONS", "ORDERS", "MixOptions", "build_mix", "manifest_path", "run_mix", "write_with_manifest"]
