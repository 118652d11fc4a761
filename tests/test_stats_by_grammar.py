"""Which grammars carry an effect (metaex.core.stats.by_grammar), and why one grammar alone is undetectable at 6
seeds: on simulated studies with a known answer, and through `metaex report`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from metaex.core.stats import bootstrap_effects, write_probe_dirs
from metaex.core.stats.by_grammar import grammar_terms, largest_share, least_seeds_one_grammar, one_grammar_t
from metaex.core.stats.simulate import simulate_study

ONE = (6.0, 0.0, 0.0, 0.0)      # a large effect on the first grammar only


def _did(design, condition="worked", reference="filler"):
    effects = bootstrap_effects(design, ("examples", "filler"), n_resamples=2000, rng=np.random.default_rng(1),
                                permutations=999)
    return next(e for e in effects if e.condition == condition and e.stat == "did" and e.reference == reference)


def test_the_bound_and_the_least_seed_count():
    assert one_grammar_t(6) == pytest.approx(math.sqrt(5))
    assert one_grammar_t(6) < sps.t.ppf(0.975, 5) and one_grammar_t(8) > sps.t.ppf(0.975, 7)
    assert least_seeds_one_grammar() == 8
    assert least_seeds_one_grammar(0.99) > 8


@pytest.mark.parametrize("seeds, detected", [(6, False), (8, True)])
def test_one_grammar_effect_is_undetectable_at_six_seeds_however_large(seeds, detected):
    """A large planted effect on one grammar of four (items nearly noise-free): the terms name that grammar and add
    up to the estimate; the t interval over seeds excludes 0 at 8 seeds, not at 6."""
    design = simulate_study(np.random.default_rng(seeds), seeds=seeds, items=400, binary=False, seed_sd=0.05,
                            run_sd=0.02, effects={"worked": ONE})
    did = _did(design)
    terms = grammar_terms(design, "worked", "filler")
    assert [t.grammar for t in terms] == ["g0", "g1", "g2", "g3"]
    assert math.fsum(t.contribution for t in terms) == pytest.approx(did.estimate, abs=1e-12)
    assert did.estimate == pytest.approx(6.0 / 4, abs=0.05)        # E − U of g0, over 4 grammars
    top, share = largest_share(terms)
    assert top == "g0" and share > 0.95
    assert terms[0].n_explained == terms[0].n_unexplained == seeds // 2
    assert did.excludes_zero is detected
    # the seeds sit at two levels: those that explain g0, and the others
    per_seed = np.array(did.per_seed)
    holds = design.explained[:, 0].astype(bool)
    assert per_seed[holds].min() > 2.5 and abs(per_seed[~holds]).max() < 0.25


def test_an_effect_every_grammar_carries_is_detected_at_six_seeds():
    """The same total effect spread over all four grammars: no single grammar carries it, and 6 seeds detect it."""
    design = simulate_study(np.random.default_rng(3), seeds=6, items=400, binary=False, seed_sd=0.05, run_sd=0.02,
                            effects={"worked": 1.5})
    did = _did(design)
    assert did.excludes_zero and did.estimate == pytest.approx(1.5, abs=0.05)
    assert largest_share(grammar_terms(design, "worked", "filler"))[1] < 0.35


def test_report_section_names_the_grammar_and_the_seeds_it_would_take(tmp_path, run_cli):
    dirs = write_probe_dirs(tmp_path / "s", np.random.default_rng(7), arms={"tiny": 1.6e5}, doses=(16,),
                            conditions=("examples", "filler", "worked"), effects={("tiny", "worked"): ONE}, seeds=6)
    result = run_cli("report", *dirs, "--out", tmp_path / "r", "--bootstrap", "400")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    rows = {(r["metric"], r["condition"]): r for r in data["by_grammar"]}
    assert set(rows) == {(m, c) for m in ("novel_valid", "heldout_lpw") for c in ("filler", "worked")}
    fit = rows[("heldout_lpw", "worked")]
    assert fit["reference"] == "filler" and rows[("heldout_lpw", "filler")]["reference"] == "examples"
    assert fit["largest"] == "g0" and fit["largest_share"] > 0.8 and fit["n_seeds"] == 6
    did = {r["metric"]: r for r in data["results"] if r["condition"] == "worked" and r["stat"] == "did"
           and r["reference"] == "filler"}
    assert fit["sum_of_terms"] == pytest.approx(did["heldout_lpw"]["estimate"], abs=1e-9)
    assert not did["heldout_lp"]["excludes_zero"]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "## Which grammars carry each effect (heldout_lpw)" in md
    assert "| arm | dose | condition | vs | Δ − Δ(vs) | g0: E / U change |" in md
    assert "2.24 at this study's 6 seeds against t(5)'s 2.57. So it cannot be detected here; that takes ≥ 8 seeds" in md
    if not did["heldout_lpw"]["excludes_zero"]:        # at the √(n − 1) ceiling a bootstrap draw can go either way
        assert "`worked` against `filler`, arm `tiny` dose 16:" in md and "not detected, and g0 carries" in md
    assert md.index("## Controls") < md.index("## Which grammars carry each effect (novel_valid)")
    # the grammar-blocked estimator, in the answer, has no √(n − 1) ceiling and detects it
    [entry] = data["answer"]["entries"]
    assert entry["planted"]["blocked"]["ci_low"] > 0 and entry["planted"]["blocked"]["df"] == 11
