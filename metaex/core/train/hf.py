"""The HF Trainer wiring: model preparation per method, TrainingArguments, and a Trainer that logs real
tokens/s into its log history (so metrics survive a resume inside checkpoints' trainer_state.json).

Loss normalisation across gradient accumulation: Llama's forward accepts `num_items_in_batch`, so the Trainer
counts label tokens over all micro-batches of a step (and across processes, `average_tokens_across_devices`)
and each micro-batch's summed loss is divided by that count: a true per-token mean per optimizer step.
With `loss_norm="fixed"` the divisor is instead one constant for the whole run (`data.fixed_loss_tokens`: the
label tokens of a typical step of example documents), so a long document sharing a step with short ones adds its
gradient without shrinking theirs: in a study, the example documents then get the same gradient in every
condition, however many explanation tokens ride along (a per-step mean hands the examples' share to them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metaex.core.errors import InputError, MetaexError

if TYPE_CHECKING:
    from metaex.core.train.compute import Compute
    from metaex.core.train.options import TrainOptions


class Diverged(MetaexError):
    """Training produced a non-finite loss or non-finite weights: the run stops and is marked failed."""


def prepare_model(model: Any, opts: TrainOptions, compute: Compute) -> Any:
    """Full: the model itself. LoRA/QLoRA: a peft model with fresh adapters. QLoRA in float32 first goes through
    peft's `prepare_model_for_kbit_training` (every weight that is not 4-bit cast to float32); in bfloat16 its base
    stays as loaded (`compute.py`). Gradient checkpointing where `compute` says, non-reentrant: torch's recommended
    variant, which it warns it will require."""
    if compute.checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if opts.method == "full":
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if opts.method == "qlora" and not compute.bf16:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    targets = opts.target_modules
    if targets != "all-linear":
        check_target_modules(model, targets)
    config = LoraConfig(r=opts.lora_r, lora_alpha=opts.lora_alpha, lora_dropout=opts.lora_dropout,
                        target_modules=targets if targets == "all-linear" else targets.split(","),
                        task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def check_target_modules(model: Any, targets: str) -> None:
    """InputError naming the first of the comma-separated `targets` that names no linear layer of the model (peft
    would fail on none found with its own multi-line error, and skip the others silently)."""
    import torch

    linear = sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
    for target in targets.split(","):
        if target.strip() not in linear:
            raise InputError(f"--target-modules names {target.strip()!r}, which is no linear layer of this model "
                             f"(its linear layers: {', '.join(linear)}; or all-linear)")


TENSORBOARD_DIR = "tensorboard"   # RUN_DIR/tensorboard/: the event files (checkpoints/ is deleted when a run ends)
_LOGGER_PACKAGES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",)}   # any one will do


def check_report_to(report_to: str) -> None:
    """InputError, before anything is written, when the logger asked for is not installed."""
    from importlib.util import find_spec

    packages = _LOGGER_PACKAGES.get(report_to, ())
    if packages and not any(find_spec(p) for p in packages):
        raise InputError(f"--report-to {report_to} needs the {packages[0]} package: pip install "
                         f"'metaex[{report_to}]'")


def logger_callbacks(report_to: str, run_dir: Path) -> list:
    """The Trainer callbacks that log a run for `report_to`, through the Trainer's own integrations. TensorBoard's
    writes RUN_DIR/tensorboard/ from the main process (the Trainer's default lies under checkpoints/, which a
    finished run deletes); Weights & Biases needs none here (`training_arguments` names it; it logs as its
    environment says: WANDB_PROJECT, WANDB_MODE=offline, …)."""
    if report_to != "tensorboard":
        return []
    from transformers.integrations import TensorBoardCallback

    callback = TensorBoardCallback()
    callback.logging_dir = str(run_dir / TENSORBOARD_DIR)   # what TENSORBOARD_LOGGING_DIR would set
    return [callback]


def training_arguments(opts: TrainOptions, checkpoints: str, cuda: bool, has_eval: bool, compute: Compute) -> Any:
    from transformers import TrainingArguments

    from metaex.core.train.compute import LIGER_CONFIG

    eval_steps = opts.eval_steps if has_eval else None
    save_steps = opts.save_steps
    if opts.early_stopping and has_eval:
        save_steps = eval_steps  # best-checkpoint tracking needs saves at eval steps
    return TrainingArguments(
        output_dir=checkpoints,
        max_steps=opts.steps if opts.steps else -1,
        num_train_epochs=opts.epochs,
        per_device_train_batch_size=opts.batch_size,
        per_device_eval_batch_size=opts.batch_size,
        gradient_accumulation_steps=opts.grad_accum,
        learning_rate=opts.resolved_lr(),
        weight_decay=opts.weight_decay,
        adam_beta1=opts.betas[0],
        adam_beta2=opts.betas[1],
        max_grad_norm=opts.max_grad_norm,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": opts.min_lr_ratio},
        warmup_steps=opts.warmup,
        seed=opts.seed,
        data_seed=opts.seed,
        train_sampling_strategy="random" if opts.shuffle else "sequential",
        logging_steps=opts.log_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=eval_steps,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=opts.save_total_limit,
        load_best_model_at_end=bool(opts.early_stopping and has_eval),
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        bf16=compute.bf16,                  # autocast (the CPU's too)
        use_liger_kernel=compute.fused_ce,
        liger_kernel_config=LIGER_CONFIG if compute.fused_ce else None,
        use_cpu=not cuda,
        include_num_input_tokens_seen="non_padding",
        average_tokens_across_devices=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=cuda,
        disable_tqdm=True,
        report_to=["wandb"] if opts.report_to == "wandb" else "none",   # tensorboard: logger_callbacks()
        run_name=Path(checkpoints).parent.name,
    )


def mean_init_unseen(model: Any, train_set: list[dict], keep: Sequence[int], seed: int) -> int:
    """Give every token that never occurs in `train_set` (special tokens in `keep` aside) the mean input
    embedding of the tokens that do, plus a little seeded noise (1 % of their spread), in place; returns how
    many rows were set. After pre-training on a corpus without the study's words, those words' rows are where
    training pushed them (their logits down, since they were never the answer): the later fine-tune then
    starts them far below every known word (fine-tuning loss at step 0 was 9.1 against 5.8 from scratch). A
    mean row starts them as an average word (Hewitt 2021, "Initializing new word embeddings"); with tied
    embeddings this also sets their output rows."""
    import torch

    weight = model.get_input_embeddings().weight
    seen = torch.zeros(weight.shape[0], dtype=torch.bool)
    seen[torch.tensor(sorted({t for f in train_set for t in f["input_ids"]}))] = True
    unseen = ~seen
    unseen[list(keep)] = False
    if not unseen.any():
        return 0
    with torch.no_grad():
        rows = weight[seen.to(weight.device)].float()
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(int(unseen.sum()), weight.shape[1], generator=g) * rows.std(0).cpu() * 0.01
        weight[unseen.to(weight.device)] = (rows.mean(0).cpu() + noise).to(weight.dtype).to(weight.device)
    return int(unseen.sum())


def make_trainer(model: Any, tokenizer: Any, args: Any, train_set: list, eval_set: list | None,
                 callbacks: list, metrics_path: Path, row_tokens: int | None = None,
                 loss_tokens: float | None = None) -> Any:
    """A Trainer whose log entries carry `tokens` (real tokens so far) and `tokens_per_s` (since last log),
    each appended to `metrics_path` as a train_metric row when logged (main process only)."""
    from transformers import PrinterCallback, Trainer, TrainerCallback

    from metaex.core import records
    from metaex.core.train.data import PackingCollator, split_by_width

    class MetricsFile(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                with open(metrics_path, "a", encoding="utf-8") as fh:
                    for row in metric_rows([{**logs, "step": state.global_step}]):
                        fh.write(records.dumps(row) + "\n")

    class MetaexTrainer(Trainer):
        _last: tuple[float, int] | None = None

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if loss_tokens is not None and model.training:
                num_items_in_batch = loss_tokens  # one divisor for every step (module docstring)
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

        def training_step(self, model, inputs, num_items_in_batch=None):
            # rows of very different widths run as separate forwards in the same step (data.split_by_width);
            # exact when every group's loss is divided by the same count, as it is given one. One process only:
            # under data parallel each backward synchronises, and processes could split into different counts
            exact = num_items_in_batch is not None or loss_tokens is not None
            single = self.accelerator.num_processes == 1
            groups = split_by_width(inputs) if exact and single else [inputs]
            loss = super().training_step(model, groups[0], num_items_in_batch)
            for group in groups[1:]:
                loss = loss + super().training_step(model, group, num_items_in_batch)
            # the Trainer would log a non-finite loss as the mean of earlier ones and train on: stop instead
            # (its own NaN filter syncs on this value every step already)
            if not bool(loss.isfinite().all()):
                raise Diverged(f"the training loss became {loss.float().mean().item()} at step "
                               f"{self.state.global_step + 1}")
            return loss

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            if "loss" in logs:
                now, seen = time.time(), int(self.state.num_input_tokens_seen)
                if self._last is None and start_time is not None:
                    self._last = (start_time, int(self._initial_num_input_tokens_seen))
                if self._last is not None and now > self._last[0]:
                    logs["tokens_per_s"] = (seen - self._last[1]) / (now - self._last[0])
                self._last = (now, seen)
                logs["tokens"] = seen
            super().log(logs, start_time)

    trainer = MetaexTrainer(model=model, args=args, train_dataset=train_set, eval_dataset=eval_set,
                            data_collator=PackingCollator(row_tokens, tokenizer.pad_token_id or 0),
                            processing_class=tokenizer,
                            callbacks=[MetricsFile(), *callbacks])
    trainer.remove_callback(PrinterCallback)  # it prints log dicts to stdout, which belongs to pipes
    return trainer


def metric_rows(log_history: list[dict]) -> list[dict]:
    """train_metric records from the Trainer's log history (training and eval entries; the summary dropped)."""
    from metaex.core import records

    rows = []
    for entry in log_history:
        if "loss" in entry:
            fields = {"loss": entry["loss"], "lr": entry.get("learning_rate"), "grad_norm": entry.get("grad_norm"),
                      "tokens": entry.get("tokens"), "tokens_per_s": entry.get("tokens_per_s"),
                      "epoch": entry.get("epoch")}
        elif "eval_loss" in entry:
            fields = {"eval_loss": entry["eval_loss"], "epoch": entry.get("epoch")}
        else:
            continue
        rows.append(records.make("train_metric", step=int(entry["step"]), **fields))
    return rows
