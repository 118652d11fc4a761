"""`make bench` / `python -m benchmarks [NAME…]`: run every benchmarks/bench_*.py and print a ratio table."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    rows = []
    for name in names:
        print(f"# {name} …", file=sys.stderr, flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        rows.extend(module.run())
    print(f"{'benchmark':58} {'ours':>12} {'baseline':>12} {'ratio':>8} {'target':>7}  baseline is")
    failed = 0
    for r in rows:
        target = f"≥{r.target:g}×" if r.target is not None else "-"
        mark = "" if r.ok is None else ("  ok" if r.ok else "  MISSED")
        failed += r.ok is False
        print(f"{r.name + ' (' + r.unit + ')':58} {r.ours:12.1f} {r.baseline:12.1f} {r.ratio:7.1f}× {target:>7}  "
              f"{r.baseline_name}{mark}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
