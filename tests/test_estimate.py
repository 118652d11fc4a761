"""`study plan --estimate`'s arithmetic: tokens from the built mixes (else the config), rates measured or scaled from
the public anchor and said so, peak memory from the memory model; no GPU needed."""

from __future__ import annotations

import json

import pytest

from metaex.core.study import estimate as E
from metaex.core.train import memory


def _mix(path, texts):
    path.write_text("".join(json.dumps({"kind": "document", "doc_kind": "example", "text": t}) + "\n"
                            for t in texts))
    return path


def test_tokens_come_from_built_mixes_else_from_the_config(tmp_path):
    built = _mix(tmp_path / "a.jsonl", ["Vemo: ka blick"] * 6 + [" ".join(["ka"] * 50)])
    work = [E.Work("big", "Qwen/Qwen2.5-7B", "qlora", 2, built),
            E.Work("big", "Qwen/Qwen2.5-7B", "qlora", 2, tmp_path / "not-built.jsonl")]
    (cost,) = E.estimate(work, example_steps=10, max_len=20)
    from_mix = 6 * (3 * E.TOKENS_PER_WORD + 1) + 50 * E.TOKENS_PER_WORD + 1
    from_config = 10 * 2 * ((E.EXAMPLE_WORDS * 20 + 1) * E.TOKENS_PER_WORD + 1)
    assert cost.finetunes == 2 and cost.counted == 1
    assert cost.tokens == pytest.approx(from_mix + from_config)
    # the largest step: the long 7th document, alone in the 4th step of 2 documents (more than a config step)
    assert cost.largest_step == pytest.approx(50 * E.TOKENS_PER_WORD + 1)


def test_an_unmeasured_rate_comes_from_the_anchors_and_says_so(tmp_path, monkeypatch):
    mix = _mix(tmp_path / "m.jsonl", ["Vemo: ka"] * 100)
    small, big = (E.estimate([E.Work(m, m, "qlora", 32, mix)], example_steps=1, max_len=20)[0]
                  for m in ("Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-7B"))
    assert big.params == memory.Shape.of(json.loads((E.CONFIGS / "Qwen--Qwen2.5-7B.json").read_text())).params
    (p0, r0), (p1, r1), (p2, r2) = sorted(E.ANCHORS, key=lambda a: a[0])
    assert p0 < small.params < p1 < big.params < p2
    assert min(r0.tokens_per_s, r1.tokens_per_s) < small.tokens_per_s < max(r0.tokens_per_s, r1.tokens_per_s)
    assert small.gpu_hours == pytest.approx(small.tokens / small.tokens_per_s / 3600)
    assert "unmeasured" in big.rate and "torchtune" in big.rate and r1.measured in big.rate
    assert E.anchored_rate(p0 / 2)[0] == r0.tokens_per_s and E.anchored_rate(2 * p2)[0] == r2.tokens_per_s / 2
    assert big.peak_small_gib < big.peak_plain_gib
    text = "\n".join(E.lines([small, big]))
    assert "unmeasured" in text and "probes not costed" in text and "Qwen2.5-7B" in text
    # once measured, the table's rate is used and named
    monkeypatch.setitem(E.RATES, "Qwen--Qwen2.5-7B", E.Rate(1000.0, None, "H100", "2027-01-01"))
    (measured,) = E.estimate([E.Work("big", "Qwen/Qwen2.5-7B", "qlora", 32, mix)], example_steps=1, max_len=20)
    assert measured.tokens_per_s == 1000.0 and "measured on H100" in measured.rate


def test_a_model_whose_config_is_not_at_hand_is_counted_but_not_costed(tmp_path):
    mix = _mix(tmp_path / "m.jsonl", ["Vemo: ka"])
    (cost,) = E.estimate([E.Work("x", "nobody/unknown-model", "qlora", 4, mix)], example_steps=1, max_len=20)
    assert cost.gpu_hours is None and cost.peak_small_gib is None and "not at hand" in cost.rate
    assert "GPU-hours unknown" in "\n".join(E.lines([cost]))


def test_study_plan_estimate_ends_the_script_with_each_arm_s_cost(run_cli, tmp_path):
    """The shipped GPU config (three Qwen arms, hub ids; no network): every arm costed from the shipped configs and
    the anchors, said to be unmeasured; the estimate is shell comments, so the plan still runs as a script."""
    from metaex.core.study import load_config
    from tests.conftest import ROOT

    config = ROOT / "configs" / "study-gpu.toml"
    cfg = load_config(config)
    result = run_cli("study", "plan", config, "--out", tmp_path / "s", "--estimate")
    assert result.exit_code == 0, result.output
    tail = result.output[result.output.index("# estimate"):].strip().splitlines()
    assert all(line.startswith("#") for line in tail)
    arms = [line for line in tail if line.startswith("# Qwen2.5-")]
    assert [a.split(":")[0] for a in arms] == [f"# {arm.name}" for arm in cfg.arms]
    for line, arm in zip(arms, cfg.arms, strict=True):
        assert f"{len(cfg.seeds) * len(cfg.cells(arm))} fine-tunes" in line and "GPU-hours" in line and "peak" in line
    assert sum("unmeasured here" in line for line in tail) == 3 and "probes not costed" in tail[-2]
    plain = run_cli("study", "plan", ROOT / "configs" / "study-gpu.toml", "--out", tmp_path / "s")
    assert "# estimate" not in plain.output and result.output.startswith(plain.output.rstrip("\n"))
