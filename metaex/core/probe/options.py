"""The probe's options: everything besides the inputs that changes a probe's numbers (light: no numpy, no torch).

The CLI takes its defaults and choices from here; the study config reads the same defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

LENGTH_REFERENCES = ("grammar", "data")


@dataclass(frozen=True)
class ProbeOptions:
    """Everything besides the inputs that changes a probe's numbers (hashed to key reusable parts)."""

    samples: int = 200          # temperature samples of `"{name}:"` per grammar and variant
    temperature: float = 1.0
    seed: int = 0
    limit: int | None = None    # cap on samples, test strings, pairs and explanations per grammar
    verbal: int | None = None   # verbalization questions per grammar (None: one per explanation, up to limit)
    batch_size: int = 64        # rows per batch (on CUDA decoding grows it to what memory holds: memory.py)
    cuts: tuple[int, ...] = (1, 2, 3)  # greedy from the first k terminals of each test string
    n_items: int = 100          # test strings (and pairs) made from the grammar when no files are given
    reference: int = 2000       # grammar samples estimating the true length distribution
    max_len: int | None = None  # the data's length cap (terminals); None: see inputs.length_cap
    # true length distribution for length_tv: "grammar" samples under the cap, or "data": the lengths of the
    # given test and training strings (distinct sampling skews the data towards longer strings)
    length_reference: str = "grammar"
    # the in-context ceiling: sample and score held-out strings again after one of the grammar's explanations,
    # and after a sibling's (the control); needs the grammars' explanations (metaex.core.probe.in_context)
    in_context: bool = False
    in_context_samples: int | None = None   # samples per in-context prompt kind (None: as many as `samples`)
    # in context only for the base model of an adapter (the ceiling before fine-tuning), not for the adapter: a
    # study reads the fine-tuned ceiling on `examples` models; an adapter's in-context rows are 40 of the 60 rows
    # per grammar it decodes, and 40 of its long scored ones (the time saved is not yet measured)
    in_context_base_only: bool = False
    # decoding (sampling, greedy) under bfloat16 autocast on the CPU; log-likelihoods are always float32. bf16 rows
    # are not promised batch-invariant (float32 ones are, tested)
    bf16: bool = False

    def cli_args(self) -> tuple[str, ...]:
        """These options as `metaex probe` arguments (what a study's probe steps run with): every count given,
        the temperature and length reference only where they differ from the default."""
        d = ProbeOptions()
        return ("--samples", str(self.samples), *(("--max-len", str(self.max_len)) if self.max_len else ()),
                *(("--limit", str(self.limit)) if self.limit else ()),
                *(("--verbal", str(self.verbal)) if self.verbal else ()),
                "--cuts", ",".join(map(str, self.cuts)),
                *(("--temperature", str(self.temperature)) if self.temperature != d.temperature else ()),
                *(("--length-reference", self.length_reference) if self.length_reference != d.length_reference
                  else ()),
                *(("--in-context",) if self.in_context else ()),
                *(("--in-context-samples", str(self.in_context_samples)) if self.in_context_samples else ()),
                *(("--in-context-base-only",) if self.in_context_base_only else ()),
                *(("--bf16",) if self.bf16 else ()),
                "--seed", str(self.seed), "--batch-size", str(self.batch_size))

    def key(self) -> dict:
        """The options as plain values (hashed into a part's key; config.json's `options`). A field added since
        parts were first keyed is left out at its default, so earlier parts keep their keys."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()
                if not (k in ("in_context_base_only", "bf16") and not v)}

    def for_variant(self, variant: str) -> ProbeOptions:
        """The options one variant (`base`, `adapter` or `model`) is probed with: in context everywhere, or with
        `in_context_base_only` for the base model alone; so a base part's key is the same either way (shared by
        the adapters of a seed whatever their own in-context setting)."""
        if self.in_context and self.in_context_base_only and variant != "base":
            return replace(self, in_context=False, in_context_samples=None, in_context_base_only=False)
        return replace(self, in_context_base_only=False)

    def check(self) -> None:
        """InputError (naming the CLI option) for any value a probe cannot use; called before anything is read."""
        from metaex.core.errors import InputError

        for opt, value in (("--samples", self.samples), ("--in-context-samples", self.in_context_samples),
                           ("--limit", self.limit), ("--verbal", self.verbal), ("--batch-size", self.batch_size), ("--max-len", self.max_len),
                           ("--items", self.n_items), ("--reference", self.reference)):
            if value is not None and not (isinstance(value, int) and value >= 1):
                raise InputError(f"{opt} must be a positive integer, got {value}")
        if not self.temperature >= 0:
            raise InputError(f"--temperature must be at least 0 (0 = greedy), got {self.temperature}")
        if not self.cuts or min(self.cuts) < 1:
            raise InputError(f"--cuts should list positive integers, got {list(self.cuts)}")
        if self.length_reference not in LENGTH_REFERENCES:
            raise InputError(f"--length-reference must be one of {', '.join(LENGTH_REFERENCES)}, "
                             f"not {self.length_reference!r}")

    def capped(self, n: int) -> int:
        return n if self.limit is None else min(n, self.limit)


