"""`metaex screen MODEL`: can a model read a rule *in context*? A check before paying for fine-tunes.

For each grammar (default: the shipped templates that declare a contest) the contest's two variants A and B are
explained alike (`explain`: paraphrase i of a style is worded the same for both, so the texts differ only in the
contested rule), and each contested pair (a ∈ L(A) only, b ∈ L(B) only: one derivation, the contested rule as each
variant has it) is scored after A's explanation and after B's, in the study's prompt format
(`"{explanation}\\n{name}: {string}"`, end of text included). Per pair, per word:

    pref(X) = (log p(a | X's explanation) − log p(b | X's explanation)) / words
    DAE     = (pref(A) − pref(B)) / 2

the in-context direction-adjusted effect: how much more the model prefers the form the explanation in its context
tells. Both explanations hold the same words, names and length, so vocabulary, prompt length and any prior
preference for one form cancel: a model that does not read the rule has DAE 0 exactly in expectation. The bare
preference (no explanation) is reported beside it. Intervals are over pairs (the model is fixed; items are the only
noise), per grammar and for the mean over grammars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaex.core import formats
from metaex.core.errors import InputError
from metaex.core.options import option, record


@dataclass(frozen=True, kw_only=True)
class ScreenOptions:
    pairs: int = option(40, "contested pairs per grammar", low=1)
    paraphrases: int = option(2, "explanation paraphrases per style per variant (cycled over the pairs)", low=1)
    styles: str = option("prose,bnf", "explanation styles: prose and bnf differ between the variants only in the "
                         "contested rule")
    seed: int = option(0, "seed of the contests' pairs and the explanations' wording", low=0)
    max_len: int = option(20, "longest contested string", low=1, unit="terminals")
    batch_size: int = option(32, "scoring batch (rows)", low=1)

    def check(self) -> None:
        from metaex.core.explain.run import parse_styles
        from metaex.core.options import check

        check(self)
        parse_styles(self.styles)


def default_grammars() -> list[Path]:
    """The shipped templates that declare a contest."""
    from metaex.core import shipped

    return [p for p in shipped.grammars() if "\n# contest:" in p.read_text(encoding="utf-8")]


@dataclass(frozen=True)
class _Grammar:
    name: str
    rule: str
    change: str
    pairs: list[Any]
    explanations: dict[str, list[str]]


def _prepare(path: Path, opts: ScreenOptions) -> _Grammar:
    from metaex.core.explain.run import explain, parse_styles
    from metaex.core.grammar import contest as C
    from metaex.core.grammar.contest_pairs import contested_pairs
    from metaex.core.grammar.pcfg import load_grammar
    from metaex.core.grammar.run import about

    g = load_grammar(path)
    with about(path):
        chosen = C.choose(g, max_len=opts.max_len, need=1, pairs=opts.pairs, seed=opts.seed)
        a, b = C.variants(g, chosen.contest)
        pairs = contested_pairs(g, chosen.contest, opts.pairs, opts.seed, opts.max_len)
        styles = parse_styles(opts.styles)
        texts = {v: [r["text"] for r in explain(var, styles, opts.paraphrases, opts.seed)]
                 for v, var in (("a", a), ("b", b))}
    if not pairs:
        raise InputError(f"no contested pairs of at most {opts.max_len} terminals", str(path))
    return _Grammar(g.name, C.rule_text(g, C.alternative(g, chosen.contest)), chosen.contest.spec(g), pairs, texts)


def _interval(values: Any) -> dict[str, float]:
    from scipy import stats

    n = len(values)
    mean = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    q = float(stats.t.ppf(0.975, n - 1)) if n > 1 else math.nan
    return {"estimate": mean, "se": se, "ci_low": mean - q * se, "ci_high": mean + q * se, "n": n}


def screen(model: str | Path, grammars: list[str | Path] | None, opts: ScreenOptions,
           device: str | None = None) -> dict[str, Any]:
    """{"model", "grammars": [per grammar: rule, change, dae, bare, moved], "dae": over grammars, "verdict"}."""
    import numpy as np

    opts.check()
    paths = [Path(p) for p in grammars] if grammars else default_grammars()
    prepared = [_prepare(p, opts) for p in paths]

    from metaex.core.models.load import load_model
    from metaex.core.probe import scoring
    from metaex.core.probe.in_context import prompt

    net, tok = load_model(model, device=device)
    asks: list[tuple[str, str]] = []
    for g in prepared:
        for i, p in enumerate(g.pairs):
            contexts = [prompt(g.explanations[v][i % len(g.explanations[v])], g.name) for v in ("a", "b")]
            for ctx in (*contexts, formats.example_prompt(g.name)):
                asks += [(ctx, " " + p.a), (ctx, " " + p.b)]
    requests = scoring.encode_many(tok, asks, eos=True)
    lps = [float(x.sum()) for x in scoring.loglikelihoods(net, requests, batch_size=opts.batch_size,
                                                          pad_id=scoring.pad_id(tok))]
    rows, k = [], 0
    for g in prepared:
        n = len(g.pairs)
        block = np.array(lps[k:k + 6 * n]).reshape(n, 3, 2)     # pair × (A's expl, B's expl, none) × (a, b)
        k += 6 * n
        words = np.array([len(p.a.split()) for p in g.pairs], dtype=float)
        pref = (block[..., 0] - block[..., 1]) / words[:, None]   # preference for a's form, per word
        dae = (pref[:, 0] - pref[:, 1]) / 2
        rows.append({"grammar": g.name, "rule": g.rule, "change": g.change, "pairs": n,
                     "dae": _interval(dae), "bare": _interval(pref[:, 2]),
                     "moved": float(np.mean(pref[:, 0] > pref[:, 1]))})   # pairs moved the told way
    means = np.array([r["dae"]["estimate"] for r in rows])
    ses = np.array([r["dae"]["se"] for r in rows])
    mean = float(means.mean())
    se = float(math.sqrt(np.nansum(ses ** 2)) / len(rows))
    total = {"estimate": mean, "se": se, "ci_low": mean - 1.96 * se, "ci_high": mean + 1.96 * se,
             "grammars": len(rows)}
    verdict = ("reads the contested rules in context (interval above 0)" if total["ci_low"] > 0 else
               "prefers the form the explanation does NOT tell (interval below 0)" if total["ci_high"] < 0 else
               "no evidence that it reads the contested rules in context (interval covers 0)")
    from metaex.core.models.provenance import model_fingerprint

    return {"schema": "metaex/screen@1", "model": str(model), "fingerprint": model_fingerprint(str(model)),
            "options": record(opts), "grammars": rows, "dae": total,
            "verdict": verdict}
