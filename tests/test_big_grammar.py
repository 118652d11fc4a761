"""Big inputs stay bounded: grammars of 10,000 recursive rules are answered (by sample, check, instantiate; explain
refuses them with one line), the sparse and iterative paths agree with closed forms, a string longer than a check
may take is one line, and running out of memory anywhere is one line.

The subprocess timeouts below only catch a hang (the dense solves these replace took minutes at 2,000 rules); the
timings themselves belong to benchmarks."""

from __future__ import annotations

import math
import resource
import subprocess
import sys

import pytest

HANG = 240   # seconds: far above what any of these takes, far below the dense solve at 10,000 rules


def shape(name: str, k: int) -> str:
    """A recursive grammar of k nonterminals (about 2k rules; `star` 3k): its expected length is known."""
    if name == "chain":       # expected length 2 from every nonterminal
        return "".join(f"N{i} -> 'a' N{(i + 1) % k} [0.5] | 'b' [0.5]\n" for i in range(k))
    if name == "star":        # E = 1 + 0.4 E: 5/3; S has k unit rules
        return ("S -> " + " | ".join(f"N{i} [{1 / k:.15g}]" for i in range(k)) + "\n"
                + "".join(f"N{i} -> 't{i % 40}' S [0.4] | 't{i % 40}' [0.6]\n" for i in range(k)))
    if name == "units":       # a cycle of k unit rules; with k a multiple of 7, P(N0 => t_r) = 2^-(r+1) / (1 - 2^-7)
        return "".join(f"N{i} -> N{(i + 1) % k} [0.5] | 't{i % 7}' [0.5]\n" for i in range(k))
    if name == "improper":    # 1.2 expected children per node
        return "".join(f"N{i} -> 'a' N{(i + 1) % k} N{(i + 1) % k} [0.6] | 'b' [0.4]\n" for i in range(k))
    raise ValueError(name)


def metaex(*args, limit_bytes: int | None = None, **kw) -> subprocess.CompletedProcess:
    def limited() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-m", "metaex", *map(str, args)], capture_output=True, text=True,
                          timeout=HANG, preexec_fn=limited, **kw)


@pytest.mark.parametrize("name", ["chain", "star", "units"])
def test_ten_thousand_recursive_rules_are_answered(tmp_path, name):
    k = 10_500 if name == "units" else 10_000
    g = tmp_path / f"{name}.pcfg"
    g.write_text(shape(name, k))
    sampled = metaex("grammar", "sample", g, "-n", "20", "--seed", "0", "--max-len", "30", "-o", tmp_path / "s.jsonl")
    assert sampled.returncode == 0, sampled.stderr
    checked = metaex("grammar", "check", g, tmp_path / "s.jsonl")
    assert checked.returncode == 0 and checked.stdout.count('"valid":true') == 20, checked.stderr
    info = metaex("grammar", "info", g, "--json", "--samples", "0")
    assert info.returncode == 0, info.stderr
    explained = metaex("explain", g)
    lines = explained.stderr.strip().splitlines()
    assert explained.returncode == 2 and len(lines) == 1 and "metaex explains grammars of at most" in lines[0], lines
    instantiated = metaex("grammar", "instantiate", g, "--seed", "0", "-o", tmp_path / "i.pcfg")
    lines = instantiated.stderr.strip().splitlines()
    assert instantiated.returncode in (0, 2) and len(lines) == 1, instantiated.stderr


def test_an_improper_big_grammar_is_one_line(tmp_path):
    g = tmp_path / "improper.pcfg"
    g.write_text(shape("improper", 5_000))
    r = metaex("grammar", "info", g)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "improper grammar" in lines[0], r.stderr


@pytest.mark.parametrize("k", [50, 1_000])   # the dense path, and the iterative one (over `expect.DENSE`)
def test_expected_lengths_and_properness_match_closed_forms(k):
    from metaex.core.errors import InputError
    from metaex.core.grammar.expect import DENSE
    from metaex.core.grammar.pcfg import parse_grammar

    assert (k > DENSE) == (k == 1_000)
    assert parse_grammar(shape("chain", k)).expected_length == pytest.approx(2.0, rel=1e-9)
    assert parse_grammar(shape("star", k)).expected_length == pytest.approx(5 / 3, rel=1e-9)
    with pytest.raises(InputError, match="improper grammar"):
        parse_grammar(shape("improper", k))


@pytest.mark.parametrize("k", [700, 3_003])   # unit rules inverted densely, and summed as a sparse series
def test_unit_chains_are_summed_exactly(k):
    from metaex.core.grammar.pcfg import parse_grammar
    from metaex.core.grammar.recognize import Recognizer

    rec = Recognizer(parse_grammar(shape("units", k)))
    for r in range(7):
        assert rec.logprob(f"t{r}") == pytest.approx(math.log(2 ** -(r + 1) / (1 - 2 ** -7)), rel=1e-9)
    assert rec.accepts("t3") and not rec.accepts("t3 t3")


def test_a_line_longer_than_a_check_takes_is_one_line(tmp_path):
    g = tmp_path / "g.pcfg"
    g.write_text("S -> 'a' S [0.5] | 'b' [0.5]\n")
    long = tmp_path / "long.txt"
    long.write_text("a b\n" + "a " * 300_000 + "b\n")
    for args in (["grammar", "check", g, long], ["grammar", "pairs", g, long, "--seed", "0"]):
        r = metaex(*args, limit_bytes=2 << 30)   # the old chart took gigabytes here: a cap shows it at once
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert "long.txt:2: a string of 300,001 words: metaex checks strings of at most" in lines[0], lines[0]


def test_running_out_of_memory_is_one_line(tmp_path):
    g = tmp_path / "g.pcfg"
    g.write_text("S -> 'a' S [0.5] | 'b' [0.5]\n")
    r = metaex("grammar", "sample", g, "-n", "400000000", "--seed", "0", "-o", tmp_path / "s.jsonl",
               limit_bytes=1 << 30)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "out of memory" in lines[0], r.stderr
    assert not (tmp_path / "s.jsonl").exists() and not list(tmp_path.glob(".s.jsonl*"))
