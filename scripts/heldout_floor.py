"""The floor of held-out fit: a test string's log-probability under its own PCFG, per model token, beside what the
fine-tuned models of a study reached (docs/notebook/2026-12-03-why-plant-weak-smollm2.md).

    python scripts/heldout_floor.py STUDY_DIR ARM MODEL_DIR [--dose 16] [--seeds 0 1 2 3]
                                    [--conditions examples filler worked]

A string's PCFG log-probability is renormalised to the study's length cap ([data] max_len of its
config.resolved.json; P(length ≤ cap) estimated from 4,000 draws of the untruncated grammar) and divided by the string's tokens as the probe counts them (after "NAME:",
EOS included). It is a reference, not a bound: the test strings are distinct draws, and a per-token mean of
ratios is not a cross-entropy.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from metaex.core.grammar.pcfg import load_grammar
from metaex.core.grammar.recognize import recognizer
from metaex.core.grammar.sample import sample_strings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", type=Path)
    ap.add_argument("arm")
    ap.add_argument("model", help="the arm's base model folder (for its tokenizer)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--conditions", nargs="+", default=["examples", "filler", "worked"])
    ap.add_argument("--dose", type=int, default=16)
    a = ap.parse_args()
    max_len = json.loads((a.study / "config.resolved.json").read_text())["data"]["max_len"]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(a.model)
    for s in a.seeds:
        probes = a.study / "probes" / a.arm
        rows: dict[str, dict[str, list[tuple[str, float]]]] = {}
        summary = map(json.loads, (probes / f"seed{s}-{a.conditions[0]}-d{a.dose}" / "summary.jsonl").open())
        template = {r["grammar"]: r["template"] for r in summary}
        for cond in a.conditions:
            for line in (probes / f"seed{s}-{cond}-d{a.dose}" / "items.jsonl").open():
                r = json.loads(line)
                if r.get("metric") == "heldout_lp" and r.get("variant") == "adapter":
                    rows.setdefault(r["grammar"], {}).setdefault(cond, []).append((r["text"], r["value"]))
        for name, by_cond in sorted(rows.items()):
            tmpl = template[name]
            g = load_grammar(a.study / f"seed{s}" / "grammars" / f"{tmpl}.pcfg")
            rec = recognizer(g)
            draws = sample_strings(g, 4000, 123)
            log_z = math.log(sum(len(x.split()) <= max_len for x in draws) / len(draws))
            prompt = len(tok(f"{name}:")["input_ids"])
            floor = [(rec.logprob(text) - log_z) / (len(tok(f"{name}: {text}")["input_ids"]) - prompt + 1)
                     for text, _ in by_cond[a.conditions[0]]]
            reached = "  ".join(f"{c} {sum(v for _, v in by_cond[c]) / len(by_cond[c]):+.3f}" for c in by_cond)
            print(f"seed {s}  {tmpl:<10} {name:<8} floor {sum(floor) / len(floor):+.3f}  {reached}")


if __name__ == "__main__":
    main()
