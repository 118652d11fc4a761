"""Tiny Llama-architecture models from scratch, with a word-level tokenizer over the study's vocabulary.

`build_tiny` writes a folder that `AutoModelForCausalLM` / `AutoTokenizer.from_pretrained` load exactly like a
hub model (safetensors weights, `tokenizer.json`). The tokenizer splits on whitespace, keeps each newline as a
token of its own (as real tokenizers do: a line break ends a quoted example in a textbook or worked document,
and generation stops at it), isolates punctuation (`"Vemo:"` → `Vemo`, `:`) and single digits, and knows only
the words it was built from: anything else becomes `<unk>`, which `metaex.core.models.vocab.check_coverage`
turns into a clear error at finetune/probe time.
Special tokens: `<pad>` 0, `<unk>` 1, `<s>` 2 (prepended to every encoding, as Llama does), `</s>` 3
(appended by the training code to every document); pad ≠ eos.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from metaex.core import formats
from metaex.core.errors import InputError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)

# name -> (hidden, layers, heads, ffn). tiny is the CPU pilot's config (STUDY.md); sizes grow ~4-10x per step.
SIZES: dict[str, tuple[int, int, int, int]] = {
    "tiny": (64, 2, 4, 256),      # ~0.1 M parameters + embeddings
    "small": (128, 4, 4, 512),    # ~0.8 M + embeddings
    "base": (320, 8, 5, 1280),    # ~13 M + embeddings
}
MAX_POSITIONS = 2048


NEWLINE = "\n"


def pre_tokenizer():
    """Split on whitespace other than newlines, each newline a token, then punctuation and digits isolated:
    the one word segmentation of tiny models."""
    from tokenizers import Regex
    from tokenizers import pre_tokenizers as pt

    return pt.Sequence([pt.Split(Regex(r"[^\S\n]+"), "removed"), pt.Split(NEWLINE, "isolated"),
                        pt.Punctuation("isolated"), pt.Digits(individual_digits=True)])


def words_of(texts: Iterable[str]) -> set[str]:
    """The words the tiny tokenizer would see in `texts`."""
    pre = pre_tokenizer()
    out: set[str] = set()
    for text in texts:
        out.update(w for w, _ in pre.pre_tokenize_str(text))
    return out


def _file_texts(path: Path) -> Iterable[str]:
    """Texts of a vocabulary source: a .pcfg grammar (name + terminals) or JSONL/plain lines (`text` fields)."""
    if path.suffix == ".pcfg":
        from metaex.core.grammar.pcfg import load_grammar

        g = load_grammar(path)
        return [g.name, *g.terminals]
    from metaex.core.records import read_texts

    return [text for _, _, text, _ in read_texts(path)]


def _optional_words(with_lexicon: bool = True) -> set[str]:
    """The explanation vocabulary and (unless `with_lexicon` is false) the whole shipped nonce lexicon."""
    from metaex.core.explain import explanation_vocabulary

    texts: list[str] = list(explanation_vocabulary())
    if with_lexicon:
        from metaex.core.grammar.lexicon import lexicon

        texts.extend(lexicon())
    return words_of(texts)


def collect_vocab(files: Iterable[str | Path], *, extra: Iterable[str] = (), builtin: bool = True,
                  lexicon: bool = True) -> list[str]:
    """Sorted vocabulary (no special tokens) from files, extra words and, if `builtin`, the explanation words,
    the judgement question's words, the digits, the newline and (if `lexicon`) every nonce word of the shipped lexicon.

    Without the lexicon the vocabulary is only what the files use: a study that builds its model from all of a
    seed's documents wants that, since every never-trained token keeps some probability mass at temperature 1."""
    words = words_of(extra)
    for f in files:
        p = Path(f)
        if str(f) != "-" and not p.exists():   # `-`: JSONL records or plain lines on stdin
            raise InputError("no such file", str(f))
        words |= words_of(_file_texts(p))
    if builtin:
        words |= _optional_words(lexicon)
        words |= words_of([formats.judgement_doc("x", "x", True), formats.NO, "0 1 2 3 4 5 6 7 8 9", NEWLINE])
    return sorted(words - set(SPECIALS))


def make_tokenizer(vocab_words: Iterable[str]):
    """A `PreTrainedTokenizerFast` over `SPECIALS` + the given words (kept in the given order)."""
    from tokenizers import Tokenizer, models, processors
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {s: i for i, s in enumerate(SPECIALS)}
    for w in vocab_words:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, vocab[BOS])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, unk_token=UNK, bos_token=BOS,
                                   eos_token=EOS, clean_up_tokenization_spaces=False)


def tiny_config(vocab_size: int, size: str = "tiny"):
    """The LlamaConfig of a named size, tied embeddings, ids matching `SPECIALS`."""
    from transformers import LlamaConfig

    if size not in SIZES:
        raise InputError(f"unknown size {size!r} (choose from {', '.join(SIZES)})")
    hidden, layers, heads, ffn = SIZES[size]
    return LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=ffn, num_hidden_layers=layers,
                       num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=MAX_POSITIONS,
                       tie_word_embeddings=True, pad_token_id=0, bos_token_id=2, eos_token_id=3,
                       rms_norm_eps=1e-5, attention_bias=False, mlp_bias=False)


TINY_META = "metaex_tiny.json"


def build_tiny(vocab_words: Iterable[str], out_dir: str | Path, *, size: str = "tiny", seed: int = 0) -> dict:
    """Build a randomly initialised tiny Llama (seeded) with a word-level tokenizer; save it to `out_dir`
    atomically (a temp folder renamed into place). Returns a summary: path, size, seed, vocab_size, parameters."""
    import torch
    from transformers import LlamaForCausalLM

    from metaex.core.files import atomic_dir
    from metaex.core.markers import write_marker
    from metaex.core.models.environment import quiet_transformers

    quiet_transformers()
    tokenizer = make_tokenizer(vocab_words)
    config = tiny_config(len(tokenizer), size)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = config.pad_token_id
    n_params = sum(p.numel() for p in model.parameters())
    summary = {"path": str(out_dir), "size": size, "seed": seed, "vocab_size": len(tokenizer),
               "parameters": n_params}
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / TINY_META).write_text(json.dumps(summary, sort_keys=True, indent=2) + "\n")
        write_marker(tmp, "tiny")
    return summary


def write_tiny(vocab_from: Iterable[str | Path], out: str | Path, *, size: str = "tiny", seed: int = 0,
               builtin: bool = True, lexicon: bool = True) -> str:
    """`metaex model tiny`: a tiny model whose tokenizer covers the files' words, written to `out`; the summary."""
    from metaex.core.files import guard_outputs

    vocab_from = list(vocab_from)
    guard_outputs(vocab_from, [(out, "folder", "tiny")])
    words = collect_vocab(vocab_from, builtin=builtin, lexicon=lexicon)
    summary = build_tiny(words, out, size=size, seed=seed)
    return (f"{out}: {summary['size']} model, {summary['parameters']:,} parameters, "
            f"{summary['vocab_size']} tokens, seed {seed}")
