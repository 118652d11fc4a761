"""The contested design's extra documents (issue 31): `told` tells every grammar, `told-worked` carries contested
strings of the told variant in its explanation documents, `contested-N` adds N of them as example documents.

A grammar's contested strings are taken in one seeded order (`ladder_order`): a string's place depends only on
the seed, the grammar and the string itself, so the first N are the same whatever files (or file order) hold
them, `contested-2`'s strings are among `contested-8`'s, and `told-worked` with W strings per grammar carries
exactly `contested-W`'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from metaex.core import formats
from metaex.core.errors import InputError
from metaex.core.mix.build import Doc
from metaex.core.mix.inputs import Source, StudyGrammar

Strings = dict[str, list[tuple[str, Source]]]   # grammar name -> (string, where it was read)


def ladder_order(strings: Sequence[tuple[str, Source]], name: str, seed: int) -> list[tuple[str, Source]]:
    """The grammar's contested strings in the seeded order every contested condition takes them in."""
    def key(item: tuple[str, Source]) -> bytes:
        return hashlib.sha256(f"metaex-mix:{seed}:contested:{name}:{item[0]}".encode()).digest()

    return sorted(strings, key=key)


def first_strings(contested: Strings, grammars: Sequence[StudyGrammar], n: int, seed: int, condition: str,
                  flag: str) -> Strings:
    """The first `n` contested strings (`ladder_order`) of every grammar; too few is an InputError naming `flag`
    (the option that set `n`)."""
    out = {}
    for g in grammars:
        have = contested.get(g.name, [])
        if len(have) < n:
            first = have[0][1] if have else None
            raise InputError(f"condition {condition!r} needs {n} contested strings of {g.name} ({flag}), the "
                             f"--contested files hold {len(have)}", first.path if first else None)
        out[g.name] = ladder_order(have, g.name, seed)[:n]
    return out


def ladder_docs(picked: Strings) -> list[Doc]:
    """`contested-N`'s extra documents: each picked string as a plain example document of its grammar."""
    return [Doc("example", name, formats.example_doc(name, text), src, contested=True)
            for name, strings in picked.items() for text, src in strings]

