"""The typed calls a study's steps make: one class per metaex command a plan uses, holding that command's
arguments (its options as the stage's own options object). Each call knows

- `argv()`: the `metaex` command line that does the same (what `metaex study plan` prints);
- `inputs()`: the files and folders it reads;
- `run()`: the same work done in this process, through the core function the command itself calls
  (no re-entry into the CLI), returning the command's one-line summary;
- `options` (where the command has an options class): checked, with every other step's, before a study starts.

So a step run from its printed command and from `metaex study run` writes the same files (tests/test_study.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from metaex.core import options
from metaex.core.explain.options import ExplainOptions
from metaex.core.mix import MixOptions
from metaex.core.mix.bridge import BridgeOptions
from metaex.core.probe.options import ProbeOptions
from metaex.core.report.options import ReportOptions
from metaex.core.train.options import TrainOptions


def _paths(flag: str, paths: tuple[Path, ...] | list) -> list[str]:
    return [a for p in paths for a in (flag, str(p))]


@dataclass(frozen=True)
class Instantiate:
    kind: ClassVar[str] = "grammar instantiate"
    template: Path
    seed: int
    out: Path
    avoid: tuple[Path, ...] = ()

    def argv(self) -> list[str]:
        return ["grammar", "instantiate", str(self.template), "--seed", str(self.seed),
                *_paths("--avoid", self.avoid), "-o", str(self.out)]

    def inputs(self) -> tuple[Path, ...]:
        return (self.template, *self.avoid)

    def run(self) -> str:
        from metaex.core.grammar import run

        return run.instantiate(self.template, self.seed, avoid=self.avoid, out=self.out)


@dataclass(frozen=True)
class Sample:
    """Distinct strings of a grammar instance; with `test_out`, also the held-out test strings."""

    kind: ClassVar[str] = "grammar sample"
    grammar: Path
    n: int
    seed: int
    max_len: int
    split: str
    out: Path
    n_test: int | None = None
    test_out: Path | None = None
    shared: bool = False          # from the shared sub-language of the grammar's declared contest

    def argv(self) -> list[str]:
        test = ["--test", str(self.n_test), "--test-out", str(self.test_out)] if self.test_out else []
        return ["grammar", "sample", str(self.grammar), "-n", str(self.n), "--seed", str(self.seed), "--max-len",
                str(self.max_len), "--distinct", "--split", self.split, *test, *(["--shared"] if self.shared else []),
                "-o", str(self.out)]

    def inputs(self) -> tuple[Path, ...]:
        return (self.grammar,)

    def run(self) -> str:
        from metaex.core.grammar import run

        return run.sample(self.grammar, self.n, self.seed, out=self.out, max_len=self.max_len, distinct=True,
                          split=self.split, n_test=self.n_test, test_out=self.test_out, shared=self.shared)


@dataclass(frozen=True)
class Contest:
    """A grammar instance contested: its two variants, the contested test pairs and the told variant's contested
    strings (`grammar contest`)."""

    kind: ClassVar[str] = "grammar contest"
    grammar: Path
    seed: int
    told: str
    pairs: int
    strings: int
    max_len: int
    need: int
    out: Path

    def argv(self) -> list[str]:
        return ["grammar", "contest", str(self.grammar), "--seed", str(self.seed), "--told", self.told, "--pairs",
                str(self.pairs), "--strings", str(self.strings), "--max-len", str(self.max_len), "--need",
                str(self.need), "--out", str(self.out)]

    def inputs(self) -> tuple[Path, ...]:
        return (self.grammar,)

    def run(self) -> str:
        from metaex.core.grammar import run

        return run.contest(self.grammar, self.seed, self.out, told=self.told, pairs=self.pairs,
                           strings=self.strings, max_len=self.max_len, need=self.need)


@dataclass(frozen=True)
class Pairs:
    kind: ClassVar[str] = "grammar pairs"
    grammar: Path
    strings: Path
    seed: int
    out: Path

    def argv(self) -> list[str]:
        return ["grammar", "pairs", str(self.grammar), str(self.strings), "--seed", str(self.seed), "-o",
                str(self.out)]

    def inputs(self) -> tuple[Path, ...]:
        return (self.grammar, self.strings)

    def run(self) -> str:
        from metaex.core.grammar import run

        return run.pairs(self.grammar, self.strings, self.seed, out=self.out)


@dataclass(frozen=True)
class RandomGrammar:
    kind: ClassVar[str] = "grammar random"
    family: str
    seed: int
    out: Path

    def argv(self) -> list[str]:
        return ["grammar", "random", "--family", self.family, "--seed", str(self.seed), "-o", str(self.out)]

    def inputs(self) -> tuple[Path, ...]:
        return ()

    def run(self) -> str:
        from metaex.core.grammar import run

        return run.random(self.family, self.seed, out=self.out)


@dataclass(frozen=True)
class Explain:
    kind: ClassVar[str] = "explain"
    grammar: Path
    options: ExplainOptions
    out: Path

    def argv(self) -> list[str]:
        return ["explain", str(self.grammar), *options.argv(self.options), "-o", str(self.out)]

    def inputs(self) -> tuple[Path, ...]:
        return (self.grammar,)

    def run(self) -> str:
        from metaex.core.explain import write_explanations

        return write_explanations(self.grammar, self.options, self.out)


@dataclass(frozen=True)
class Concat:
    """Join JSONL files (no metaex command: the shell plan shows it as `cat`)."""

    kind: ClassVar[str] = "concat"
    out: Path
    parts: tuple[Path, ...]

    def argv(self) -> list[str]:
        return ["concat", str(self.out), *map(str, self.parts)]

    def inputs(self) -> tuple[Path, ...]:
        return self.parts

    def run(self) -> str:
        from metaex.core.study.files import concat

        concat(self.out, list(self.parts))
        return f"{self.out}: {len(self.parts)} files joined"


@dataclass(frozen=True)
class Mix:
    kind: ClassVar[str] = "mix"
    options: MixOptions
    out: Path

    def argv(self) -> list[str]:
        return ["mix", *options.argv(self.options), "-o", str(self.out)]

    def inputs(self) -> tuple[Path, ...]:
        o = self.options
        return tuple(map(Path, (*o.examples, *o.explanations, *o.filler, *o.pool, *o.tests, *o.grammar_files)))

    def run(self) -> str:
        from metaex.core.mix import run_mix

        return run_mix(self.options, self.out)


@dataclass(frozen=True)
class Bridge:
    kind: ClassVar[str] = "bridge"
    options: BridgeOptions
    out: Path

    def argv(self) -> list[str]:
        return ["bridge", *options.argv(self.options), "-o", str(self.out)]

    def inputs(self) -> tuple[Path, ...]:
        return tuple(map(Path, self.options.avoid))

    def run(self) -> str:
        from metaex.core.mix.bridge import run_bridge

        return run_bridge(self.options, self.out)


@dataclass(frozen=True)
class TinyModel:
    kind: ClassVar[str] = "model tiny"
    vocab_from: tuple[Path, ...]
    size: str
    seed: int
    out: Path

    def argv(self) -> list[str]:
        return ["model", "tiny", *_paths("--vocab-from", self.vocab_from), "--no-lexicon", "--size", self.size,
                "--seed", str(self.seed), "-o", str(self.out)]

    def inputs(self) -> tuple[Path, ...]:
        return self.vocab_from

    def run(self) -> str:
        from metaex.core.models.tiny import write_tiny

        return write_tiny(self.vocab_from, self.out, size=self.size, seed=self.seed, lexicon=False)


@dataclass(frozen=True)
class Finetune:
    """A fine-tune (or the bridged arm's pre-training) that resumes from its checkpoints."""

    kind: ClassVar[str] = "finetune"
    train_file: Path
    model: str
    options: TrainOptions
    out: Path

    def argv(self) -> list[str]:
        return ["finetune", str(self.train_file), "--model", self.model, "--out", str(self.out),
                *options.argv(self.options), "--quiet", "--resume"]

    def inputs(self) -> tuple[Path, ...]:
        return (self.train_file, Path(self.model))

    def run(self) -> str:
        from metaex.core.train import train

        result = train(self.train_file, self.model, self.options.method, self.out, resume=True,
                       **options.values(self.options, skip=("method",)))
        state = "already finished" if result.already_done else "finished"
        return f"{self.out}: {state}: {result.steps} steps, {result.tokens:,} tokens"


@dataclass(frozen=True)
class Probe:
    """A probe of a fine-tuned model (`--model RUN`) or of an adapter and its base (`--adapter RUN`)."""

    kind: ClassVar[str] = "probe"
    run_dir: Path
    adapter: bool
    grammars: tuple[Path, ...]
    tests: Path
    pairs: Path
    explanations: Path
    train: tuple[Path, ...]
    options: ProbeOptions
    arm: str
    out: Path
    parts: Path | None = None
    contest: Path | None = None     # contested pairs (the contested design's items)

    def argv(self) -> list[str]:
        return ["probe", "--adapter" if self.adapter else "--model", str(self.run_dir),
                *_paths("--grammar", self.grammars), "--tests", str(self.tests), "--pairs", str(self.pairs),
                *(["--contest", str(self.contest)] if self.contest else []),
                "--explanations", str(self.explanations), *_paths("--train", self.train),
                *options.argv(self.options), "--arm", self.arm,
                *(["--parts", str(self.parts)] if self.parts else []), "--out", str(self.out)]

    def inputs(self) -> tuple[Path, ...]:
        return (self.run_dir, *self.grammars, self.tests, self.pairs, self.explanations, *self.train,
                *([self.contest] if self.contest else []))

    def run(self) -> str:
        from metaex.core.probe import run_probe

        run_probe(None if self.adapter else str(self.run_dir), str(self.run_dir) if self.adapter else None,
                  list(self.grammars), out_dir=self.out, tests=self.tests, pairs=self.pairs, train=list(self.train),
                  explanations=self.explanations, options=self.options, arm=self.arm, parts_dir=self.parts,
                  **({"contest": self.contest} if self.contest else {}))
        return f"wrote {self.out}/items.jsonl, summary.jsonl, config.json"


@dataclass(frozen=True)
class Report:
    kind: ClassVar[str] = "report"
    probes: tuple[Path, ...]
    out: Path
    options: ReportOptions = ReportOptions()

    def argv(self) -> list[str]:
        return ["report", *map(str, self.probes), "--out", str(self.out), *options.argv(self.options)]

    def inputs(self) -> tuple[Path, ...]:
        return self.probes

    def run(self) -> str:
        from metaex.core.report import make_report

        o = self.options
        make_report(list(self.probes), self.out, metrics=o.metrics or None, n_resamples=o.bootstrap, seed=o.seed,
                    contrasts=o.contrasts, resample_items=o.resample_items, analysis=o)
        return f"report written to {self.out}/"

    def current(self) -> bool:
        """Whether the report in `out` was written with these options (else the study redoes it)."""
        import json

        try:
            written = json.loads((self.out / "report.json").read_text(encoding="utf-8"))["settings"]["analysis"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return written == json.loads(json.dumps(options.record(self.options)))


Call = Instantiate | Sample | Contest | Pairs | RandomGrammar | Explain | Concat | Mix | Bridge | TinyModel | Finetune | Probe \
    | Report
