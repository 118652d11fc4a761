"""`train()`: one fine-tuning run into a run folder (DESIGN.md, Run folders), callable in-process many times.

RUN_DIR/config.json    schema metaex/run@1: base model (+ fingerprint), method, options, data hashes, versions,
                       the mix manifest beside TRAIN.jsonl ("mix"), status and result
RUN_DIR/metrics.jsonl  train_metric rows (appended live; rewritten whole from the Trainer's history at the end)
RUN_DIR/final/         full model or adapter (+ metaex.json naming its base), with the tokenizer; written to a
                       temp folder and renamed, so it exists only when complete
RUN_DIR/checkpoints/   Trainer checkpoints (`resume=True` continues from the latest), only while the run is
                       unfinished: once final/ is committed they are deleted (`_drop_checkpoints`)

The training file is trained in order, one pass, no shuffle, unless asked otherwise. A finished run asked
again with the same base, data and options is reported done without training; with others it is an error.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from metaex import __version__
from metaex.core import files, markers, records
from metaex.core.errors import InputError
from metaex.core.files import atomic_dir, guard_outputs
from metaex.core.models import environment, load, provenance, runs
from metaex.core.models.finite import first_nonfinite
from metaex.core.train import data, hf, memory
from metaex.core.train.compute import Compute, liger_types
from metaex.core.train.compute import resolve as resolve_compute
from metaex.core.train.options import ADDED, TrainOptions


@dataclass
class RunResult:
    run_dir: str
    final: str
    steps: int
    loss: float | None             # last logged training loss
    eval_loss: float | None        # last eval loss, if any
    tokens: int                    # real (non-pad) training tokens seen
    runtime_s: float
    already_done: bool = False
    metrics: list[dict] = field(default_factory=list)


def _versions() -> dict[str, str]:
    out = {"metaex": __version__}
    for pkg in ("torch", "transformers", "peft", "accelerate", "bitsandbytes", "tokenizers", "liger-kernel"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _identity(cfg: dict) -> dict:
    return {k: cfg[k] for k in ("base_model", "method", "options", "data_sha256", "eval_sha256")}


def _check_existing(run_dir: Path, identity: dict, resume: bool) -> dict | None:
    """The existing config of a reusable run folder, None for a new one; InputError when it cannot be reused."""
    if not run_dir.exists():
        return None
    if not runs.is_run_dir(run_dir):
        if run_dir.is_dir() and markers.folder_kind(run_dir) == "run":
            # a run killed before its config.json: nothing in it was trained under known options, start afresh
            files.remove_outputs([run_dir / "checkpoints", run_dir / "metrics.jsonl"])
            return None
        raise InputError("exists and is not a metaex run folder; choose another --out", str(run_dir))
    old = json.loads((run_dir / "config.json").read_text())
    diff = [k for k, v in identity.items() if _identity(old).get(k) != v]
    if "options" in diff:
        was, now = old["options"], identity["options"]   # a key one side lacks is an added option at its default
        diff = [f"options.{k}" for k in dict.fromkeys([*now, *was])
                if was.get(k, ADDED.get(k)) != now.get(k, ADDED.get(k))]
    if diff:
        raise InputError(f"holds a run with other {', '.join(diff)}; choose another --out", str(run_dir))
    if not (run_dir / "final").is_dir() and not resume and _last_checkpoint(run_dir / "checkpoints"):
        raise InputError("holds an unfinished run: add --resume to continue it", str(run_dir))
    return old


def _finished_config(run_dir: Path, cfg: dict) -> dict | None:
    """The finished config of a run whose final/ exists: final/run.json is written with the artifact, so a kill
    after final/ appeared but before config.json was rewritten leaves a finished run, which this restores."""
    if cfg.get("status") == "finished" and "result" in cfg:
        return cfg
    committed = run_dir / "final" / runs.FINAL_RUN
    if not committed.is_file():
        return None
    done = json.loads(committed.read_text())
    records.write_json(run_dir / "config.json", done)
    return done


def _result_of(run_dir: Path, cfg: dict, metrics: list[dict], already: bool) -> RunResult:
    train_rows = [m for m in metrics if "loss" in m]
    eval_rows = [m for m in metrics if "eval_loss" in m]
    return RunResult(run_dir=str(run_dir), final=str(run_dir / "final"), steps=cfg["result"]["steps"],
                     loss=train_rows[-1]["loss"] if train_rows else None,
                     eval_loss=eval_rows[-1]["eval_loss"] if eval_rows else None,
                     tokens=cfg["result"]["tokens"], runtime_s=cfg["result"]["runtime_s"], already_done=already,
                     metrics=metrics)


def _last_checkpoint(folder: Path) -> str | None:
    """The newest complete Trainer checkpoint (the Trainer writes trainer_state.json last, so a checkpoint cut
    short by a kill lacks a readable one and is skipped)."""
    steps = []
    for d in folder.glob("checkpoint-*"):
        try:
            json.loads((d / "trainer_state.json").read_text())
            steps.append((int(d.name.split("-")[1]), d))
        except (OSError, ValueError):
            continue
    return str(max(steps)[1]) if steps else None


def _drop_checkpoints(run_dir: Path) -> None:
    """Delete a finished run's checkpoints (a 7B ladder's adapters and optimizer states come to hundreds of GB):
    final/ is committed, so nothing resumes from them. They are first renamed to a temp name in one step, so a kill
    leaves either the whole folder (deleted when the finished run is asked for again) or a temp of a dead process
    (removed by the next command that writes into the run folder), never a half checkpoint a resume could pick."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return
    trash = Path(tempfile.mkdtemp(prefix=f".checkpoints.{os.getpid()}.", suffix=".tmp", dir=run_dir))
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _compute(opts: TrainOptions, config: Any, cuda: bool, lengths: list[int]) -> Compute:
    """This run's precision, checkpointing and fused loss on the device at hand (`compute.resolve`)."""
    import torch

    card = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory if cuda else None
    return resolve_compute(opts, config, cuda=cuda, cuda_bf16=cuda and torch.cuda.is_bf16_supported(),
                           card_bytes=card, step_tokens=memory.largest_step_tokens(lengths, opts.batch_size),
                           liger=liger_types() if cuda else frozenset())


def train(train_file: str | Path, model: str, method: str, out_dir: str | Path, *,
          eval_file: str | Path | None = None, resume: bool = False, device: str | None = None,
          callbacks: Sequence[Any] = (), **options: Any) -> RunResult:
    """Fine-tune `model` (folder, full run folder or hub id) on the `document` records of `train_file` into
    `out_dir`. `options` are `TrainOptions` fields; `callbacks` are extra `transformers.TrainerCallback`s
    (the CLI's progress bar). Inputs are validated before anything is written."""
    unknown = set(options) - {f.name for f in fields(TrainOptions)}
    if unknown:
        raise TypeError(f"unknown training options: {sorted(unknown)}")
    opts = TrainOptions(method=method, **options)
    opts.check()
    hf.check_report_to(opts.report_to)
    if opts.early_stopping and eval_file is None:
        raise InputError("early stopping needs held-out documents (--eval FILE)")
    if device not in (None, "cpu", "cuda"):
        raise InputError(f"--device should be cpu or cuda, got {device!r}")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():   # it would train on the CPU instead, for hours, saying nothing
            raise InputError("--device cuda: no CUDA GPU is visible here; use --device cpu, or leave --device out "
                             "to take a GPU only where there is one")
    run_dir = Path(out_dir)
    base_path, local = load.resolve_model(model)
    guard_outputs([train_file, eval_file, *([model, base_path] if local else [])],
                  [(run_dir, "folder", "run")])
    docs = data.read_documents(train_file)
    eval_texts = [d["text"] for d in data.read_documents(eval_file)] if eval_file is not None else None
    identity = {"base_model": str(model), "method": method, "options": json.loads(json.dumps(opts.identity())),
                "data_sha256": data.file_sha256(train_file),
                "eval_sha256": data.file_sha256(eval_file) if eval_file is not None else None}
    old = _check_existing(run_dir, identity, resume)
    if old is not None and (run_dir / "final").is_dir():
        done = _finished_config(run_dir, old)
        if done is not None:
            _drop_checkpoints(run_dir)   # left by a kill between final/ and their deletion, or by an older metaex
            return _result_of(run_dir, done, list(records.read(run_dir / "metrics.jsonl", "train_metric")), True)
    if local:
        environment.go_offline()
    return _train(run_dir, identity, base_path, train_file, docs, eval_file, eval_texts, opts,
                  resume, device, list(callbacks))


def _train(run_dir: Path, identity: dict, base_path: str, train_file: str | Path, docs: list[dict],
           eval_file: str | Path | None, eval_texts: list[str] | None, opts: TrainOptions, resume: bool,
           device: str | None, callbacks: list) -> RunResult:
    import torch
    from transformers import EarlyStoppingCallback, set_seed

    cuda = device != "cpu" and torch.cuda.is_available()
    tokenizer = load.load_tokenizer(base_path)
    max_len = getattr(tokenizer, "model_max_length", None)
    max_len = max_len if isinstance(max_len, int) and max_len < 10**9 else None
    train_set = data.tokenize_documents(tokenizer, [d["text"] for d in docs], str(train_file), max_len)
    eval_set = data.tokenize_documents(tokenizer, eval_texts, str(eval_file), max_len) if eval_texts else None
    cfg = {"schema": runs.RUN_SCHEMA, **identity, "train_file": str(train_file),
           "eval_file": str(eval_file) if eval_file is not None else None, "base_path": base_path,
           "documents": len(train_set),
           "tokens": sum(len(f["input_ids"]) for f in train_set), "versions": _versions(),
           "mix": data.read_manifest(train_file), "status": "running"}
    net, _ = load.load_model(base_path, method=opts.method, device=device, for_training=True, bf16=opts.bf16)
    # after loading: a hub model is then in the local cache, and its fingerprint names the commit it came from
    cfg["base_fingerprint"] = provenance.model_fingerprint(base_path)
    compute = _compute(opts, net.config, cuda, [len(f["input_ids"]) for f in train_set])
    cfg["compute"] = compute.record()
    set_seed(opts.seed)  # before adapters are initialised
    net = hf.prepare_model(net, opts, compute)
    args = hf.training_arguments(opts, str(run_dir / "checkpoints"), cuda, eval_set is not None, compute)
    metrics_path = run_dir / "metrics.jsonl"
    callbacks = [*hf.logger_callbacks(opts.report_to, run_dir), *callbacks]
    if opts.early_stopping:
        callbacks = [EarlyStoppingCallback(early_stopping_patience=opts.early_stopping), *callbacks]
    loss_tokens = None
    if opts.loss_norm == "fixed":
        loss_tokens = data.fixed_loss_tokens(train_set, docs, args.per_device_train_batch_size
                                             * args.gradient_accumulation_steps * args.world_size)
        cfg["loss_tokens_per_step"] = round(loss_tokens, 3)
    if args.process_index == 0:   # first, before the Trainer makes checkpoints/: the folder is a run's from here on
        markers.write_marker(run_dir, "run")
    trainer = hf.make_trainer(net, tokenizer, args, train_set, eval_set, callbacks, metrics_path,
                              opts.row_tokens, loss_tokens)
    main = trainer.is_world_process_zero()
    checkpoint = _last_checkpoint(Path(args.output_dir)) if resume else None
    if main:
        records.write_json(run_dir / "config.json", cfg)
        history = json.loads((Path(checkpoint) / "trainer_state.json").read_text())["log_history"] if checkpoint \
            else []
        records.write(metrics_path, hf.metric_rows(history))
    t0 = time.time()
    try:
        with files.writing_to(run_dir):
            trainer.train(resume_from_checkpoint=checkpoint)
        bad = first_nonfinite(net)
        if bad is not None:
            raise hf.Diverged(f"the trained weights hold NaN or infinite values ({bad})")
        return _finish(run_dir, cfg, trainer, net, train_set, tokenizer, base_path, opts, main, t0)
    except (OSError, hf.Diverged) as err:   # a full disk, an unwritable folder, a diverged loss: never "running"
        if main:
            _mark_failed(run_dir, cfg, err)
        if isinstance(err, hf.Diverged):
            raise hf.Diverged(f"{run_dir}: training stopped: {err}; the run is marked failed (a learning rate or "
                              "weight decay too large, or a base model with non-finite weights)") from None
        raise


def _mark_failed(run_dir: Path, cfg: dict, err: BaseException) -> None:
    """config.json says failed, with the error (unless final/ is committed: the run is finished, and the next call
    restores its config). A checkpoint cut short by a full disk is removed first (a resume could not use it, and its
    space lets the small config.json be written)."""
    if (run_dir / "final" / runs.FINAL_RUN).is_file():
        return
    for folder in (run_dir / "checkpoints").glob("checkpoint-*"):
        if not (folder / "trainer_state.json").is_file():
            shutil.rmtree(folder, ignore_errors=True)
    try:
        records.write_json(run_dir / "config.json", {**cfg, "status": "failed", "error": str(err)})
    except OSError:
        try:   # not even a temp file fits: overwrite in place (the old config's blocks are freed first)
            with open(run_dir / "config.json", "w", encoding="utf-8") as fh:
                fh.write(json.dumps({**cfg, "status": "failed", "error": str(err)}, indent=2, sort_keys=True))
        except OSError:
            pass


def _finish(run_dir: Path, cfg: dict, trainer: Any, net: Any, train_set: list, tokenizer: Any, base_path: str,
            opts: TrainOptions, main: bool, t0: float) -> RunResult:
    """Write a trained run's metrics, final/ (the commit) and finished config.json."""
    metrics = hf.metric_rows(trainer.state.log_history)
    if opts.unseen_init:
        cfg["unseen_tokens_mean_init"] = hf.mean_init_unseen(net, train_set, tokenizer.all_special_ids, opts.seed)
    cfg["status"] = "finished"
    cfg["result"] = {"steps": trainer.state.global_step, "tokens": int(trainer.state.num_input_tokens_seen),
                     "runtime_s": round(time.time() - t0, 3)}
    if main:
        # metrics first, then final/ (the commit: the artifact with the finished config inside), then config.json
        records.write(run_dir / "metrics.jsonl", metrics)
        with atomic_dir(run_dir / "final") as tmp:
            trainer.save_model(str(tmp))
            (tmp / "training_args.bin").unlink(missing_ok=True)
            if opts.method != "full":
                records.write_json(tmp / runs.ADAPTER_META, {"base_model": base_path,
                                                            "base_fingerprint": cfg["base_fingerprint"]})
            records.write_json(tmp / runs.FINAL_RUN, cfg)
        records.write_json(run_dir / "config.json", cfg)
    trainer.accelerator.wait_for_everyone()
    if main:
        _drop_checkpoints(run_dir)
    return _result_of(run_dir, cfg, metrics, False)

