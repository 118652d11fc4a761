"""`metaex study`: the plan as commands, config errors, fail-fast GPU check, and a whole micro study end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MICRO = """
[study]
grammars = ["agreement", "arith", "counting", "reber"]
seeds = [0, 1]
conditions = ["examples", "explained", "filler", "worked"]
doses = [8]
grammar_dir = "{grammars}"

[data]
max_len = 12
test_strings = 20
paraphrases = 2
filler_grammars = 2
worked_multiplier = 2
worked_per_doc = 4
example_steps = 6
extra_passes = 1

[model]
size = "tiny"
batch_size = 16

[arms.tiny-unbridged]
bridged = false

[arms.tiny-bridged]
bridged = true
bridge_grammars = 3
bridge_examples = 4
bridge_epochs = 1

[probe]
samples = 8
limit = 6
verbal = 2
batch_size = 64
in_context = true
in_context_conditions = ["examples", "explained", "worked"]
"""


def _config(tmp_path: Path, text: str = MICRO) -> Path:
    path = tmp_path / "micro.toml"
    path.write_text(text.replace("{grammars}", str(ROOT / "grammars")))
    return path


def test_plan_is_the_study_as_commands(run_cli):
    result = run_cli("study", "plan", ROOT / "configs" / "study.toml", "--out", "S")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith(("metaex ", "cat "))]
    assert run_cli("study", "plan", ROOT / "configs" / "study.toml", "--out", "S").stdout == result.stdout
    finetunes = [line for line in lines if line.startswith("metaex finetune S/seed")]
    probes = [line for line in lines if line.startswith("metaex probe")]
    # 6 seeds × 2 arms × (7 conditions at dose 8 + 2 contested ladder rungs + `examples` at 3 ladder doses), plus
    # one bridging pre-training per seed; every probe runs in context too
    assert len(probes) == 144 and len(finetunes) == 144 + 6
    assert all("--in-context --in-context-samples 20 " in line for line in probes)
    for cond in ("explained", "mismatched", "filler", "worked"):
        assert sum(f"--condition {cond} " in line for line in lines) == 6
    assert sum("--condition examples " in line for line in lines) == 6 * 4
    for cond in ("told", "told-worked", "contested-4", "contested-16"):
        assert sum(f"--condition {cond} " in line for line in lines) == 6
    # the contested design: every probe reads the seed's contested pairs and the told variants
    assert all("--contest S/seed" in line and "/contest/" in line.split("--grammar ")[1] for line in probes)
    # every condition of a seed starts from the same initial model; the bridged arm from its pre-training
    assert {line.split("--model ")[1].split()[0] for line in finetunes if "seed0/mix" in line} == {
        "S/seed0/init", "S/seed0/tiny-bridged/pretrain"}
    # the report reads every probe
    assert lines[-1].startswith("metaex report") and lines[-1].count("S/probes/") == 144


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('"worked"]', '"worked", "nonsense"]'), "[study] conditions must be one of examples"),
    (lambda t: t.replace("seeds = [0, 1]", "seeds = [0, 1, 2]"), "even number of integers"),
    (lambda t: t.replace('"reber"]', '"nope"]'), "no grammar 'nope'"),
    (lambda t: t.replace('["examples", ', "["), "must include the control `examples`"),
    (lambda t: t.replace("[study]", "[study"), "not a valid TOML"),
    (lambda t: t.replace("batch_size = 16", 'batch_size = 16\nloss_norm = "mean"'),
     "[model] loss_norm must be one of tokens, fixed"),
    (lambda t: t.replace("verbal = 2", "verbal = 2\ncuts = [0, 2]"), "[probe] cuts must be at least 1, got [0, 2]"),
    (lambda t: t.replace("[arms.tiny-bridged]\nbridged = true", '[arms.x]\nmodel = "m"\nbridged = true'),
     "only tiny from-scratch arms can be bridged"),
    (lambda t: t.replace("test_strings = 20", "test_strings = 90"),
     "grammar 'reber' has only 103 distinct strings of at most 12 terminals; a seed draws 114"),
])
def test_bad_configs_are_one_line_exit_2(run_subprocess, tmp_path, edit, message):
    config = _config(tmp_path, edit(MICRO))
    result = run_subprocess("study", "run", config, "--out", tmp_path / "out")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("config", sorted([*(ROOT / "configs").glob("*.toml"), *(ROOT / "scripts").glob("*.toml")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_config_plans(run_subprocess, config):
    """Each config (the pilots' and the GPU check's in scripts/ too) loads strictly and its grammars have the
    strings its seeds draw (checked before any step)."""
    result = run_subprocess("study", "plan", config)
    assert result.returncode == 0, result.stderr
    assert "metaex probe" in result.stdout and "metaex report" in result.stdout


def test_gpu_study_fails_fast_without_a_gpu(run_subprocess, tmp_path):
    t0 = time.perf_counter()
    result = run_subprocess("study", "run", ROOT / "configs" / "study-gpu.toml", "--check", "--out", tmp_path / "g",
                            "--models", "Qwen/Qwen2.5-0.5B Qwen/Qwen2.5-1.5B", env={"HF_HUB_OFFLINE": "0"})
    assert result.returncode == 2 and "needs a CUDA GPU" in result.stderr, result.stderr
    assert time.perf_counter() - t0 < 60  # no hub time-out, no training started
    assert not (tmp_path / "g").exists()


def test_gpu_benchmark_skips_without_a_gpu():
    """`python -m benchmarks.gpu_qlora` (run on a lent GPU by scripts/gpu_check.sh) says so and exits 0 here."""
    result = subprocess.run([sys.executable, "-m", "benchmarks.gpu_qlora"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 0 and result.stdout.strip() == "no CUDA GPU: skipped", result.stderr


@pytest.mark.slow
def test_shards_deal_whole_seeds_in_a_snake():
    """Each shard gets both halves of complementary pairs (even seeds explain one half, odd the other)."""
    from metaex.core.errors import InputError
    from metaex.core.study.runner import parse_shard, shard_seeds

    seeds = lambda spec: sorted(shard_seeds(tuple(range(6)), parse_shard(spec)))  # noqa: E731
    assert seeds("0/2") == [0, 3, 4] and seeds("1/2") == [1, 2, 5]
    assert [seeds(f"{i}/3") for i in range(3)] == [[0, 5], [1, 4], [2, 3]]
    assert seeds("0/1") == list(range(6))
    for bad in ("2/2", "x", "1/0"):
        with pytest.raises(InputError, match="--shard should be I/N"):
            parse_shard(bad)


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    """The micro study, run once in a fresh process: (config, study folder, the run's stderr)."""
    import subprocess
    import sys

    tmp = tmp_path_factory.mktemp("micro")
    config, out = _config(tmp), tmp / "study"
    first = subprocess.run([sys.executable, "-m", "metaex", "study", "run", str(config), "--out", str(out),
                            "--threads", "1"], capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    return config, out, first.stderr


def test_micro_study_end_to_end_and_resume(run_subprocess, micro):
    config, out, _ = micro
    report = json.loads((out / "report" / "report.json").read_text())
    assert (out / "report" / "report.html").is_file() and (out / "report" / "report.md").is_file()
    assert "controls" in report
    # every cell trained from its manifest, and probes carry the design
    run_cfg = json.loads((out / "seed1" / "tiny-bridged" / "explained-d8" / "config.json").read_text())
    assert run_cfg["mix"]["condition"] == "explained" and run_cfg["base_model"].endswith("pretrain")
    rows = [json.loads(line) for line in (out / "probes" / "tiny-unbridged" / "seed0-worked-d8" / "summary.jsonl")
            .read_text().splitlines()]
    assert {r["condition"] for r in rows} == {"worked"} and {r["explained"] for r in rows} == {True, False}
    assert {r["template"] for r in rows} == {"agreement", "arith", "counting", "reber"}
    # complementary seeds explain complementary halves
    halves = []
    for seed in (0, 1):
        manifest = json.loads((out / f"seed{seed}" / "mix" / "explained-d8.manifest.json").read_text())
        halves.append({g["template"] for g in manifest["grammars"] if g["explained"]})
    assert halves[0].isdisjoint(halves[1]) and len(halves[0] | halves[1]) == 4
    # filler adds the explained condition's tokens (within 2 %)
    for seed in (0, 1):
        ex, fi = (json.loads((out / f"seed{seed}" / "mix" / f"{c}-d8.manifest.json").read_text())
                  for c in ("explained", "filler"))
        assert abs(fi["tokens"]["by_kind"]["filler"] / ex["tokens"]["by_kind"]["explanation"] - 1) <= 0.02
    # a rerun finds everything done (an interrupted study resumes the same way)
    again = run_subprocess("study", "run", config, "--out", out, timeout=300)
    assert again.returncode == 0 and "0 to run" in again.stderr


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_novel_valid_is_judged_against_what_the_seed_trained_on(micro):
    """novel_valid recomputed from items.jsonl and the seed's mixes (example documents and the strings of worked
    documents) equals every probe's summary; the probe's config records the reference's size and hash."""
    from metaex.core import formats
    from metaex.core.probe.inputs import reference_digest

    _, out, _ = micro
    checked = 0
    for probe in sorted((out / "probes").glob("*/seed*")):
        seed = int(probe.name.split("-")[0].removeprefix("seed"))
        reference: dict[str, set[str]] = {}
        for mix in (out / f"seed{seed}" / "mix").glob("*.jsonl"):
            for d in _rows(mix):
                reference.setdefault(d["grammar"], set()).update(
                    formats.document_strings(d["doc_kind"], d["grammar"], d["text"]))
        config = json.loads((probe / "config.json").read_text())
        items = _rows(probe / "items.jsonl")
        for row in _rows(probe / "summary.jsonl"):
            if row["metric"] not in ("novel_valid", "greedy_novel_valid"):
                continue
            source = "validity" if row["metric"] == "novel_valid" else "greedy_validity"
            mine = [r for r in items if r["metric"] == source and r["grammar"] == row["grammar"]
                    and r["variant"] == row["variant"]]
            again = sum(r["value"] and r["text"] not in reference[row["grammar"]] for r in mine) / len(mine)
            assert row["value"] == pytest.approx(again), (probe, row["grammar"])
            assert config["novelty_reference"][row["grammar"]] == reference_digest(reference[row["grammar"]])
            checked += 1
    # worked strings are in the reference: an explained grammar's reference is larger than its dose
    config = json.loads((out / "probes" / "tiny-unbridged" / "seed0-examples-d8" / "config.json").read_text())
    sizes = sorted(r["strings"] for r in config["novelty_reference"].values())
    assert sizes[0] == 8 and sizes[-1] > 8
    assert checked == 2 * 2 * 4 * 4 * 2   # arms × seeds × conditions × grammars × (sampled, greedy)


def test_every_probe_ran_with_the_configs_probe_options(micro):
    """The options each probe recorded are `StudyConfig.probe_options(seed, condition)`, the one mapping the
    benchmarks read; a condition outside `[probe] in_context_conditions` is probed without the in-context rows."""
    from metaex.core import records
    from metaex.core.study.read import load_config

    config, out, _ = micro
    cfg = load_config(config)
    probes = sorted((out / "probes").glob("*/seed*"))
    assert len(probes) == 2 * 2 * 4
    for probe in probes:
        seed, cond = probe.name.split("-")[0].removeprefix("seed"), probe.name.split("-")[1]
        recorded = json.loads((probe / "config.json").read_text())["options"]
        assert recorded == cfg.probe_options(int(seed), cond).key(), probe
        icl = any(r["metric"].startswith("icl_") for r in records.read_all(probe / "summary.jsonl", "probe_summary"))
        assert icl == (cond != "filler"), probe
    assert cfg.probe_options().in_context and cfg.probe_options().max_len == 12
    assert cfg.probe_options(0, "filler").in_context_base_only


def test_report_levels_equal_the_probe_summaries_for_every_metric(micro):
    """Each run's level in report.json is its probe's summary.jsonl value averaged over grammars, for every
    metric of the registry (an AUROC is the AUROC of a grammar's items, never a mean of their scores)."""
    from metaex.core.probe.metrics import METRICS

    _, out, _ = micro
    results = json.loads((out / "report" / "report.json").read_text())["results"]
    probe = out / "probes" / "tiny-bridged" / "seed1-explained-d8"
    summary = [r for r in _rows(probe / "summary.jsonl") if r["variant"] == "model"]
    halves = {name for name in METRICS if "contest" not in name}   # the contest metrics need contested pairs
    assert {r["metric"] for r in summary} == halves
    for name in halves:
        for stat, keep in (("level", lambda r: True), ("level_explained", lambda r: r["explained"]),
                           ("level_unexplained", lambda r: not r["explained"])):
            got = [r["value"] for r in summary if r["metric"] == name and keep(r) and r["value"] is not None]
            row = next(r for r in results if r["metric"] == name and r["arm"] == "tiny-bridged" and r["dose"] == 8
                       and r["condition"] == "explained" and r["stat"] == stat)
            level = row["per_seed"][1]
            if not got:
                assert level is None, (name, stat)
            else:
                assert level == pytest.approx(sum(got) / len(got), abs=1e-9), (name, stat)


def test_a_changed_config_is_refused_on_resume(run_subprocess, micro, tmp_path):
    config, out, _ = micro
    resolved = json.loads((out / "config.resolved.json").read_text())
    # every value resolved, defaults included (from the core options), the templates' hashes beside them
    assert resolved["model"]["lr"] is None and resolved["probe"]["batch_size"] == 64
    assert resolved["data"]["extra_passes"] == 1 and resolved["probe"]["samples"] == 8
    assert resolved["arms"]["tiny-bridged"]["method"] == "full" and set(resolved["templates"]) == {
        "agreement", "arith", "counting", "reber"}
    changed = tmp_path / "changed.toml"
    changed.write_text(config.read_text().replace("samples = 8", "samples = 9").replace(
        "batch_size = 16", "batch_size = 16\nlr = 3e-3"))
    before = (out / "config.resolved.json").read_bytes()
    result = run_subprocess("study", "run", changed, "--out", out, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "the study config changed since this folder was started ([model] lr: None → 0.003)" in result.stderr
    assert (out / "config.resolved.json").read_bytes() == before


def test_one_arm_reports_into_its_own_folder(run_subprocess, micro):
    config, out, _ = micro
    result = run_subprocess("study", "run", config, "--out", out, "--arm", "tiny-unbridged", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((out / "report-tiny-unbridged" / "report.json").read_text())
    assert set(report["arms"]) == {"tiny-unbridged"}
    whole = json.loads((out / "report" / "report.json").read_text())
    assert set(whole["arms"]) == {"tiny-unbridged", "tiny-bridged"}       # the whole report is untouched
    # arm semantics from the probes' lineage; sizes counted from the weights
    assert whole["arms"]["tiny-bridged"]["bridged"] is True and whole["arms"]["tiny-unbridged"]["bridged"] is False
    assert whole["arms"]["tiny-bridged"]["model_params"] > 1e5


def test_the_study_folder_is_locked_while_a_run_holds_it(run_subprocess, tmp_path):
    import subprocess
    import sys

    from metaex.core.study.lock import Locked, study_lock

    folder = tmp_path / "s"
    hold = ("import sys, time; from metaex.core.study.lock import study_lock\n"
            "shard = None if sys.argv[2] == '-' else tuple(map(int, sys.argv[2].split('/')))\n"
            "with study_lock(sys.argv[1], shard, 'holder ' + sys.argv[2]):\n"
            "    print('held', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(folder), "0/2"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with study_lock(folder, (1, 2), "the other shard"):       # shards run side by side
            pass
        with pytest.raises(Locked, match=f"shard 0/2 is running here already .pid {holder.pid}"):
            with study_lock(folder, (0, 2), "the same shard again"):
                pass
        with pytest.raises(Locked, match=f"shard-0-of-2: pid {holder.pid} on .*holder 0/2"):
            with study_lock(folder, None, "a whole run"):
                pass
        config = _config(tmp_path)
        result = run_subprocess("study", "run", config, "--out", folder, timeout=60)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert f"pid {holder.pid}" in result.stderr and "is running here already" in result.stderr
    finally:
        holder.kill()
        holder.wait()
    with study_lock(folder, None, "after the holder died"):       # a killed holder leaves nothing locked
        pass


def test_grammar_dir_is_relative_to_the_config_file(run_subprocess, tmp_path):
    import shutil

    (tmp_path / "conf").mkdir()
    shutil.copytree(ROOT / "grammars", tmp_path / "mine")
    config = tmp_path / "conf" / "c.toml"
    config.write_text(MICRO.replace('grammar_dir = "{grammars}"', 'grammar_dir = "../mine"'))
    result = run_subprocess("study", "plan", config, "--out", "S", cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert f"grammar instantiate {tmp_path / 'mine' / 'reber.pcfg'} " in result.stdout


def test_a_model_folder_is_relative_to_the_config_file_as_named_through_a_link(tmp_path):
    """The repository's configs/ is a link to the package's studies: `model = "../models/NAME"` in a shipped
    config is the repository's models/NAME (what `make models` writes), not a folder beside the package's file;
    a folder beside the file linked to is still found, and a name found nowhere stays as given (a hub id)."""
    from metaex.core.study.read import load_config

    studies, repo = tmp_path / "pkg" / "studies", tmp_path / "repo"
    studies.mkdir(parents=True)
    (repo / "models" / "m").mkdir(parents=True)
    (repo / "configs").symlink_to(studies, target_is_directory=True)
    text = MICRO.replace("{grammars}", str(ROOT / "grammars"))
    (studies / "c.toml").write_text(text + '\n[arms.p]\nmodel = "../models/m"\nmethod = "lora"\n'
                                    '\n[arms.q]\nmodel = "../beside"\nmethod = "lora"\n'
                                    '\n[arms.h]\nmodel = "org/some-hub-model"\nmethod = "lora"\n')
    (studies.parent / "beside").mkdir()
    arms = {a.name: a.model for a in load_config(repo / "configs" / "c.toml").arms}
    assert arms["p"] == str((repo / "models" / "m").resolve())
    assert arms["q"] == str((studies.parent / "beside").resolve())
    assert arms["h"] == "org/some-hub-model"


def test_an_examples_ladder_adds_examples_cells_only(run_cli, tmp_path):
    """[study] ladder: extra `examples` doses (their own mixes, fine-tunes and probes); the train files hold the
    largest dose; a ladder cell's novelty reference adds its own mix to the design's."""
    config = _config(tmp_path, MICRO.replace("doses = [8]", "doses = [8]\nladder = [4, 8, 16]"))
    result = run_cli("study", "plan", config, "--out", "S")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    finetunes = [x for x in lines if x.startswith("metaex finetune S/seed0/mix/")]
    assert sorted(x.split("/mix/")[1].split(".jsonl")[0] for x in finetunes) == sorted(
        ["examples-d4", "examples-d16"] * 2 + [f"{c}-d8" for c in ("examples", "explained", "filler", "worked")] * 2)
    assert all("-n 16 " in x for x in lines if x.startswith("metaex grammar sample S/seed0/grammars/")
               and "--split train" in x)
    probe16 = next(x for x in lines if "probe --model S/seed0/tiny-unbridged/examples-d16" in x)
    probe8 = next(x for x in lines if "probe --model S/seed0/tiny-unbridged/explained-d8" in x)
    assert "--train S/seed0/mix/examples-d16.jsonl" in probe16 and "examples-d16" not in probe8
    assert "examples-d4" not in probe8
    # an arm's own ladder ([] : none) replaces the study's for that arm only
    config = _config(tmp_path, MICRO.replace("doses = [8]", "doses = [8]\nladder = [4, 16]").replace(
        "[arms.tiny-unbridged]\nbridged = false", "[arms.tiny-unbridged]\nbridged = false\nladder = []"))
    result = run_cli("study", "plan", config, "--out", "S")
    assert result.exit_code == 0, result.output
    runs = [x.split(" --out ")[1].split()[0] for x in result.output.splitlines()
            if x.startswith("metaex finetune S/seed0/mix/examples-d")]
    assert sorted(runs) == ["S/seed0/tiny-bridged/examples-d16", "S/seed0/tiny-bridged/examples-d4",
                            "S/seed0/tiny-bridged/examples-d8", "S/seed0/tiny-unbridged/examples-d8"]


def test_each_bridged_arm_pretrains_on_the_corpus_its_options_make(run_cli, tmp_path):
    """Two bridged arms with different corpus options (here contested textbooks) get a corpus each; an arm with the
    first arm's options shares `bridge.jsonl`; the tiny model's vocabulary reads every corpus."""
    extra = ("\n[arms.tiny-bridged-c]\nbridged = true\nbridge_grammars = 3\nbridge_examples = 4\nbridge_epochs = 1\n"
             "bridge_contested = 8\n\n[arms.tiny-bridged-same]\nbridged = true\nbridge_grammars = 3\n"
             "bridge_examples = 4\nbridge_epochs = 2\n")
    result = run_cli("study", "plan", _config(tmp_path, MICRO + extra), "--out", "S")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    corpora = [x for x in lines if x.startswith("metaex bridge ") and "--seed 0 " in x]
    assert len(corpora) == 2
    assert corpora[0].endswith("-o S/seed0/bridge.jsonl") and "--contested-per-grammar" not in corpora[0]
    assert corpora[1].endswith("-o S/seed0/bridge-tiny-bridged-c.jsonl") and "--contested-per-grammar 8" in corpora[1]
    pretrain = {arm: next(x for x in lines if x.startswith("metaex finetune S/seed0/bridge")
                          and f"--out S/seed0/{arm}/pretrain" in x).split()[2]
                for arm in ("tiny-bridged", "tiny-bridged-c", "tiny-bridged-same")}
    assert pretrain == {"tiny-bridged": "S/seed0/bridge.jsonl", "tiny-bridged-c": "S/seed0/bridge-tiny-bridged-c.jsonl",
                        "tiny-bridged-same": "S/seed0/bridge.jsonl"}
    tiny = next(x for x in lines if x.startswith("metaex model tiny") and "--seed 0 " in x)
    assert "--vocab-from S/seed0/bridge.jsonl" in tiny and "--vocab-from S/seed0/bridge-tiny-bridged-c.jsonl" in tiny


def test_a_key_added_since_a_folder_started_at_its_default_is_no_change():
    from metaex.core.study.resume import changed_key

    new = {"study": {"doses": [8], "ladder": []}, "arms": {"a": {"lr": None}}}
    assert changed_key({"study": {"doses": [8]}, "arms": {"a": {}}}, new) is None
    assert changed_key({"study": {"doses": [8]}}, {"study": {"doses": [8], "ladder": [4]}}) == \
        "[study] ladder: None → [4]"
    assert changed_key({"arms": {"a": {}}}, {"arms": {"a": {"lr": 0.1}}}) == "[arms.a] lr: None → 0.1"
    # a key whose default is not what folders started before it ran: the in-context probe, on by default since
    assert changed_key({"probe": {}}, {"probe": {"in_context": False}}) is None
    assert changed_key({"probe": {}}, {"probe": {"in_context": True}}) == "[probe] in_context: None → True"


def test_the_pretrained_plan_probes_in_context_every_base_and_the_full_arms_examples_models(run_cli):
    """configs/study-pretrained.toml: every probe reads in context; the LoRA arm's (`[arms.X] in_context_conditions =
    []`) for their base model alone (`--in-context-base-only`), so the seed's one base part is shared by all of them;
    the full arm's (no base variant) on its `examples` models only ([probe] in_context_conditions)."""
    from metaex.core.study.read import load_config

    config = ROOT / "configs" / "study-pretrained.toml"
    result = run_cli("study", "plan", config, "--out", "S")
    assert result.exit_code == 0, result.output
    cfg = load_config(config)
    assert {a.name: a.train_method for a in cfg.arms if not a.tiny} == {"smollm2-135m-lora": "lora",
                                                                       "smollm2-135m-full": "full"}
    for arm, flag, base_only in (("smollm2-135m-lora", "--adapter", lambda cond: True),
                                 ("smollm2-135m-full", "--model", lambda cond: cond != "examples")):
        probes = [line for line in result.stdout.splitlines()
                  if line.startswith(f"metaex probe {flag} S/seed") and f"/{arm}/" in line.split()[3]]
        assert len(probes) == len(cfg.seeds) * len(cfg.conditions) >= 6 * 3      # no ladders
        for line in probes:
            cond = line.split()[3].split("/")[-1].split("-d")[0]
            assert "--in-context " in line and ("--in-context-base-only" in line) == base_only(cond), line


def _unbridged_plan(run_cli, tmp_path, key: str) -> str:
    """`study plan` of MICRO with one more key (a TOML line) in [arms.tiny-unbridged]; "" for none."""
    config = _config(tmp_path, MICRO.replace("[arms.tiny-unbridged]\nbridged = false",
                                             f"[arms.tiny-unbridged]\nbridged = false\n{key}"))
    result = run_cli("study", "plan", config, "--out", "S")
    assert result.exit_code == 0, result.output
    return result.output


def test_an_arms_gradient_clipping_reaches_its_fine_tunes_only(run_cli, tmp_path):
    """[arms.X] max_grad_norm (0: off) overrides [model] max_grad_norm for that arm's fine-tunes; at the default
    the plan passes nothing (folders started before the key keep their plans)."""
    assert "--max-grad-norm" not in _unbridged_plan(run_cli, tmp_path, "")
    finetunes = [x for x in _unbridged_plan(run_cli, tmp_path, "max_grad_norm = 0").splitlines()
                 if x.startswith("metaex finetune")]
    unbridged = [x for x in finetunes if "/tiny-unbridged/" in x]
    assert unbridged and all("--max-grad-norm 0.0 " in x + " " for x in unbridged)
    assert all("--max-grad-norm" not in x for x in finetunes if "/tiny-unbridged/" not in x)


def test_bf16_auto_resolves_for_this_cpu_and_a_folder_keeps_its_precision(run_cli, tmp_path, monkeypatch):
    """bf16 = "auto": bf16 autocast where the CPU computes bfloat16 natively, float32 elsewhere; the resolved value is
    what the folder records, so resuming it on a machine that resolves otherwise is refused (never mixed)."""
    from metaex.core.errors import MetaexError
    from metaex.core.study import read as study_config
    from metaex.core.study.resume import record_config

    for native in (True, False):
        monkeypatch.setattr(study_config, "cpu_bf16", lambda native=native: native)
        plan = _unbridged_plan(run_cli, tmp_path, 'bf16 = "auto"')
        assert ("--bf16" in plan) is native
    path = _config(tmp_path, MICRO.replace("[arms.tiny-unbridged]\nbridged = false",
                                           '[arms.tiny-unbridged]\nbridged = false\nbf16 = "auto"'))
    monkeypatch.setattr(study_config, "cpu_bf16", lambda: True)
    record_config(study_config.load_config(path), tmp_path / "S")
    assert json.loads((tmp_path / "S" / "config.resolved.json").read_text())["arms"]["tiny-unbridged"]["bf16"] is True
    monkeypatch.setattr(study_config, "cpu_bf16", lambda: False)
    with pytest.raises(MetaexError, match=r"\[arms\.tiny-unbridged\] bf16: True → False"):
        record_config(study_config.load_config(path), tmp_path / "S")
    bad = run_cli("study", "plan", _config(tmp_path, MICRO.replace("[model]\n", '[model]\nbf16 = "fast"\n')),
                  "--out", "S")
    assert bad.exit_code == 2 and '[model] bf16 must be true, false or "auto", got \'fast\'' in bad.output


def test_an_arms_bf16_reaches_its_fine_tunes_and_probes_only(run_cli, tmp_path):
    """[arms.X] bf16 = true: that arm's fine-tunes and probes run under bf16 autocast (`--bf16`), no other arm's;
    at the default the plan passes nothing (folders started before the key keep their plans)."""
    assert "--bf16" not in _unbridged_plan(run_cli, tmp_path, "")
    steps = [x for x in _unbridged_plan(run_cli, tmp_path, "bf16 = true").splitlines() if x.startswith(("metaex finetune", "metaex probe"))]
    mine = [x for x in steps if "/tiny-unbridged/" in x or "/tiny-unbridged " in x + " "]
    assert {x.split()[1] for x in mine} == {"finetune", "probe"}
    assert all(x.endswith(" --bf16") or " --bf16 " in x for x in mine)
    assert all("--bf16" not in x for x in steps if x not in mine)
    bad = run_cli("study", "plan", _config(tmp_path, MICRO.replace("[arms.tiny-unbridged]\nbridged = false",
                                                                   "[arms.tiny-unbridged]\nbf16 = 1")), "--out", "S")
    assert bad.exit_code == 2 and "bf16" in bad.output
