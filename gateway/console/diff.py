"""What changed between two versions of a submission, field by field, for people to read.

Computed on the server from the visible text of each field (the body's HTML reduced to its text,
as the approver reads it), character by character, because Chinese has no spaces to split words
on. The segments are plain strings; the template escapes them, so a hostile edit stays inert.
"""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass
from typing import Any, Literal

from gateway.console.render import render_html

Op = Literal["same", "added", "removed"]
FIELDS: tuple[tuple[str, str], ...] = (
    ("title", "标题"),
    ("digest", "摘要"),
    ("author", "作者"),
    ("source", "来源"),
    ("content", "正文"),
)
#: Above this many characters a field is compared line by line (bounded CPU on long bodies).
CHAR_DIFF_MAX = 20_000


@dataclass(frozen=True)
class Segment:
    op: Op
    text: str


@dataclass(frozen=True)
class FieldDiff:
    field: str
    label: str
    segments: tuple[Segment, ...]


def _visible(post: dict[str, Any], field: str) -> str:
    raw = str(post.get(field, "") or "")
    if field == "content":
        # the rendered text is escaped markup; the diff works on what a reader sees
        return html.unescape(str(render_html(raw, [], "content", []).text))
    return raw


def diff_text(old: str, new: str) -> tuple[Segment, ...]:
    """``old`` → ``new`` as same / removed / added segments, in reading order."""
    if len(old) + len(new) > CHAR_DIFF_MAX:
        a: list[str] | str = old.splitlines(keepends=True)
        b: list[str] | str = new.splitlines(keepends=True)
    else:
        a, b = old, new
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    out: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.append(Segment("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(Segment("removed", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(Segment("added", "".join(b[j1:j2])))
    return tuple(out)


def post_diff(old: dict[str, Any], new: dict[str, Any]) -> list[FieldDiff]:
    """The fields that differ between two stored posts (images compared by hash)."""
    changed: list[FieldDiff] = []
    for field, label in FIELDS:
        before, after = _visible(old, field), _visible(new, field)
        if before != after:
            changed.append(FieldDiff(field, label, diff_text(before, after)))
    if _image_hashes(old) != _image_hashes(new):
        changed.append(FieldDiff("images", "图片", (Segment("added", "图片有改动"),)))
    return changed


def _image_hashes(post: dict[str, Any]) -> tuple[str, ...]:
    images = [post.get("cover") or {}, *(post.get("images") or [])]
    return tuple(str(i.get("sha256", "")) for i in images if isinstance(i, dict))
