"""The training options: everything that shapes a run, one definition each (`metaex.core.options`): the
`finetune` command's parameters, the study config's `[model]` and `[arms.X]` keys and a plan's command lines
are derived from these fields. A run folder records them and compares them when it is reused. Light: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from metaex.core import options
from metaex.core.errors import InputError
from metaex.core.options import option

METHODS = ("full", "lora", "qlora")
LOSS_NORMS = ("tokens", "fixed")
SWITCHES = ("auto", "on", "off")
REPORT_TO = ("none", "tensorboard", "wandb")   # loggers, through the HF Trainer's own integrations (hf.py)
DEFAULT_LR = {"full": 3e-3, "lora": 2e-4, "qlora": 2e-4}  # full: the tiny-from-scratch pilot (STUDY.md)


@dataclass
class TrainOptions:
    """Everything that shapes a run (all of it is recorded and compared when a run folder is reused)."""

    method: str = option("qlora", "Fine-tuning method (the default suits a base model on a GPU).", choices=METHODS)
    steps: int | None = option(None, "Optimizer steps (default: --epochs passes).", low=1, unit="steps")
    epochs: float = option(1.0, "Passes over the file when --steps is not given.", low=0, low_open=True,
                           unit="passes")
    batch_size: int = option(32, "Documents per device per micro-batch (packed into one row).", low=1,
                             unit="documents")
    grad_accum: int = option(1, "Micro-batches per optimizer step.", low=1)
    lr: float | None = option(None, "Peak learning rate (default: "
                              + ", ".join(f"{v:g} {k}" for k, v in DEFAULT_LR.items()) + ").", low=0, low_open=True)
    warmup: float = option(0.05, "Warm-up: ratio of steps if < 1, else steps.", low=0)
    min_lr_ratio: float = option(0.1, "Cosine decays to lr × this.", low=0, high=1)
    weight_decay: float = option(0.01, "AdamW weight decay.", low=0)
    betas: tuple[float, float] = option((0.9, 0.98), "AdamW betas, comma-separated.", low=0, high=1, high_open=True)
    max_grad_norm: float = option(1.0, "Clip each step's gradient to this norm (0: off). A clipped step moves the "
                                  "weights alike whatever it holds, which undoes --loss-norm fixed.", low=0)
    lora_r: int = option(16, "LoRA rank.", low=1)
    lora_alpha: int = option(32, "LoRA alpha (the adapter's scale is alpha / r).", low=1)
    lora_dropout: float = option(0.05, "Dropout on the LoRA path.", low=0, high=1)
    target_modules: str = option("all-linear", "all-linear or comma-separated module names.")
    seed: int = option(0, "Seed of the initial adapters and of --shuffle.", low=0)
    shuffle: bool = option(False, "Shuffle documents (breaks the mix's order).")
    log_steps: int = option(1, "Log every N steps.", low=1, unit="steps")
    report_to: str = option("none", "Also log the training metrics to TensorBoard (RUN_DIR/tensorboard/) or Weights & "
                            "Biases, through the Trainer's integrations (pip install 'metaex[tensorboard]' or "
                            "'metaex[wandb]'; WANDB_MODE=offline keeps wandb local).", choices=REPORT_TO,
                            recorded=False)
    eval_steps: int = option(50, "Evaluate every N steps (with --eval).", low=1, unit="steps")
    early_stopping: int | None = option(None, "Stop after N evaluations without improvement; final/ is the best "
                                        "checkpoint (needs --eval).", low=1, unit="evaluations")
    save_steps: int = option(100, "Checkpoint every N steps (0: none).", low=0, unit="steps")
    save_total_limit: int | None = option(2, "Checkpoints kept, the newest.", low=1)
    unseen_init: bool = option(False, "After training, give tokens that never occur in TRAIN.jsonl the mean "
                               "embedding of those that do (pre-training on a corpus without the words the "
                               "fine-tune will bring; full only).")
    loss_norm: str = option("tokens", "tokens: a step's loss is the mean over its tokens; fixed: its sum ÷ one "
                            "constant (the tokens of a step of example documents), so long documents do not "
                            "shrink their neighbours' gradient (a study's default: the design's).",
                            choices=LOSS_NORMS, study="fixed")
    # CPU mixed precision: matmuls in bfloat16 under autocast, weights and optimizer state in float32 (a GPU
    # computes in bf16 whatever this says); on a CPU with avx512_bf16 1.6× faster on 512-token steps, ~1.35× a
    # SmolLM2 study seed; slow without (a study config may say "auto": `precision.cpu_bf16()`)
    bf16: bool = option(False, "CPU mixed precision: bfloat16 matmuls under autocast, float32 weights and "
                        "optimizer (QLoRA: its weights that are not 4-bit in bf16); up to 1.6× faster where the CPU "
                        "has avx512_bf16; a GPU with bf16 computes in it anyway.", added=False, auto=True)
    grad_checkpointing: str = option("auto", "Recompute activations in the backward pass (auto: on a CUDA GPU where "
                                     "the largest step would not fit the card without it; compute.py).",
                                     choices=SWITCHES, added="auto")
    fused_ce: str = option("auto", "Liger-Kernel's fused output layer and loss (auto: on CUDA where liger-kernel is "
                           "installed, for vocabularies of 100 k or more).", choices=SWITCHES, added="auto")
    row_tokens: int | None = option(128, "Packed row length cap, raised to the batch's longest document "
                                    "(attention cost grows with its square: 128 measured 1.45× faster than 512).",
                                    low=1, unit="tokens")

    def identity(self) -> dict:
        """The options as a run folder records and compares them (an option added since folders were first
        written is left out at its `added` value, so earlier folders keep matching; how a run is watched never)."""
        return options.record(self)

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]

    def check(self) -> None:
        """InputError (naming the CLI option) for any value a run cannot use; called before anything is written."""
        options.check(self)
        if self.unseen_init and self.method != "full":
            raise InputError("--unseen-init changes embeddings: it needs --method full")


ADDED = options.added(TrainOptions)   # options added after run folders were first written, with what those ran
