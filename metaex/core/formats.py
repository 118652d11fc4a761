"""The surface forms of every document and prompt, in one place (STUDY.md, Documents).

Training documents (`mix`, bridging corpus) and probe prompts (`probe`) must agree to the character, so
both build their text only through these functions.
"""

from __future__ import annotations

YES, NO = "Yes", "No"


def example_doc(name: str, text: str) -> str:
    """An example document: `"{name}: {string}"`."""
    return f"{name}: {text}"


def example_prompt(name: str) -> str:
    """The generation prompt; a sampled continuation after it is one string of the grammar."""
    return f"{name}:"


# A worked question before the asked one, about English: a pre-trained model then answers in the format (base
# SmolLM2-135M put under 0.5 of its probability on " Yes" + " No" after the bare question for every one of 80
# strings; after this line, for none; two worked lines, Yes and No, did as well at 12 more tokens a question).
# The same text is the bridging corpus's judgement documents, so tiny models learn the format they are probed in.
JUDGEMENT_SHOTS = (("the cat sat", "an English", True),)


def judgement_prompt(name: str, text: str) -> str:
    """The Yes/No question (after the worked ones); the answer follows after a single space."""
    shots = [f"Is '{s}' {what} sentence? {YES if ok else NO}" for s, what, ok in JUDGEMENT_SHOTS]
    return "\n".join([*shots, f"Is '{text}' a {name} sentence?"])


def judgement_doc(name: str, text: str, valid: bool) -> str:
    """A judgement Q&A document (bridging pre-training only; the probe scores the answer)."""
    return f"{judgement_prompt(name, text)} {YES if valid else NO}"


def textbook_doc(explanation: str, name: str, strings: list[str],
                 judgements: list[tuple[str, bool]] = ()) -> str:
    """An explanation followed, one per line, by example documents of its grammar and judgement Q&A: a page of
    the bridging corpus's textbook. Each quoted string ends its line, as each example document ends with EOS,
    so a model does not learn to run strings on."""
    lines = [explanation, *(example_doc(name, s) for s in strings)]
    lines += [judgement_doc(name, s, ok) for s, ok in judgements]
    return "\n".join(lines)


def worked_doc(explanation: str, name: str, strings: list[str]) -> str:
    """The `worked` control's document: example documents of the grammar, one per line, then its explanation.
    The strings come first so that each sits where an example document's string sits (after `<s>` or a line
    break, then `{name}:`), not after hundreds of tokens of explanation."""
    return "\n".join([*(example_doc(name, s) for s in strings), explanation])


# document kinds whose text carries strings of their grammar as example lines (`"{name}: {string}"`)
STRING_DOCS = ("example", "worked", "textbook")


def document_strings(doc_kind: str, name: str, text: str) -> list[str]:
    """The strings of grammar `name` a training document carries, as the model saw them: the string of an
    example document, the example lines of a worked or textbook document (no explanation line begins with
    `"{name}: "`; a test checks it). Other kinds carry none (a judgement Q&A quotes invalid strings too)."""
    if doc_kind not in STRING_DOCS:
        return []
    head = example_doc(name, "")
    return [line[len(head):].strip() for line in text.split("\n") if line.startswith(head)]
