"""One definition per option: every field of every stage's options has a CLI parameter, a study config key where it
is a study-level setting, and survives the trip option → a plan's argv → the CLI's parse → option unchanged."""

from __future__ import annotations

from dataclasses import MISSING
from pathlib import Path

import pytest
from typer.main import get_command

from metaex.cli.main import app
from metaex.cli.options import build
from metaex.core import options as schema
from metaex.core.explain.options import ExplainOptions
from metaex.core.mix import MixOptions
from metaex.core.mix.bridge import BridgeOptions
from metaex.core.probe.options import ProbeOptions
from metaex.core.report.options import ReportOptions
from metaex.core.study.config import ARMS, SECTIONS
from metaex.core.study.plan import build_plan
from metaex.core.study.read import load_config
from metaex.core.train.options import TrainOptions
from tests.test_study import MICRO, _config

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {TrainOptions: ("finetune",), ProbeOptions: ("probe",), MixOptions: ("mix",), BridgeOptions: ("bridge",),
            ExplainOptions: ("explain",), ReportOptions: ("report",)}
KINDS = {"finetune": TrainOptions, "probe": ProbeOptions, "mix": MixOptions, "bridge": BridgeOptions,
         "explain": ExplainOptions, "report": ReportOptions}


def _command(path: tuple[str, ...]):
    cmd = get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    return cmd


def _parse(argv: list[str], cls: type):
    """The options object the CLI builds from a command line (parsed by click, built as the command builds it)."""
    ctx = _command((argv[0],)).make_context(argv[0], list(argv[1:]))
    return build(cls, dict(ctx.params))


def _other(o: schema.Opt, like=schema.UNSET):
    """A valid value of the option other than its default (or than `like`)."""
    base = o.study_default if like is schema.UNSET else like
    base = None if base is MISSING else base
    if o.base is bool:
        return not base
    if o.spec.choices:
        value = next(c for c in o.spec.choices if c != base)
        return (value,) if o.kind == "tuple" else value
    if o.kind == "list":
        return ["x.jsonl", "y.jsonl"]
    if o.kind == "tuple":
        return (0.5, 0.75) if o.base is float else (2,)
    if o.base is int:
        return (base if base is not None else o.spec.low or 0) + 1
    if o.base is float:
        return base / 2 if base else 0.5
    return "q_proj,v_proj"


@pytest.mark.parametrize("cls", list(COMMANDS), ids=lambda c: c.__name__)
def test_every_option_has_a_cli_parameter_with_its_default_and_help(cls):
    params = {p.name: p for p in _command(COMMANDS[cls]).params}
    for o in schema.options(cls):
        p = params.get(o.name)
        assert p is not None, f"{cls.__name__}.{o.name} has no parameter on metaex {' '.join(COMMANDS[cls])}"
        assert o.flag in p.opts and o.spec.help and p.help.startswith(o.spec.help), o.name
        assert p.required == o.required and (o.required or o.kind != "scalar" or p.default == o.default), o.name
        if o.base is bool:
            assert p.secondary_opts == ["--no-" + o.flag.removeprefix("--")], o.name


@pytest.mark.parametrize("cls", list(COMMANDS), ids=lambda c: c.__name__)
def test_every_option_goes_through_a_command_line_unchanged(cls):
    """Each field alone away from its default, then all at once: argv → the CLI's parse → the same object."""
    required = {o.name: _other(o) for o in schema.options(cls) if o.required}
    every = {o.name: _other(o) for o in schema.options(cls)}
    cases = [{**required, o.name: _other(o, o.default)} for o in schema.options(cls) if not o.required]
    for values in [required, *cases, every]:
        obj = cls(**values)
        assert _parse([COMMANDS[cls][0], *_dummy(cls), *schema.argv(obj)], cls) == obj, values


def _dummy(cls: type) -> list[str]:
    """The command's own required arguments (inputs and outputs), for the parser."""
    return {TrainOptions: ["t.jsonl", "--model", "m", "--out", "r"], ProbeOptions: ["--out", "p"],
            MixOptions: ["-o", "m.jsonl"], BridgeOptions: ["-o", "b.jsonl"], ExplainOptions: ["g.pcfg"],
            ReportOptions: ["p"]}[cls]


def test_every_study_level_option_is_a_config_key_that_reaches_its_steps(tmp_path):
    """Every field of TrainOptions is a [model] and an [arms.X] key, every field of ProbeOptions a [probe] key, but
    those the plan sets per step; a config setting one (away from its study default) gives every step of that
    kind that value, read back from the step's own command line."""
    for section, cls in (("model", TrainOptions), ("probe", ProbeOptions)):
        keys = SECTIONS[section].keys()
        for o in schema.options(cls):
            assert (o.key in keys) != (o.name in SECTIONS[section].plan_sets), (section, o.name)
            if cls is TrainOptions:
                assert (o.key in ARMS.keys()) != (o.name in ARMS.plan_sets), ("arms", o.name)
    for section, cls, kind in (("model", TrainOptions, "finetune"), ("probe", ProbeOptions, "probe")):
        for o in SECTIONS[section].settable():
            value = _other(o)
            text = _set(MICRO, section, o.key, _toml(value))
            cfg = load_config(_config(tmp_path, text))
            steps = [s for s in build_plan(cfg, "S").steps if s.kind == kind and "pre-training" not in s.name]
            assert steps
            for step in steps:
                parsed = _parse(step.argv(), cls)
                assert parsed == step.call.options and getattr(parsed, o.name) == value, (o.name, step.name)


def _set(text: str, section: str, key: str, value: str) -> str:
    """`text` with `key = value` in [section] (in place of the key's own line where it has one)."""
    out, current, done = [], None, False
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and line.split("=")[0].strip() == key:
            line, done = f"{key} = {value}", True
        out.append(line)
        if line == f"[{section}]" and not any(x.split("=")[0].strip() == key for x in _table(text, section)):
            out.append(f"{key} = {value}")
            done = True
    assert done
    return "\n".join(out) + "\n"


def _table(text: str, section: str) -> list[str]:
    lines = text.split(f"[{section}]\n", 1)[1].split("\n[", 1)[0]
    return lines.splitlines()


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def test_an_arm_overrides_the_studys_training_options_for_its_steps_only(tmp_path):
    """[arms.X] holds partial TrainOptions: its values win over [model]'s for its own fine-tunes (and its probes'
    precision), the other arm keeps the study's."""
    text = MICRO.replace("[model]\n", "[model]\nweight_decay = 0.1\nlora_r = 4\n").replace(
        "[arms.tiny-unbridged]\nbridged = false", "[arms.tiny-unbridged]\nbridged = false\nweight_decay = 0.2\n"
        "bf16 = true")
    plan = build_plan(load_config(_config(tmp_path, text)), "S")
    finetunes = [s for s in plan.steps if s.kind == "finetune" and "pre-training" not in s.name]
    for s in finetunes:
        mine = s.arm == "tiny-unbridged"
        assert s.call.options.weight_decay == (0.2 if mine else 0.1) and s.call.options.lora_r == 4
        assert s.call.options.bf16 is mine
    assert {s.call.options.bf16 for s in plan.steps if s.kind == "probe" and s.arm == "tiny-unbridged"} == {True}
    assert {s.call.options.bf16 for s in plan.steps if s.kind == "probe" and s.arm == "tiny-bridged"} == {False}


@pytest.mark.parametrize("config", sorted([*(ROOT / "configs").glob("*.toml"), *(ROOT / "scripts").glob("*.toml")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_study_fine_tunes_under_the_designs_loss_normalisation(config):
    """One definition of the study's loss normalisation (issue 34: study-gpu.toml trained under the per-token
    mean): every condition's fine-tune of every shipped config divides by the fixed constant, none repeating it."""
    assert "loss_norm" not in config.read_text()
    cfg = load_config(config)
    assert cfg.train["loss_norm"] == schema.opt(TrainOptions, "loss_norm").spec.study == "fixed"
    finetunes = [s for s in build_plan(cfg, "S").steps if s.kind == "finetune" and "pre-training" not in s.name]
    assert finetunes and all(s.call.options.loss_norm == "fixed" for s in finetunes)
    assert all("--loss-norm fixed" in s.shell() for s in finetunes)
