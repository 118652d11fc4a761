"""The probe's options: everything besides the inputs that changes a probe's numbers, one definition each
(`metaex.core.options`): the `probe` command's parameters, the study config's `[probe]` keys and a plan's
command lines are derived from these fields. Light: no numpy, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from metaex.core import options
from metaex.core.options import option

LENGTH_REFERENCES = ("grammar", "data")


@dataclass(frozen=True)
class ProbeOptions:
    """Everything besides the inputs that changes a probe's numbers (hashed to key reusable parts)."""

    samples: int = option(200, "Sampled strings per grammar and variant.", low=1)
    temperature: float = option(1.0, "Sampling temperature (0 = greedy).", low=0)
    seed: int = option(0, "Seed of sampling and of items made from the grammar.", low=0)
    limit: int | None = option(None, "At most K samples, tests, pairs and explanations per grammar (quick looks).",
                               low=1)
    verbal: int | None = option(None, "At most N verbalization questions per grammar, cycling through the styles "
                                "(default: one per explanation).", low=1)
    batch_size: int = option(64, "Rows per forward/generate call (halved on out-of-memory); on a CUDA GPU a "
                             "decoding batch holds as many rows as its free memory does, at least this many "
                             "(memory.py).", low=1, unit="rows")
    cuts: tuple[int, ...] = option((1, 2, 3), "Greedy continuations from the first k terminals of each test "
                                   "string, for each k listed (comma-separated; greedy_* metrics).", low=1,
                                   nonempty=True, distinct=True)
    n_items: int = option(100, "Test strings (and pairs) made from the grammar when no files are given.",
                          flag="--items", low=1)
    reference: int = option(2000, "Grammar samples estimating the true length distribution.", low=1)
    max_len: int | None = option(None, "Length cap (terminals) the data was sampled under (default: the longest "
                                 "test/train string).", low=1, unit="terminals")
    length_reference: str = option("grammar", "True length distribution for length_tv: grammar samples under the "
                                   "cap, or the lengths of the given test and training strings (distinct "
                                   "sampling skews the data towards longer strings).", choices=LENGTH_REFERENCES)
    in_context: bool = option(False, "The in-context ceiling: sample and score held-out strings again after one of "
                              "the grammar's explanations (icl_*) and after a sibling's with the name swapped "
                              "(icl_control_*); needs --explanations (on in a study).", study=True, before=False)
    in_context_samples: int | None = option(None, "Samples per grammar after each in-context prompt kind "
                                            "(default: --samples).", low=1)
    # an adapter's in-context rows are 40 of the 60 rows per grammar it decodes: a study reads the fine-tuned
    # ceiling on `examples` models only, and the ceiling before fine-tuning on every base
    in_context_base_only: bool = option(False, "With --in-context: in context for an adapter's base model only "
                                        "(the ceiling before fine-tuning), not for the adapter nor a --model.",
                                        added=False)
    contest_samples: int = option(4, "With --contest: sampled continuations of each contested pair's common "
                                  "prefix (contest_gen).", low=1, added=4)
    # log-likelihoods are always float32; bf16 rows are not promised batch-invariant (float32 ones are, tested)
    bf16: bool = option(False, "Decode (sample, greedy) under bfloat16 autocast on the CPU (up to 1.3× faster "
                        "where it has avx512_bf16); every log-likelihood stays float32.", added=False)

    def key(self) -> dict:
        """The options as plain values (hashed into a part's key; config.json's `options`). An option added since
        parts were first keyed is left out at its `added` value, so earlier parts keep their keys."""
        return options.record(self)

    def for_variant(self, variant: str) -> ProbeOptions:
        """The options one variant (`base`, `adapter` or `model`) is probed with: in context everywhere, or with
        `in_context_base_only` for the base model alone; so a base part's key is the same either way (shared by
        the adapters of a seed whatever their own in-context setting)."""
        if self.in_context and self.in_context_base_only and variant != "base":
            return replace(self, in_context=False, in_context_samples=None, in_context_base_only=False)
        return replace(self, in_context_base_only=False)

    def check(self) -> None:
        """InputError (naming the CLI option) for any value a probe cannot use; called before anything is read."""
        options.check(self)

    def capped(self, n: int) -> int:
        return n if self.limit is None else min(n, self.limit)
