"""The training options: everything that shapes a run, with its defaults and checks (light: no torch).

The CLI takes its defaults and choices from here, the study config the same defaults; a run folder records them
and compares them when it is reused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from metaex.core.errors import InputError

METHODS = ("full", "lora", "qlora")
LOSS_NORMS = ("tokens", "fixed")
SWITCHES = ("auto", "on", "off")
# options added after run folders were first written, with what those folders ran
ADDED = {"bf16": False, "grad_checkpointing": "auto", "fused_ce": "auto"}
DEFAULT_LR = {"full": 3e-3, "lora": 2e-4, "qlora": 2e-4}  # full: the tiny-from-scratch pilot (STUDY.md)


@dataclass
class TrainOptions:
    """Everything that shapes a run (all of it is recorded and compared when a run folder is reused)."""

    method: str = "qlora"             # the CLI's default: a base model on a GPU
    steps: int | None = None          # optimizer steps; None: `epochs` passes over the file
    epochs: float = 1.0
    batch_size: int = 32              # documents per device per micro-batch (packed into one row)
    grad_accum: int = 1
    lr: float | None = None           # None: DEFAULT_LR[method]
    warmup: float = 0.05              # ratio of total steps if < 1, else steps
    min_lr_ratio: float = 0.1         # cosine decays to lr × this
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    max_grad_norm: float = 1.0
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = "all-linear"  # or comma-separated module names
    seed: int = 0
    shuffle: bool = False
    log_steps: int = 1
    eval_steps: int = 50
    early_stopping: int | None = None   # patience in evaluations (needs an eval file)
    save_steps: int = 100               # 0: no checkpoints
    save_total_limit: int | None = 2
    unseen_init: bool = False          # after training, tokens absent from the file get the mean embedding (hf.py)
    loss_norm: str = "tokens"          # "tokens": mean over a step's loss tokens; "fixed": sum ÷ a constant (hf.py)
    # CPU mixed precision: matmuls in bfloat16 under autocast, weights and optimizer state in float32 (a GPU
    # computes in bf16 whatever this says); on a CPU with avx512_bf16 1.6× faster on 512-token steps, ~1.35× a
    # SmolLM2 study seed; slow without
    bf16: bool = False
    # on, off, or auto: on a CUDA GPU where the file's largest step would not fit the card without it (compute.py)
    grad_checkpointing: str = "auto"
    # Liger-Kernel's fused linear cross-entropy: on, off, or auto: on CUDA where installed, vocabularies ≥ 100 k
    fused_ce: str = "auto"
    row_tokens: int | None = 128        # packed row length cap, raised to the batch's longest document (attention
    #                                     cost grows with the square of the row length: 128 measured 1.45× faster than 512)

    def identity(self) -> dict:
        """The options as a run folder records and compares them: a field added since folders were first written
        is left out at its default (`ADDED`), so earlier folders keep matching."""
        return {k: v for k, v in asdict(self).items() if not (k in ADDED and v == ADDED[k])}

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]

    def check(self) -> None:
        """InputError (naming the CLI option) for any value a run cannot use; called before anything is written."""
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r} (choose from {', '.join(METHODS)})")
        if self.loss_norm not in LOSS_NORMS:
            raise InputError(f"unknown loss normalisation {self.loss_norm!r} (choose from {', '.join(LOSS_NORMS)})")
        for opt, value in (("--grad-checkpointing", self.grad_checkpointing), ("--fused-ce", self.fused_ce)):
            if value not in SWITCHES:
                raise InputError(f"{opt} must be one of {', '.join(SWITCHES)}, got {value!r}")
        positive = {"--steps": self.steps, "--epochs": self.epochs, "--batch-size": self.batch_size,
                    "--grad-accum": self.grad_accum, "--lr": self.lr, "--lora-r": self.lora_r,
                    "--lora-alpha": self.lora_alpha, "--log-steps": self.log_steps, "--eval-steps": self.eval_steps,
                    "--early-stopping": self.early_stopping}
        for opt, value in positive.items():
            if value is not None and not value > 0:
                raise InputError(f"{opt} must be positive, got {value}")
        for opt, value, low, high in (("--warmup", self.warmup, 0, None), ("--min-lr-ratio", self.min_lr_ratio, 0, 1),
                                      ("--weight-decay", self.weight_decay, 0, None),
                                      ("--lora-dropout", self.lora_dropout, 0, 1),
                                      ("--max-grad-norm", self.max_grad_norm, 0, None),
                                      ("--save-steps", self.save_steps, 0, None)):
            if value < low or (high is not None and value > high):
                bound = f"between {low} and {high}" if high is not None else f"at least {low}"
                raise InputError(f"{opt} must be {bound}, got {value}")
        if not all(0 <= b < 1 for b in self.betas):
            raise InputError(f"betas must lie in [0, 1), got {self.betas}")
        if self.unseen_init and self.method != "full":
            raise InputError("--unseen-init changes embeddings: it needs --method full")
