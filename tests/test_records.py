"""Record contracts: validation on read, atomic writes, one-line errors from the CLI."""

from __future__ import annotations

import json
import os

import pytest

from metaex.core import files, records
from metaex.core.errors import InputError


def test_roundtrip_is_byte_identical(tmp_path):
    recs = [records.make("example", text="ka fo", grammar="Vemo", grammar_hash="abc", seed=1, split="train")]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    records.write(a, recs)
    records.write(b, list(records.read(a, "example")))
    assert a.read_bytes() == b.read_bytes()
    assert json.loads(a.read_text())["schema"] == "metaex/example@1"


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "not valid JSON"),
        ('{"schema": "metaex/pair@1", "kind": "pair"}', "of kind 'pair' where 'example'"),
        ('{"schema": "metaex/example@9", "kind": "example"}', "unknown schema"),
        ('{"schema": "metaex/example@1", "kind": "example", "text": 3, "grammar": "g", "grammar_hash": "h",'
         ' "seed": 1, "split": "train"}', "field 'text' should be str"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    good = records.dumps(records.make("example", text="a", grammar="g", grammar_hash="h", seed=0, split="train"))
    path = tmp_path / "in.jsonl"
    path.write_text(good + "\n\n" + line + "\n")
    with pytest.raises(InputError) as err:
        list(records.read(path, "example"))
    assert str(err.value).startswith(f"{path}:3: ")
    assert message in str(err.value)


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError):
        with records.atomic_output(out) as fh:
            fh.write("partial\n")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(records.read(tmp_path / "nope.jsonl", "example"))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="empty input"):
        records.read_all(tmp_path / "empty.jsonl", "example")


def test_help_is_fast_and_light(run_subprocess):
    import subprocess
    import sys
    import time

    # light: the CLI starts without torch, nltk, transformers or numpy (its speed is a benchmark's business)
    code = ("import sys; from metaex.cli.main import app; "
            "print(sorted(m for m in ('torch','nltk','transformers','numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    result = run_subprocess("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    t0 = time.perf_counter()
    run_subprocess("--version")
    assert time.perf_counter() - t0 < 3  # whole interpreter start; the import itself is checked above


def test_undecodable_bytes_name_their_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"a": 1}\n' * 3 + b"\xff\xfe\n")
    with pytest.raises(InputError, match=rf"^{path}:4: not UTF-8"):
        list(records.iter_lines(path))


def test_outputs_get_the_users_umask_and_no_temps_stay(tmp_path):
    import stat

    from metaex.core import files, records

    old = os.umask(0o022)
    try:
        records.write(tmp_path / "a.jsonl", [records.make("train_metric", step=1)])
        with files.atomic_dir(tmp_path / "folder") as d:
            (d / "inner").mkdir()
            (d / "inner" / "x.txt").write_text("x")
        os.umask(0o077)
        records.write(tmp_path / "b.jsonl", [records.make("train_metric", step=1)])
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "a.jsonl") == 0o644 and mode(tmp_path / "b.jsonl") == 0o600
    assert mode(tmp_path / "folder") == 0o755 and mode(tmp_path / "folder" / "inner") == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl", "folder"]


def test_temps_of_dead_writers_are_removed_on_the_next_write(tmp_path):
    import subprocess
    import sys

    from metaex.core import records

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".out.jsonl.{dead}.abcd1234.tmp"
    stale.write_text("half a file")
    mine = tmp_path / f".out.jsonl.{os.getpid()}.efgh5678.tmp"   # a live writer's temp is left alone
    mine.write_text("being written")
    # a writer on another machine sharing the folder (a cluster's filesystem): its pid means nothing here
    remote = tmp_path / f".out.jsonl.{dead}@another-node.ijkl9012.tmp"
    remote.write_text("being written elsewhere")
    dead_here = tmp_path / f".out.jsonl.{dead}@{files._HOST}.mnop3456.tmp"   # this host's: judged by its pid
    dead_here.write_text("half a file")
    records.write(tmp_path / "out.jsonl", [records.make("train_metric", step=1)])
    assert not stale.exists() and not dead_here.exists() and mine.exists() and remote.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.jsonl", mine.name, remote.name])
    # a caller holding the lock of all that is written there (a study cell's) knows the other host's writer is dead
    assert files.clean_folder(tmp_path, any_host=True) == [remote] and mine.exists()


@pytest.mark.parametrize("make", ["mkstemp", "mkdtemp"])
def test_a_new_folder_removed_while_still_empty_is_made_again(tmp_path, monkeypatch, make):
    """Two shards of a study start on one new folder: one makes it to write its marker, the other's output check
    finds it empty (as a kill before its first file leaves it) and removes it, between the first one's mkdir and
    its temp. The write makes the folder again (seen once in `make study`: a shard died with ENOENT on its temp)."""
    from metaex.core import markers

    root = tmp_path / "study"
    real = getattr(files.tempfile, make)
    raced = []

    def racing(*args, **kwargs):
        if not raced:
            raced.append(True)
            files._check_own(root, root, "study")   # the other shard's check, in the window
            assert not root.exists()
        return real(*args, **kwargs)

    monkeypatch.setattr(files.tempfile, make, racing)
    if make == "mkstemp":
        markers.write_marker(root, "study")
        assert markers.folder_kind(root) == "study"
    else:
        with files.atomic_dir(root / "report") as tmp:
            (tmp / "report.md").write_text("# metaex report\n")
        assert (root / "report" / "report.md").is_file()
    assert raced and [p.name for p in root.iterdir() if p.name.endswith(".tmp")] == []
