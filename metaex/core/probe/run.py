"""`run_probe`: probe a model (or base + adapter in one load) on grammars, write PROBE_DIR, return the summary.

PROBE_DIR holds `items.jsonl` (probe_item), `summary.jsonl` (probe_summary), `config.json` (model, adapter,
their hashes, seed, options, inputs, versions, the run's mix manifest) and `parts/`: one file per
grammar × variant named by a hash of everything that determines it (model and adapter hashes, the grammar's
items, the options). A re-run with the same arguments reuses finished parts and loads no model when all are
there. Every input is read and checked before anything is written. The study driver calls `run_probe` in
process for many runs (`model_obj` passes an already loaded model).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from metaex.core import files, markers, records
from metaex.core.errors import InputError
from metaex.core.grammar.pcfg import Grammar, load_grammar
from metaex.core.models.finite import require_finite
from metaex.core.probe.inputs import load_items, reference_digest
from metaex.core.probe.options import ProbeOptions
from metaex.core.probe.tasks import GrammarItems, probe_grammars

PROBE_SCHEMA = "metaex/probe@1"


@dataclass(frozen=True)
class Target:
    """What is probed: the base model to load, the adapter on it (or None), the run folder, the variants."""

    model: str
    adapter: str | None
    run_dir: str | None
    run_config: dict | None
    variants: tuple[str, ...]


def resolve_target(model: str | None, adapter: str | None) -> Target:
    """From `--model` / `--adapter` arguments: the base model comes from the run folder when not given."""
    from metaex.core.models.load import resolve_adapter, resolve_model
    from metaex.core.models.runs import adapter_base, is_run_dir, resolve_run

    if adapter is not None:
        if not Path(adapter).exists():
            raise InputError("no such run or adapter folder", adapter)
        run = resolve_run(adapter) if is_run_dir(Path(adapter)) else None
        folder = resolve_adapter(adapter)
        base = model or adapter_base(folder, run, ": pass its new place as --model")
        if base is None:
            raise InputError("cannot tell the base model of this adapter: pass --model", adapter)
        resolve_model(base)
        return Target(str(base), str(folder), adapter if run else None, run, ("base", "adapter"))
    if model is None:
        raise InputError("give --model MODEL, or --adapter RUN_DIR (the base model is read from the run)")
    resolve_model(model)
    run = resolve_run(model) if is_run_dir(Path(model)) else None
    return Target(str(model), None, model if run else None, run, ("model",) if run else ("base",))


_HASHES: dict[tuple, str] = {}


def _file_hash(path: str | Path) -> str:
    """Content hash of a file or folder; a file's is cached by path, size and mtime (a study process hashes
    each of a seed's mixes once, not once per probe)."""
    p = Path(path)
    if p.is_file():
        st = p.stat()
        key = (str(p.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in _HASHES:
            _HASHES[key] = hashlib.sha256(p.name.encode() + p.read_bytes()).hexdigest()[:16]
        return _HASHES[key]
    h = hashlib.sha256()
    for f in sorted(x for x in p.rglob("*") if x.is_file()):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _mix(target: Target, manifest: str | Path | None) -> dict | None:
    if manifest is None:
        return (target.run_config or {}).get("mix")
    return records.load_json(manifest)


def _grammars(paths: Sequence[str | Path | Grammar], mix: dict | None) -> list[Grammar]:
    """Grammar files; without any, the `path` entries of the manifest's grammars."""
    if not paths and mix:
        paths = [e["path"] for e in mix.get("grammars", []) if e.get("path")]
    if not paths:
        raise InputError("no grammar: give --grammar G.pcfg (repeatable) or a manifest listing grammar paths")
    gs = [p if isinstance(p, Grammar) else load_grammar(p) for p in paths]
    names = [g.name for g in gs]
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"two grammars share a name ({', '.join(twice)})")
    return gs


def context(g: Grammar, mix: dict | None, variant: str, run: str | None, arm: str | None) -> dict:
    """The provenance fields of every row (DESIGN.md, Probe outputs); mix fields are null without a mix."""
    mix = mix or {}
    entry = next((e for e in mix.get("grammars", []) if e.get("name") == g.name), {})
    return {"grammar": g.name, "grammar_hash": g.hash,
            "template": entry.get("template") or g.meta.get("template"), "explained": entry.get("explained"), "condition": mix.get("condition"), "dose": mix.get("dose"),
            "seed": mix.get("seed"), "arm": arm, "run": run, "variant": variant,
            "producer": records.producer("probe")}


def _part_path(parts_dir: Path, g: Grammar, variant: str, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return parts_dir / f"{re.sub(r'[^A-Za-z0-9_-]', '_', g.name)}.{variant}.{digest}.jsonl"


def _versions() -> dict:
    out = {}
    for pkg in ("metaex", "torch", "transformers", "peft", "tokenizers"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def run_probe(model: str | None = None, adapter: str | None = None,
              grammars: Sequence[str | Path | Grammar] = (), *, out_dir: str | Path,
              tests: str | Path | None = None, pairs: str | Path | None = None, contest: str | Path | None = None,
              train: Sequence[str | Path] = (), explanations: str | Path | None = None,
              manifest: str | Path | None = None, options: ProbeOptions = ProbeOptions(), arm: str | None = None,
              model_obj: tuple[Any, Any] | None = None, parts_dir: str | Path | None = None,
              log: Callable[[str], None] | None = None) -> list[dict]:
    """Probe every grammar with every variant (base and adapter, or the model), write PROBE_DIR, return the
    summary rows. `model_obj` = (model, tokenizer) already loaded for this target (a peft model when there is
    an adapter) skips loading; `parts_dir` (default PROBE_DIR/parts) holds the per-grammar parts: probes that
    share one reuse each other's parts, so the base model of many adapters is probed once on the same items (a
    base part's key has no adapter in it); `log` receives progress lines."""
    log = log or (lambda _msg: None)
    options.check()
    out = Path(out_dir)
    target = resolve_target(model, adapter)
    mix = _mix(target, manifest)
    gs = _grammars(grammars, mix)
    items = load_items(gs, options, tests=tests, pairs=pairs, train=train, explanations=explanations,
                       contest=contest)
    run_name = Path(target.run_dir).name if target.run_dir else None
    arm = arm or (target.run_config or {}).get("arm") or Path(str((target.run_config or {}).get("base_model")
                                                                   or target.model)).name
    from metaex.core.models.load import resolve_model
    from metaex.core.models.provenance import lineage, model_fingerprint, parameter_count

    runs = lineage(target.run_dir or target.model)

    hashes = {"model_hash": model_fingerprint(resolve_model(target.model)[0]),
              "adapter_hash": _file_hash(target.adapter) if target.adapter else None}
    inputs = [target.model, target.adapter, target.run_dir, *(g.source for g in gs), tests, pairs, contest, *train,
              explanations, manifest]
    own_parts = parts_dir is None
    parts_dir = out / "parts" if parts_dir is None else Path(parts_dir)
    files.guard_outputs([p for p in inputs if p is not None and Path(p).exists()],
                        [(out, "folder", "probe"), *([] if own_parts else [(parts_dir, "folder", "parts")])])
    _check_same_target(out, target)

    def mark() -> None:   # before the first write, after every check
        markers.write_marker(out, "probe")
        if not own_parts:
            markers.write_marker(parts_dir, "parts")

    def key(v: str) -> dict:   # the base variant does not depend on the adapter
        return {**hashes, **({"adapter_hash": None} if v == "base" else {})}

    parts = {(g.name, v): _part_path(parts_dir, g, v, {**key(v), "items": items[g.name].digest(), "variant": v,
                                                       "options": options.for_variant(v).key()})
             for g in gs for v in target.variants}
    todo = [k for k, p in parts.items() if not p.is_file()]
    log(f"{len(parts) - len(todo)} of {len(parts)} parts already done")
    if todo:
        net, tok = model_obj or _load(target)
        require_finite(net, target.adapter or target.model)
        _check_coverage(tok, gs, items, explanations)
        mark()
        for variant in dict.fromkeys(v for _, v in todo):   # a variant's grammars are decoded in shared batches
            names = [n for n, v in todo if v == variant]
            log(f"probing {', '.join(names)} ({variant})")
            for name, rows in zip(names, _probe_parts(net, tok, [items[n] for n in names], options, target, variant),
                                  strict=True):
                ctx = context(items[name].grammar, mix, variant, run_name, arm)
                records.write(parts[(name, variant)], _as_records(rows, ctx))
    # provenance is re-applied on assembly: a reused part gets this call's manifest, run and arm
    all_rows = [{**r, **context(items[name].grammar, mix, variant, run_name, arm)}
                for (name, variant), p in parts.items()
                for r in records.read_all(p, ("probe_item", "probe_summary"))]
    summary = [r for r in all_rows if r["kind"] == "probe_summary"]
    # config.json is the probe's commit: removed first, written last, so a kill in between leaves no config and
    # the probe is redone (the report refuses a probe dir without one)
    mark()
    files.remove_outputs([out / "config.json", out / "summary.jsonl", out / "items.jsonl"])
    records.write(out / "items.jsonl", (r for r in all_rows if r["kind"] == "probe_item"))
    records.write(out / "summary.jsonl", summary)
    for stale in set((out / "parts").glob("*.jsonl")) - set(parts.values()) if own_parts else ():
        stale.unlink()   # parts of earlier options or items of this target, no longer part of the probe
    records.write_json(out / "config.json", {
        "schema": PROBE_SCHEMA, "model": _absolute(target.model), "adapter": _absolute(target.adapter),
        "run": _absolute(target.run_dir),
        **hashes,
        "variants": list(target.variants), "seed": options.seed, "options": options.key(), "arm": arm,
        "parts": None if own_parts else str(parts_dir.resolve()),
        "model_params": parameter_count(resolve_model(target.model)[0]),
        "lineage": runs, "bridged": any(r["data"] == "bridge" for r in runs),
        "grammars": [{"name": g.name, "hash": g.hash, "source": g.source} for g in gs],
        "novelty_reference": {g.name: reference_digest(items[g.name].train) for g in gs},
        "inputs": {"tests": _input(tests), "pairs": _input(pairs), "contest": _input(contest),
                   "train": [_input(t) for t in train],
                   "explanations": _input(explanations), "manifest": _input(manifest)},
        "mix": mix, "versions": _versions(), "producer": records.producer("probe")})
    return summary


def _absolute(path: str | None) -> str | None:
    """A local path made absolute (the report finds run folders from any working folder); hub ids as given."""
    return str(Path(path).resolve()) if path is not None and Path(path).exists() else path


def _check_same_target(folder: Path, target: Target) -> None:
    """A probe folder (the guard made sure it is one, or new) is rewritten only for the same model and adapter;
    one that a killed probe left without its config.json is this probe's to finish."""
    try:
        old = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return
    if not isinstance(old, dict) or old.get("schema") != PROBE_SCHEMA:
        return
    if (_absolute(old.get("model")), _absolute(old.get("adapter"))) != (_absolute(target.model),
                                                                         _absolute(target.adapter)):
        raise InputError(f"holds the probe of another model ({old.get('adapter') or old.get('model')}); choose "
                         "another --out", str(folder))


def _input(path: str | Path | None) -> dict | None:
    return None if path is None else {"path": str(path), "sha256": _file_hash(path)}


def _load(target: Target) -> tuple[Any, Any]:
    """The model as it was trained: a QLoRA run's base in NF4, otherwise full precision."""
    from metaex.core.models.load import load_model

    return load_model(target.model, adapter=target.adapter, method="qlora" if _is_qlora(target) else None)


def _is_qlora(target: Target) -> bool:
    """Whether the adapter was trained on an NF4 base (then loaded, and probed, that way)."""
    return (target.run_config or {}).get("method") == "qlora"


def _check_coverage(tokenizer: Any, gs: Sequence[Grammar], items: dict[str, GrammarItems],
                    explanations: str | Path | None) -> None:
    from metaex.core.models.vocab import check_coverage

    for g in gs:
        check_coverage(tokenizer, [" ".join([g.name, *g.terminals])], g.source or g.name)
    if explanations is not None:
        texts = [t for it in items.values() for c in it.choices for t in (c.true, *c.distractors)]
        texts += [t for it in items.values() for c in it.contest_contexts for t in (c.told, c.other)]
        check_coverage(tokenizer, texts, str(explanations))


def _probe_parts(net: Any, tok: Any, many: list[GrammarItems], options: ProbeOptions, target: Target,
                 variant: str) -> list[tuple[list[dict], list[dict]]]:
    """Grammars × one variant; the base variant of a peft model runs with the adapter switched off, the adapter
    variant of a full-precision LoRA model with the adapter merged into the weights for the duration (one matmul
    per layer instead of three; undone after, within float rounding)."""
    off = variant == "base" and target.adapter is not None
    with net.disable_adapter() if off else _merged(net, target) if target.adapter is not None else nullcontext():
        return probe_grammars(net, tok, many, options.for_variant(variant))


@contextmanager
def _merged(net: Any, target: Target) -> Iterator[None]:
    if _is_qlora(target) or not hasattr(net, "merge_adapter"):     # merging into NF4 weights would round them
        yield
        return
    net.merge_adapter()
    try:
        yield
    finally:
        net.unmerge_adapter()


def _as_records(rows: tuple[list[dict], list[dict]], ctx: dict) -> list[dict]:
    items, summary = rows
    return ([records.make("probe_item", **{**r, **ctx}) for r in items]
            + [records.make("probe_summary", **{**r, **ctx}) for r in summary])
