"""`metaex probe`: every metric of the study on a model, or on base + adapter in one load; a table on stderr."""

from __future__ import annotations

from pathlib import Path

import typer

from metaex.core.probe.options import LENGTH_REFERENCES
from metaex.core.probe.options import ProbeOptions as P


def probe(
    model: str | None = typer.Option(None, "--model", envvar="METAEX_MODEL", help="Base model: a folder, a full "
                                     "fine-tune run folder, or a hub id. With --adapter, read from the run."),
    adapter: str | None = typer.Option(None, "--adapter", help="A LoRA/QLoRA run folder (or adapter folder); "
                                       "base and adapter are both probed, every item gets paired rows."),
    grammar: list[Path] = typer.Option([], "--grammar", help="Grammar instance .pcfg (repeatable)."),
    manifest: Path | None = typer.Option(None, "--manifest", help="The mix manifest (condition, dose, seed, "
                                         "which grammars are explained); default: the run's config.json."),
    tests: Path | None = typer.Option(None, "--tests", help="Test strings (example records); default: "
                                      "drawn from the grammar."),
    pairs: Path | None = typer.Option(None, "--pairs", help="Minimal pairs (pair records); default: made "
                                      "from the test strings."),
    train: list[Path] = typer.Option([], "--train", help="What novelty is judged against: mixes (every "
                                     "string their documents carry) or train splits; a study passes every mix of "
                                     "the seed (repeatable)."),
    explanations: Path | None = typer.Option(None, "--explanations", help="Explanation records of these and "
                                             "sibling grammars, for the verbalization choice."),
    samples: int = typer.Option(P.samples, "--samples", help="Sampled strings per grammar and variant."),
    temperature: float = typer.Option(P.temperature, "--temperature", help="Sampling temperature (0 = greedy)."),
    seed: int = typer.Option(P.seed, "--seed", help="Seed of sampling and of items made from the grammar."),
    limit: int | None = typer.Option(P.limit, "--limit", help="At most K samples, tests, pairs and "
                                     "explanations per grammar (quick looks)."),
    verbal: int | None = typer.Option(P.verbal, "--verbal", help="At most N verbalization questions per "
                                      "grammar, cycling through the styles (default: one per explanation)."),
    cuts: str = typer.Option(",".join(map(str, P.cuts)), "--cuts", help="Greedy continuations from the first k "
                             "terminals of each test string, for each k listed (comma-separated; greedy_* metrics)."),
    max_len: int | None = typer.Option(P.max_len, "--max-len", help="Length cap (terminals) the data was "
                                       "sampled under (default: the longest test/train string)."),
    length_reference: str = typer.Option(P.length_reference, "--length-reference", help="True length distribution "
                                         "for length_tv: " + " | ".join(LENGTH_REFERENCES) + ": grammar samples "
                                         "under the cap, or the lengths of the given test and training strings."),
    in_context: bool = typer.Option(P.in_context, "--in-context/--no-in-context", help="The in-context ceiling: "
                                    "sample and score held-out strings again after one of the grammar's "
                                    "explanations (icl_*) and after a sibling's with the name swapped "
                                    "(icl_control_*); needs --explanations."),
    in_context_samples: int | None = typer.Option(P.in_context_samples, "--in-context-samples", help="Samples "
                                                  "per grammar after each in-context prompt kind (default: "
                                                  "--samples)."),
    in_context_base_only: bool = typer.Option(P.in_context_base_only, "--in-context-base-only", help="With "
                                              "--in-context: in context for an adapter's base model only (the "
                                              "ceiling before fine-tuning), not for the adapter nor a --model."),
    bf16: bool = typer.Option(P.bf16, "--bf16", help="Decode (sample, greedy) under bfloat16 autocast on the CPU "
                              "(up to 1.3× faster where it has avx512_bf16); every log-likelihood stays float32."),
    batch_size: int = typer.Option(P.batch_size, "--batch-size", help="Rows per forward/generate call "
                                   "(halved on out-of-memory); on a CUDA GPU a decoding batch holds as many rows as "
                                   "its free memory does, at least this many."),
    arm: str | None = typer.Option(None, "--arm", help="Model label written into every row (default: the "
                                   "base model's folder name)."),
    out: Path = typer.Option(..., "-o", "--out", help="PROBE_DIR to write (items.jsonl, summary.jsonl, "
                             "config.json)."),
    parts: Path | None = typer.Option(None, "--parts", help="Folder of reusable per-grammar parts (default "
                                      "PROBE_DIR/parts). Probes of adapters of one base model on the same items "
                                      "can share one: the base model is then probed once."),
) -> None:
    """Sample, score and judge grammar strings; write per-item rows and one summary row per metric."""
    from rich.console import Console

    from metaex.core.models.precision import slow_bf16_warning
    from metaex.core.probe import ProbeOptions, run_probe

    console = Console(stderr=True)
    options = ProbeOptions(samples=samples, temperature=temperature, seed=seed, limit=limit, batch_size=batch_size,
                           verbal=verbal, max_len=max_len, length_reference=length_reference,
                           cuts=_cuts(cuts), in_context=in_context,
                           in_context_samples=in_context_samples, in_context_base_only=in_context_base_only, bf16=bf16)
    options.check()
    if bf16 and (warning := slow_bf16_warning()):
        console.print(warning)
    summary = run_probe(model, adapter, grammar, out_dir=out, tests=tests, pairs=pairs, train=train,
                        explanations=explanations, manifest=manifest, options=options, arm=arm, parts_dir=parts,
                        log=lambda msg: console.print(f"[dim]{msg}[/dim]"))
    console.print(_table(summary))
    console.print(f"wrote {out}/items.jsonl, summary.jsonl, config.json")


def _table(summary: list[dict]):
    """Metrics as rows, grammar × variant as columns."""
    from rich.table import Table

    columns = list(dict.fromkeys((r["grammar"], r["variant"]) for r in summary))
    metrics = list(dict.fromkeys(r["metric"] for r in summary))
    value = {(r["metric"], r["grammar"], r["variant"]): r for r in summary}
    table = Table(title="probe summary (n in brackets)")
    table.add_column("metric")
    for g, v in columns:
        table.add_column(f"{g}\n{v}", justify="right")
    for m in metrics:
        cells = []
        for g, v in columns:
            r = value.get((m, g, v))
            cells.append("" if r is None else ("-" if r["value"] is None else f"{r['value']:.3f}") + f" ({r['n']})")
        table.add_row(m, *cells)
    return table


def register(app: typer.Typer) -> None:
    """Add this module's commands to the top-level app."""
    app.command("probe")(probe)


def _cuts(text: str) -> tuple[int, ...]:
    from metaex.core.errors import InputError

    try:
        ks = tuple(int(k) for k in text.split(",") if k.strip())
    except ValueError:
        ks = ()
    if not ks or min(ks) < 1:
        raise InputError(f"--cuts should list positive integers separated by commas, got {text!r}")
    return ks
