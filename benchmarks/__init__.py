"""Benchmarks: each `bench_*.py` module has `run() -> list[Result]`; timings are ratios against a baseline
measured in the same run, never absolute targets in unit tests."""
