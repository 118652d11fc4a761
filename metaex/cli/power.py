"""`metaex study power CONFIG --from STUDY_DIR`: the minimal detectable effect of each arm's primary contrast, from
a finished study's (or a pilot's) variance components, and how it moves with seeds, grammars and samples.

The table goes to stdout (markdown, or JSON with --json); numpy and scipy load inside the command.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer


def power(
    config: Path = typer.Argument(..., help="Study config (TOML): its [analysis] settings and arms."),
    source: Path = typer.Option(..., "--from", help="A finished study folder (or a pilot's) whose probes give the "
                                "variance components."),
    arm: list[str] = typer.Option(None, "--arm", help="Only these arms (repeatable)."),
    sims: int = typer.Option(2000, "--sims", help="Simulated studies behind each MDE (at least 100)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulations."),
    as_json: bool = typer.Option(False, "--json", help="Print the entries as JSON instead of tables."),
) -> None:
    """MDE (80 % power, 5 % two-sided) per arm's primary contrast, by simulation, and the seeds it would take."""
    from metaex.core.errors import InputError
    from metaex.core.study import load_config
    from metaex.core.study.power import study_power

    cfg = load_config(config)
    if sims < 100:
        raise InputError(f"--sims should be at least 100, got {sims}")
    names = [cfg.arm(a).name for a in arm] if arm else None
    entries = study_power(source, cfg.analysis_options(), arms=names, n_sims=sims, seed=seed)
    if as_json:
        typer.echo(json.dumps(_plain(entries), indent=1))
        return
    typer.echo(render(entries))


def _plain(x):
    """JSON-safe: NaN and infinities as null (strict JSON has neither)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _num(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return "∞" if math.isinf(x) else f"{x:.{digits}f}"


def render(entries: list[dict]) -> str:
    """Markdown: one table per arm × design × dose, then the seeds needed."""
    out = []
    for e in entries:
        m = e["margin"]
        out.append(f"### {e['arm']}, {e['design']} design, dose {e['dose']}: {e['contrast']} on {e['metric']}")
        out.append(f"margin {m['examples']:g} {'contested' if e['design'] == 'contested' else 'example'} strings per "
                   f"grammar = {_num(m['metric'])} in {e['metric']}; components: run noise "
                   f"{_num(e['components']['run_var'], 4)}, item noise {_num(e['components']['item_var'], 4)} "
                   f"(at {e['components']['items']} items), grammar spread {_num(e['components']['grammar_sd'])}")
        out.append("")
        out.append("| seeds | grammars | items per cell | MDE, blocked | ≈ strings per grammar | MDE, seed-level | "
                   "seed-level, one grammar carries it |")
        out.append("|---|---|---|---|---|---|---|")
        for r in e["table"]:
            out.append(f"| {r['seeds']} | {r['grammars']} | {r['items']} | {_num(r['mde_blocked'])} | "
                       f"{_num(r['mde_examples'], 1)} | {_num(r['mde_seed'])} | {_num(r.get('mde_seed_one'))} |")
        need = "; ".join(f"{g} grammars: {n if n is not None else 'more than 64'} seeds"
                         for g, n in e["seeds_needed"].items())
        out.append("")
        if m["metric"] is not None and math.isfinite(m["metric"]):
            out.append(f"Seeds needed for the blocked MDE to reach the margin: {need}.")
        else:       # NaN: the arm has no dose-response, so no margin in the metric's units
            out.append("Seeds needed: no margin in the metric's units (the arm has no dose-response: give it a "
                       "ladder), so no seed count reaches it.")
        out.append("")
    return "\n".join(out)


def register(study_app: typer.Typer) -> None:
    """Add `metaex study power`."""
    study_app.command("power")(power)
