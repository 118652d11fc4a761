"""Tables and the report files: report.md, a self-contained report.html, report.json, written as one directory.

The whole report is built in a temporary directory beside REPORT_DIR and renamed into place at the end, so a
failure leaves no partial report (and an earlier report stays whole until the new one is complete).
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

from metaex.core.report.analysis import find, number

# (column title, stat, reference, what): what = "value" (estimate), "ci" (estimate [low, high]) or "p"
HEADLINE_COLUMNS = (
    ("explained", "level_explained", None, "value"), ("unexplained", "level_unexplained", None, "value"),
    ("Δ = E − U [95 % CI]", "delta", None, "ci"),
    ("Δ − Δ(examples) [95 % CI]", "did", "examples", "ci"), ("p", "did", "examples", "p"),
    ("E change vs examples", "change_explained", "examples", "ci"),
    ("U change vs examples", "change_unexplained", "examples", "ci"),
)
METRIC_COLUMNS = (("level", "level", None, "value"), ("Δ = E − U [95 % CI]", "delta", None, "ci"),
                  ("Δ − Δ(examples) [95 % CI]", "did", "examples", "ci"), ("p", "did", "examples", "p"))
FILLER_COLUMNS = (("Δ − Δ(filler) [95 % CI]", "did", "filler", "ci"), ("p", "did", "filler", "p"),
                  ("E change vs filler", "change_explained", "filler", "ci"),
                  ("U change vs filler", "change_unexplained", "filler", "ci"))


def table(rows: list[dict], metric: str, columns: tuple, keys: list[tuple[str, int, str]]) -> dict[str, list]:
    """{"header": [...], "rows": [[...], ...]}: a line per (arm, dose, condition) with at least one number."""
    header = ["arm", "dose", "condition", "seeds"] + [c[0] for c in columns]
    body = []
    for arm, dose, cond in keys:
        cells = find(rows, metric=metric, arm=arm, dose=dose, condition=cond)
        if not cells:
            continue
        line = [arm, str(dose), cond, str(max(r["n_seeds"] for r in cells))]
        for _, stat, ref, what in columns:
            got = [r for r in cells if r["stat"] == stat and r["reference"] == ref]
            if not got:
                line.append("–")
            elif what == "value":
                line.append(number(got[0]["estimate"], signed=False))
            elif what == "p":
                line.append("–" if math.isnan(got[0]["p_value"]) else f"{got[0]['p_value']:.3f}")
            else:
                r = got[0]
                line.append(f"{number(r['estimate'])} [{number(r['ci_low'])}, {number(r['ci_high'])}]")
        if any(cell != "–" for cell in line[4:]):
            body.append(line)
    return {"header": header, "rows": body}


def markdown_table(tab: dict[str, list]) -> str:
    lines = ["| " + " | ".join(tab["header"]) + " |", "|" + "---|" * len(tab["header"])]
    lines += ["| " + " | ".join(row) + " |" for row in tab["rows"]]
    return "\n".join(lines)


def html_table(tab: dict[str, list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in tab["header"])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in tab["rows"])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(blocks: list[tuple[str, Any]], folder: Path) -> tuple[str, str]:
    """(markdown, html) from blocks: ("h1"|"h2", text), ("p", markdown-ish text), ("list", [text]),
    ("table", table dict), ("figure", (file name, caption)). HTML embeds PNGs as base64 data URIs."""
    md, out = [], []
    for kind, content in blocks:
        if kind in ("h1", "h2"):
            md.append(("#" if kind == "h1" else "##") + " " + content)
            out.append(f"<{kind}>{html.escape(content)}</{kind}>")
        elif kind == "p":
            md.append(content)
            out.append(f"<p>{_inline(content)}</p>")
        elif kind == "list":
            md.append("\n".join(f"- {item}" for item in content))
            out.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in content) + "</ul>")
        elif kind == "table":
            md.append(markdown_table(content))
            out.append(html_table(content))
        else:
            name, caption = content
            data = base64.b64encode((folder / name).read_bytes()).decode("ascii")
            md.append(f"![{caption}]({name})\n\n*{caption}*")
            out.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                       f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;line-height:1.4}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
             "img{max-width:100%}figcaption{color:#555;font-size:13px}")
    page = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>metaex report</title>"
            f"<style>{style}</style></head><body>{''.join(out)}</body></html>\n")
    return "\n\n".join(md) + "\n", page


def _inline(text: str) -> str:
    """Markdown-ish inline text to HTML: escapes, `code` and **bold**."""
    parts = html.escape(text).split("`")
    text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    parts = text.split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def json_safe(obj: Any) -> Any:
    """NaN and infinities become null so report.json is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_texts(folder: Path, markdown: str, page: str, report: dict) -> None:
    (folder / "report.md").write_text(markdown, encoding="utf-8")
    (folder / "report.html").write_text(page, encoding="utf-8")
    (folder / "report.json").write_text(json.dumps(json_safe(report), indent=1, sort_keys=True,
                                                   ensure_ascii=False) + "\n", encoding="utf-8")
