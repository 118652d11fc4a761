"""Every JSONL record type metaex reads or writes, validated on read, written atomically.

A record is a plain dict with `schema` ("metaex/<kind>@<version>") and `kind`. `KINDS` lists, per kind,
the fields it must carry and their types; extra fields are allowed (provenance, options). `-` is
stdin/stdout everywhere. Writers sort keys and use compact separators, so the same records always
give byte-identical files.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from metaex import __version__
from metaex.core import files
from metaex.core.errors import InputError

SCHEMA_VERSION = 1
SPLITS = ("train", "test", "pool")   # the `split` of an example record
_OPT = type(None)

# kind -> {field: accepted type(s)}. Shared provenance (grammar, grammar_hash, seed) is listed per kind.
KINDS: dict[str, dict[str, Any]] = {
    # a string of a grammar; split is "train", "test" or "pool"
    "example": {"text": str, "grammar": str, "grammar_hash": str, "seed": int, "split": str},
    # a verdict of the grammar's recognizer on a string
    "check": {"text": str, "valid": bool, "grammar": str, "grammar_hash": str},
    # a minimal pair: good in the language, bad not; perturbation: substitution|swap|delete|insert
    "pair": {"good": str, "bad": str, "perturbation": str, "grammar": str, "grammar_hash": str, "seed": int},
    # a contested pair: one derivation with the contested rule as variant a has it and as variant b has it;
    # told: which of the two variants the study's explanations tell ("a" or "b"); grammar_hash: the told variant's
    "contest_pair": {"a": str, "b": str, "told": str, "grammar": str, "grammar_hash": str, "seed": int},
    # a natural-language explanation of a grammar (no example strings in it)
    "explanation": {"text": str, "grammar": str, "grammar_hash": str, "style": str, "paraphrase": int,
                    "seed": int},
    # one training document (one record = one document = one attention window);
    # doc_kind: example|explanation|mismatched|filler|worked|qa|textbook
    "document": {"text": str, "doc_kind": str, "grammar": (str, _OPT), "seed": int},
    # one scored item of a probe (one row per item and model variant)
    "probe_item": {"metric": str, "grammar": str, "variant": str, "item": int, "value": (float, int, bool, _OPT)},
    # one metric of one grammar and model variant, aggregated over n items
    "probe_summary": {"metric": str, "grammar": str, "variant": str, "value": (float, int, _OPT), "n": int},
    # one logged training step
    "train_metric": {"step": int},
}


def schema_of(kind: str) -> str:
    return f"metaex/{kind}@{SCHEMA_VERSION}"


def make(kind: str, **fields: Any) -> dict:
    """A new record of `kind`; raises ValueError (a programming error) when a required field is missing."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}")
    rec = {"schema": schema_of(kind), "kind": kind, **fields}
    problem = _problem(rec, kind)
    if problem:
        raise ValueError(f"bad {kind} record: {problem}")
    return rec


def _problem(rec: Any, kind: str) -> str | None:
    if not isinstance(rec, dict):
        return f"expected a JSON object, got {type(rec).__name__}"
    for field, types in KINDS[kind].items():
        if field not in rec:
            return f"{kind} record lacks field {field!r}"
        value = rec[field]
        types = types if isinstance(types, tuple) else (types,)
        if isinstance(value, bool) and bool not in types:
            ok = False
        else:
            ok = isinstance(value, types) or (float in types and isinstance(value, int))
        if not ok:
            names = "/".join("null" if t is _OPT else t.__name__ for t in types)
            return f"field {field!r} should be {names}, got {json.dumps(value)[:40]}"
    return None


def check(rec: Any, kinds: Iterable[str], path: str, line: int) -> dict:
    """Validate one decoded record against the accepted kinds; InputError names path:line."""
    kinds = tuple(kinds)
    if not isinstance(rec, dict):
        raise InputError(f"expected a JSON object, got {type(rec).__name__}", path, line)
    kind = rec.get("kind")
    if kind not in kinds:
        want = " or ".join(repr(k) for k in kinds)
        raise InputError(f"record of kind {kind!r} where {want} was expected", path, line)
    schema = rec.get("schema")
    if schema != schema_of(kind):
        raise InputError(f"unknown schema {schema!r} (this metaex reads {schema_of(kind)!r})", path, line)
    problem = _problem(rec, kind)
    if problem:
        raise InputError(problem, path, line)
    return rec


BOM = "\ufeff"
_LINE_BOMS = re.compile("^\ufeff+", re.MULTILINE)


def without_boms(text: str) -> str:
    """`text` without the byte-order marks that start its lines: a BOM is no text, and files joined by `cat` carry
    one at the start of every part. Every text reader of metaex passes its text (or each line) through this."""
    return _LINE_BOMS.sub("", text)


def iter_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """(line number, line) of a text file or stdin, blank lines skipped, a byte-order mark starting a line dropped;
    bad UTF-8 is an InputError at its line."""
    name = "<stdin>" if str(path) == "-" else str(path)
    if str(path) == "-":
        fh = sys.stdin.buffer
    else:
        p = Path(path)
        if not p.exists():
            raise InputError("no such file", name)
        if p.is_dir():
            raise InputError("is a directory, expected a file", name)
        fh = open(p, "rb")
    try:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8").lstrip(BOM)   # a byte-order mark is not text, wherever a line starts
            except UnicodeDecodeError as err:
                raise InputError(f"not UTF-8 text ({err.reason})", name, lineno) from None
            if line.strip():
                yield lineno, line.rstrip("\r\n")
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def loads(text: str, name: str, lineno: int | None = None) -> Any:
    """Decoded JSON of one line (or document); bad JSON, or JSON nested past Python's recursion limit (which the
    decoder meets as a RecursionError), is an InputError naming name:line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        where = lineno if lineno is not None else err.lineno
        raise InputError(f"not valid JSON ({err.msg})", name, where) from None
    except RecursionError:
        raise InputError("JSON nested too deeply to read (arrays or objects thousands of levels deep)", name,
                         lineno) from None


def load_json(path: str | os.PathLike) -> Any:
    """A JSON document file (config, manifest): an InputError naming it when missing, not UTF-8 or not JSON."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a JSON file", str(path)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text ({err.reason})", str(path), data[: err.start].count(b"\n") + 1) from None
    return loads(without_boms(text), str(path))


def read(path: str | os.PathLike, kinds: Iterable[str] | str) -> Iterator[dict]:
    """Yield validated records of the given kind(s); any bad line raises InputError naming path:line."""
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    name = "<stdin>" if str(path) == "-" else str(path)
    for lineno, line in iter_lines(path):
        yield check(loads(line, name, lineno), kinds, name, lineno)


def read_all(path: str | os.PathLike, kinds: Iterable[str] | str, *, allow_empty: bool = False) -> list[dict]:
    recs = list(read(path, kinds))
    if not recs and not allow_empty:
        raise InputError("no records (empty input)", "<stdin>" if str(path) == "-" else str(path))
    return recs


def read_texts(path: str | os.PathLike) -> Iterator[tuple[str, int, str, dict | None]]:
    """Strings to check: JSONL records with a `text` field, or plain lines. Yields (file, line, text, record)."""
    name = "<stdin>" if str(path) == "-" else str(path)
    for lineno, line in iter_lines(path):
        stripped = line.strip()
        if stripped.startswith("{"):
            rec = loads(stripped, name, lineno)
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                raise InputError(f"record of kind {rec.get('kind')!r} has no string field 'text'", name, lineno)
            yield name, lineno, rec["text"], rec
        else:
            yield name, lineno, " ".join(stripped.split()), None


def dumps(rec: dict) -> str:
    return json.dumps(rec, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "w") -> Iterator[TextIO]:
    """Write a file atomically (`files.atomic_file`: a temp file beside it, renamed into place only if the block
    succeeds). `-` buffers everything and writes it to stdout at the end, so a failure prints no partial output."""
    if str(path) == "-":
        buf = io.StringIO()
        yield buf
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
        return
    with files.atomic_file(path, mode) as fh:
        yield fh


def write(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write records as JSONL atomically; returns how many were written."""
    n = 0
    with atomic_output(path) as fh:
        for rec in records:
            fh.write(dumps(rec) + "\n")
            n += 1
    return n


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """A JSON document (config, manifest), atomically, keys sorted, indented for people."""
    with atomic_output(path) as fh:
        fh.write(json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n")


def producer(command: str) -> str:
    """Provenance string stored in records: which command and version made them."""
    return f"metaex {command} {__version__}"
