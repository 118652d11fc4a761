"""Shared helpers for benchmarks: a result row and a median-of-repeats timer."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Result:
    name: str        # what was measured, e.g. "membership check, strings of length ~10"
    unit: str        # e.g. "strings/s"
    ours: float      # our throughput (higher is better)
    baseline: float  # the baseline's throughput measured in the same run
    baseline_name: str
    target: float | None = None  # the ratio ours/baseline the issue asks for

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("inf")

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target


def median_rate(fn: Callable[[], int], repeats: int = 5) -> float:
    """Median over `repeats` runs of (units done by fn) / (seconds fn took)."""
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        units = fn()
        rates.append(units / max(time.perf_counter() - t0, 1e-9))
    return statistics.median(rates)
