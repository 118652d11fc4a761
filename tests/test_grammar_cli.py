"""`metaex grammar …` through the real CLI: outputs, byte-identical reruns, the bad-input table, no torch."""

from __future__ import annotations

import json

import pytest


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_sample_check_pairs_pipeline(run_cli, grammars_dir, tmp_path):
    g = grammars_dir / "agreement.pcfg"
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    r = run_cli("grammar", "sample", g, "-n", 40, "--seed", 1, "--test", 10, "--test-out", test, "-o", train)
    assert r.exit_code == 0, r.output
    tr, te = _records(train.read_text()), _records(test.read_text())
    assert {x["split"] for x in tr} == {"train"} and {x["split"] for x in te} == {"test"}
    assert len({x["text"] for x in tr}) == 40 and not {x["text"] for x in tr} & {x["text"] for x in te}
    checked = run_cli("grammar", "check", g, train)
    assert [x["valid"] for x in _records(checked.stdout)] == [True] * 40
    plain = run_cli("grammar", "check", g, input="lo dax glims\nlo dax glim\n")
    assert [(x["text"], x["valid"]) for x in _records(plain.stdout)] == [("lo dax glims", True),
                                                                         ("lo dax glim", False)]
    pairs = _records(run_cli("grammar", "pairs", g, train, "--seed", 2).stdout)
    assert len(pairs) == 40 and all(p["kind"] == "pair" and p["good"] != p["bad"] for p in pairs)


def test_info(run_cli, grammars_dir):
    r = run_cli("grammar", "info", grammars_dir / "cfg3.pcfg", "--json", "--samples", 2)
    info = json.loads(r.stdout)
    assert info["name"] == "cfg3" and info["expected_length"] > 100 and len(info["samples"]) == 2
    table = run_cli("grammar", "info", grammars_dir / "reber.pcfg")
    assert table.exit_code == 0 and "expected_length" in table.stdout and "Q2" in table.stdout


@pytest.mark.parametrize("args", [
    ("sample", "{g}", "-n", "30", "--seed", "{seed}", "--max-len", "12", "--distinct"),
    ("pairs", "{g}", "{strings}", "--seed", "{seed}", "--perturbation", "substitution", "--perturbation", "insert"),
    ("instantiate", "{g}", "--seed", "{seed}"),
    ("random", "--family", "cfg", "--depth", "6", "--seed", "{seed}"),
    ("random", "--family", "regular", "--seed", "{seed}"),
])
def test_same_seed_same_bytes(run_cli, grammars_dir, tmp_path, args):
    strings = tmp_path / "strings.txt"
    strings.write_text("( ) [ ]\n( [ ] )\n[ ( ( ) ) ]\n")
    outs = []
    for seed in (5, 5, 6):
        out = tmp_path / f"out{len(outs)}"
        filled = [a.format(g=grammars_dir / "dyck2.pcfg", seed=seed, strings=strings) for a in args]
        r = run_cli("grammar", *filled, "-o", out)
        assert r.exit_code == 0, r.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and outs[0] != outs[2] and outs[0]


def _write(path, content: str | bytes):
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


GOOD = "S -> 'a' S 'b' [0.4] | 'a' 'b' [0.6]\n"
EXAMPLE = json.dumps({"schema": "metaex/example@1", "kind": "example", "text": "a b", "grammar": "x",
                      "grammar_hash": "000000000000", "seed": 0, "split": "train"})
PAIR = json.dumps({"schema": "metaex/pair@1", "kind": "pair", "good": "a b", "bad": "b a", "perturbation": "swap",
                   "grammar": "g", "grammar_hash": "h", "seed": 0})
FINITE = "S -> A A [1.0]\nA -> 'x' [0.5] | 'y' [0.5]\n"

# (files to create, command args, text the message must contain, where it must point)
BAD = [
    ({"g.pcfg": "# name: g\nS -> 'a' [0.5] | 'b' [0.2]\n"}, ["sample", "g.pcfg", "-n", "3", "--seed", "0"],
     "do not sum to 1", "g.pcfg:2:"),
    ({"g.pcfg": "S -> 'a' [0.5] | 'a' A [0.5]\nA -> A 'b' [1.0]\n"}, ["check", "g.pcfg", "in.txt"],
     "unproductive", "g.pcfg:2:"),
    ({"g.pcfg": "S -> 'a' [1.0]\nB -> 'b' [1.0]\n"}, ["info", "g.pcfg"], "unreachable", "g.pcfg:2:"),
    ({"g.pcfg": "S -> S S [0.7] | 'a' [0.3]\n"}, ["sample", "g.pcfg", "-n", "3", "--seed", "0"], "improper",
     "g.pcfg:"),
    ({"g.pcfg": "S -> 'a b' [1.0]\n"}, ["instantiate", "g.pcfg", "--seed", "0"], "whitespace", "g.pcfg:1:"),
    ({"g.pcfg": "# nothing\n"}, ["sample", "g.pcfg", "-n", "3", "--seed", "0"], "empty grammar", "g.pcfg:"),
    ({"g.pcfg": b"S -> 'a' [1.0]\nA -> '\xff' [1.0]\n"}, ["info", "g.pcfg"], "not UTF-8", "g.pcfg:2:"),
    ({"g.pcfg": "S -> 'a' [1.0]\nS => 'b'\n"}, ["sample", "g.pcfg", "-n", "1", "--seed", "0"], "cannot parse",
     "g.pcfg:2:"),
    ({"g.pcfg": "S -> 'a' B [1.0]\n"}, ["sample", "g.pcfg", "-n", "1", "--seed", "0"], "has no rules",
     "g.pcfg:1:"),
    ({"g.pcfg": "S -> 'a' [0.5] | [0.5]\n"}, ["sample", "g.pcfg", "-n", "1", "--seed", "0"], "empty right-hand",
     "g.pcfg:1:"),
    ({}, ["sample", "missing.pcfg", "-n", "1", "--seed", "0"], "no such grammar file", "missing.pcfg:"),
    ({"g.pcfg": GOOD}, ["check", "g.pcfg", "missing.jsonl"], "no such file", "missing.jsonl:"),
    ({"g.pcfg": GOOD, "in.jsonl": EXAMPLE + "\n{broken\n"}, ["check", "g.pcfg", "in.jsonl"], "not valid JSON",
     "in.jsonl:2:"),
    ({"g.pcfg": GOOD, "in.jsonl": PAIR + "\n"}, ["pairs", "g.pcfg", "in.jsonl", "--seed", "0"],
     "record of kind 'pair' has no string field 'text'", "in.jsonl:1:"),
    ({"g.pcfg": GOOD, "in.jsonl": "a b\n" + EXAMPLE + "\n"}, ["pairs", "g.pcfg", "in.jsonl", "--seed", "0"],
     "not of g", "in.jsonl:2:"),
    ({"g.pcfg": GOOD, "in.txt": "b a\nb b\n"}, ["pairs", "g.pcfg", "in.txt", "--seed", "0"], "no minimal pairs",
     "in.txt:"),
    ({"g.pcfg": GOOD, "in.txt": b"a b\n\xfe\n"}, ["check", "g.pcfg", "in.txt"], "not UTF-8",
     "in.txt:"),  # records.iter_lines reports line 1 here (decoding is buffered): reported to its owner
    ({"f.pcfg": FINITE}, ["sample", "f.pcfg", "-n", "5", "--seed", "0", "--distinct"], "only 4 distinct strings",
     "f.pcfg:"),
    ({"f.pcfg": FINITE}, ["sample", "f.pcfg", "-n", "3", "--test", "2", "--test-out", "t.jsonl", "--seed", "0"],
     "only 4 distinct strings", "f.pcfg:"),
    ({"g.pcfg": GOOD}, ["sample", "g.pcfg", "-n", "3", "--seed", "0", "--max-len", "1"], "no string of at most 1",
     "g.pcfg:"),
    ({"g.pcfg": GOOD}, ["sample", "g.pcfg", "-n", "3", "--seed", "0", "--split", "dev"], "--split must be", None),
    ({"g.pcfg": GOOD}, ["sample", "g.pcfg", "-n", "3", "--seed", "0", "--test", "2"], "go together", None),
    ({"g.pcfg": GOOD}, ["instantiate", "g.pcfg", "--seed", "0", "--avoid", "nope.pcfg"], "no such grammar file",
     "nope.pcfg:"),
    ({}, ["random", "--family", "tree", "--seed", "0"], "unknown grammar family", None),
    ({}, ["random", "--family", "regular", "--depth", "3", "--seed", "0"], "cfg family only", None),
    ({"g.pcfg": GOOD, "in.txt": "a b\n"}, ["pairs", "g.pcfg", "in.txt", "--seed", "0", "--perturbation", "flip"],
     "unknown perturbation", None),
]


@pytest.mark.parametrize("files, args, message, where", BAD, ids=[f"{i:02d}-{c[2][:24]}" for i, c in enumerate(BAD)])
def test_bad_input(run_cli, tmp_path, monkeypatch, files, args, message, where):
    monkeypatch.chdir(tmp_path)
    for name, content in files.items():
        _write(tmp_path / name, content)
    if "in.txt" in args and "in.txt" not in files:
        _write(tmp_path / "in.txt", "a\n")
    before = set(tmp_path.iterdir())
    r = run_cli("grammar", *args, *(["-o", "out.file"] if args[0] != "info" else []))
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2, r.output
    assert len(lines) == 1 and lines[0].startswith("metaex: error: ") and message in lines[0], lines
    if where is not None:
        assert lines[0].startswith(f"metaex: error: {where}"), lines[0]
    assert "Traceback" not in r.output and r.stdout == ""
    assert set(tmp_path.iterdir()) == before  # no output file, no temp file


def test_grammar_commands_never_import_torch(run_subprocess, grammars_dir, tmp_path):
    import subprocess
    import sys

    code = ("import sys\nfrom metaex.cli.main import main\nsys.argv = ['metaex'] + sys.argv[1:]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n")
    g = grammars_dir / "agreement.pcfg"
    for args in (["grammar", "sample", g, "-n", "5", "--seed", "1", "-o", tmp_path / "s.jsonl"],
                 ["grammar", "pairs", g, tmp_path / "s.jsonl", "--seed", "1"],
                 ["grammar", "info", g]):
        r = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                           timeout=120)
        assert r.stderr.strip().endswith("NO-TORCH"), r.stderr
