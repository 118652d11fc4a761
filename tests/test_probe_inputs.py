"""Probe inputs: verbalization choices, the length cap, matching records to grammars."""

from __future__ import annotations

import pytest
from probe_tiny import GRAMMARS

from metaex.core import records
from metaex.core.errors import InputError
from metaex.core.grammar.pcfg import parse_grammar
from metaex.core.probe.inputs import build_choices, length_cap, load_items, swap_name
from metaex.core.probe.options import ProbeOptions

VEMO = parse_grammar(GRAMMARS["vemo"], source="vemo.pcfg")


def _expl(grammar: str, text: str, style: str, paraphrase: int) -> dict:
    return records.make("explanation", text=text, grammar=grammar, grammar_hash="-", style=style,
                        paraphrase=paraphrase, seed=0)


def test_choices_swap_the_sibling_name_and_match_style():
    expl = [_expl("vemo", "In vemo , ka first .", "prose", 0), _expl("vemo", "vemo : ka X", "bnf", 0),
            _expl("dura", "In dura , po first .", "prose", 0), _expl("dura", "dura : po Y", "bnf", 0),
            _expl("dura", "In dura , po comes first .", "prose", 1)]
    choices = build_choices(expl, VEMO, None)
    assert [(c.true, c.distractors, c.style) for c in choices] == [
        ("In vemo , ka first .", ["In vemo , po first ."], "prose"), ("vemo : ka X", ["vemo : po Y"], "bnf")]
    assert build_choices(expl[:2], VEMO, None) == []  # no sibling: no question
    assert swap_name("duras dura, dura", "dura", "vemo") == "duras vemo, vemo"


def test_length_cap():
    assert length_cap(VEMO, ProbeOptions(max_len=7), ["ka glims"]) == 7
    assert length_cap(VEMO, ProbeOptions(), ["ka glims", "ka blick blick glims"]) == 4
    assert length_cap(VEMO, ProbeOptions(), []) is None


def test_records_must_match_the_grammar(tmp_path):
    path = tmp_path / "tests.jsonl"
    records.write(path, [records.make("example", text="ka glims", grammar="vemo", grammar_hash="0123456789ab",
                                      seed=0, split="test")])
    with pytest.raises(InputError, match="different version"):
        load_items([VEMO], ProbeOptions(), tests=path)
    records.write(path, [records.make("example", text="po zun", grammar="dura", grammar_hash="x", seed=0,
                                      split="test")])
    with pytest.raises(InputError, match="no test strings for grammar vemo"):
        load_items([VEMO], ProbeOptions(), tests=path)


def test_length_reference_from_the_data(tmp_path):
    path = tmp_path / "tests.jsonl"
    texts = ["ka glims", "ka blick glims", "ka blick blick glims"]
    records.write(path, [records.make("example", text=t, grammar="vemo", grammar_hash=VEMO.hash, seed=0,
                                      split="test") for t in texts])
    made = load_items([VEMO], ProbeOptions(reference=50, length_reference="data", n_items=3), tests=path)
    assert sorted(made["vemo"].true_lengths) == [2, 3, 4]
    sampled = load_items([VEMO], ProbeOptions(reference=50, n_items=3), tests=path)["vemo"].true_lengths
    assert len(sampled) == 50 and max(sampled) <= 4  # grammar samples under the data's cap


def test_novelty_reference_reads_mixes_and_train_splits_only(tmp_path):
    from metaex.core import formats
    from metaex.core.probe.inputs import read_train

    prov = {"grammar": "vemo", "grammar_hash": VEMO.hash, "seed": 0}
    train, mix, pool = tmp_path / "train.jsonl", tmp_path / "mix.jsonl", tmp_path / "pool.jsonl"
    records.write(train, [records.make("example", text="ka glims", split="train", **prov)])
    records.write(mix, [
        records.make("document", text=formats.example_doc("vemo", "ka blick glims"), doc_kind="example", grammar="vemo",
                     seed=0),
        records.make("document", text=formats.worked_doc("In vemo , ka first .", "vemo", ["ka zun glims", "ka x"]),
                     doc_kind="worked", grammar="vemo", seed=0),
        records.make("document", text="vemo: ka never", doc_kind="explanation", grammar="vemo", seed=0)])
    assert read_train([train, mix], [VEMO]) == {"vemo": {"ka glims", "ka blick glims", "ka zun glims", "ka x"}}
    records.write(pool, [records.make("example", text="ka glims", split="train", **prov),
                         records.make("example", text="ka zun glims", split="pool", **prov)])
    with pytest.raises(InputError, match="split 'pool' given as training strings") as err:
        read_train([pool], [VEMO])
    assert err.value.path == str(pool) and err.value.line == 2
    records.write(pool, [records.make("example", text="ka glims", split="train", **{**prov, "grammar_hash": "x"})])
    with pytest.raises(InputError, match="different version of the grammar"):
        read_train([pool], [VEMO])
