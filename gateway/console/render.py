"""A post as it will look, made safe to show: sanitised HTML with the findings marked in place.

The post's HTML is the author's, so it is untrusted: it goes through the ``nh3`` allow-list
sanitiser (no ``<script>``, no event-handler attributes, no ``javascript:`` URLs) and is then
re-serialised by a strict writer that emits only allow-listed tags and attributes, so whatever
slipped past one stage meets the other. Findings carry character offsets into the original
field (for ``content``: into the HTML source, as :mod:`screening.html` maps them); the markers
that become ``<mark class="finding" data-rule="…">`` are placed at those offsets *before*
sanitising, as private-use characters, so the sanitiser never sees markup of ours and the marks
end up exactly around the text the screening found.
"""

from __future__ import annotations

import base64
import bisect
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from markupsafe import Markup

# Marker characters: U+E000 + i opens mark i, U+F8FF closes the open mark.
_OPEN_BASE = 0xE000
_MAX_MARKS = 0x1000
_CLOSE = "\uf8ff"
_PRIVATE_RE = re.compile("[\ue000-\uf8ff]")
# Spans of the source where a marker may not go: comments, tags, character references.
_TOKEN_RE = re.compile(
    r"<!--.*?(?:-->|$)|<[a-zA-Z/!][^>]*>?|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z0-9]{1,32});?",
    re.DOTALL,
)

TAGS = frozenset(
    "p br span strong b em i u s del ins h1 h2 h3 h4 h5 h6 blockquote ul ol li a img section "  # noqa: SIM905
    "figure figcaption table thead tbody tr td th hr pre code sub sup small".split()
)
VOID_TAGS = frozenset({"br", "hr", "img"})
ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
LINK_SCHEMES = ("http://", "https://", "mailto:")
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_IMAGE_REF_RE = re.compile(r"^image:(\d{1,3})$")
_BLOCK_TAGS = frozenset(
    "p br div li ul ol tr table h1 h2 h3 h4 h5 h6 section blockquote hr pre "  # noqa: SIM905
    "figure figcaption".split()
)


@dataclass(frozen=True, slots=True)
class Mark:
    """One highlighted span: where it is and why (merged when findings overlap)."""

    start: int
    end: int
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    action: str  # the strongest action among the merged findings: block > review > warn

    @property
    def rule(self) -> str:
        return " ".join(self.rules)

    @property
    def title(self) -> str:
        return "；".join(self.reasons)


_ACTION_RANK = {"block": 3, "require": 2, "review": 2, "warn": 1}


def _reason(finding: Mapping[str, Any]) -> str:
    category = str(finding.get("category", ""))
    rule = str(finding.get("rule", ""))
    action = str(finding.get("action", ""))
    return f"{category}/{rule}（{action}）" if action else f"{category}/{rule}"


def marks_for(findings: Sequence[Mapping[str, Any]], field_name: str, length: int) -> list[Mark]:
    """The findings of ``field_name`` as non-overlapping marks, in order (FINDING dicts)."""
    spans = []
    for f in findings:
        if f.get("field") != field_name:
            continue
        try:
            start, end = int(f["start"]), int(f["end"])
        except (KeyError, TypeError, ValueError):
            continue
        start, end = max(0, start), min(length, end)
        if start < end:
            spans.append((start, end, f))
    spans.sort(key=lambda s: (s[0], -s[1]))
    merged: list[tuple[int, int, list[Mapping[str, Any]]]] = []
    for start, end, f in spans:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), [*last[2], f])
        else:
            merged.append((start, end, [f]))
    marks = []
    for start, end, group in merged[:_MAX_MARKS]:
        rules = tuple(dict.fromkeys(str(f.get("rule", "")) for f in group))
        reasons = tuple(dict.fromkeys(_reason(f) for f in group))
        action = max(
            (str(f.get("action", "")) for f in group), key=lambda a: _ACTION_RANK.get(a, 0)
        )
        marks.append(Mark(start, end, rules, reasons, action))
    return marks


def _token_spans(source: str) -> list[tuple[int, int, bool]]:
    """(start, end, is a character reference) of every tag, comment and reference, in order."""
    return [(m.start(), m.end(), m.group().startswith("&")) for m in _TOKEN_RE.finditer(source)]


def _outside_tokens(spans: list[tuple[int, int, bool]], pos: int, *, opening: bool) -> int:
    """``pos`` moved out of any tag, comment or character reference it falls inside."""
    i = bisect.bisect_left(spans, (pos, pos, True)) - 1
    if i >= 0:
        start, end, entity = spans[i]
        if start < pos < end:
            if entity:
                return start if opening else end
            return end if opening else start
    return pos


def _with_markers(source: str, marks: Sequence[Mark]) -> str:
    text = _PRIVATE_RE.sub("\ufffd", source)  # one for one: the offsets still hold
    spans = _token_spans(text) if marks else []
    inserts: list[tuple[int, int, str]] = []
    for i, mark in enumerate(marks):
        start = _outside_tokens(spans, mark.start, opening=True)
        end = _outside_tokens(spans, mark.end, opening=False)
        end = max(start, end)  # a mark squeezed to nothing still shows where the finding was
        inserts.append((start, 1, chr(_OPEN_BASE + i)))
        inserts.append((end, 0, _CLOSE))
    out, pos = [], 0
    # closes before opens at the same offset, so adjacent marks do not nest
    for at, _, marker in sorted(inserts, key=lambda x: (x[0], x[1])):
        out.append(text[pos:at])
        out.append(marker)
        pos = at
    out.append(text[pos:])
    return "".join(out)


def _mark_open(mark: Mark) -> str:
    return (
        f'<mark class="finding finding-{html.escape(mark.action)}" '
        f'data-rule="{html.escape(mark.rule)}" title="{html.escape(mark.title)}">'
    )


class _Writer(HTMLParser):
    """Re-serialises sanitised HTML with an allow-list, turning markers into ``<mark>``s."""

    def __init__(self, marks: Sequence[Mark], images: Sequence[tuple[str, bytes]]) -> None:
        super().__init__(convert_charrefs=True)
        self.marks = marks
        self.images = images  # (content type, data) for ``src="image:N"``
        self.html_out: list[str] = []
        self.text_out: list[str] = []
        self.open_mark = -1

    def _around_tag(self, tag_html: str) -> None:
        """A tag inside an open mark: close the mark before it and open it again after."""
        if self.open_mark >= 0:
            self.html_out.extend(("</mark>", tag_html, _mark_open(self.marks[self.open_mark])))
        else:
            self.html_out.append(tag_html)

    def _switch_mark(self, index: int) -> None:
        if self.open_mark >= 0:
            self.html_out.append("</mark>")
            self.text_out.append("</mark>")
        self.open_mark = index
        if index >= 0:
            opening = _mark_open(self.marks[index])
            self.html_out.append(opening)
            self.text_out.append(opening)

    def _attr(self, tag: str, name: str, value: str) -> str | None:
        if name not in ATTRIBUTES.get(tag, ()):
            return None
        value = _PRIVATE_RE.sub("", value)
        if tag == "a" and name == "href":
            return value if value.strip().lower().startswith(LINK_SCHEMES) else None
        if tag == "img" and name == "src":
            ref = _IMAGE_REF_RE.match(value.strip())
            if ref:
                index = int(ref.group(1))
                if index < len(self.images) and self.images[index][0] in IMAGE_TYPES:
                    ctype, data = self.images[index]
                    return f"data:{ctype};base64,{base64.b64encode(data).decode()}"
            return None  # outside images are not fetched from the console (CSP says so too)
        return value

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.text_out.append("\n")
        if tag not in TAGS:
            return
        parts = [tag]
        for name, value in attrs:
            kept = self._attr(tag, name, value or "")
            if kept is not None:
                parts.append(f'{name}="{html.escape(kept, quote=True)}"')
        if tag == "a":
            parts.append('rel="noopener noreferrer nofollow"')
        if tag == "img" and not any(p.startswith("src=") for p in parts):
            return
        self._around_tag(f"<{' '.join(parts)}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.text_out.append("\n")
        if tag not in TAGS or tag in VOID_TAGS:
            return
        self._around_tag(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        pos = 0
        for i, ch in enumerate(data):
            code = ord(ch)
            if _OPEN_BASE <= code <= 0xF8FF:
                chunk = html.escape(data[pos:i], quote=False)
                self.html_out.append(chunk)
                self.text_out.append(chunk)
                pos = i + 1
                if ch == _CLOSE:
                    self._switch_mark(-1)
                elif code - _OPEN_BASE < len(self.marks):
                    self._switch_mark(code - _OPEN_BASE)
        chunk = html.escape(data[pos:], quote=False)
        self.html_out.append(chunk)
        self.text_out.append(chunk)

    def finish(self) -> tuple[str, str]:
        self.close()
        self._switch_mark(-1)
        return "".join(self.html_out), "".join(self.text_out)


def _sanitise(source: str) -> str:
    import nh3

    return nh3.clean(
        source,
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto", "image"},
        link_rel=None,
        strip_comments=True,
    )


@dataclass(frozen=True)
class Rendered:
    """One field made safe to show: HTML (for the article view) and marked plain text (Weibo)."""

    html: Markup
    text: Markup
    marks: tuple[Mark, ...]


def render_html(
    source: str,
    findings: Sequence[Mapping[str, Any]] = (),
    field_name: str = "content",
    images: Sequence[tuple[str, bytes]] = (),
) -> Rendered:
    """``source`` (untrusted HTML) sanitised, with the findings of ``field_name`` marked."""
    marks = marks_for(findings, field_name, len(source))
    writer = _Writer(marks=marks, images=images)
    writer.feed(_sanitise(_with_markers(source, marks)))
    out_html, out_text = writer.finish()
    lines = [re.sub(r"[ \t\r\f\v\u3000]+", " ", line).strip() for line in out_text.split("\n")]
    text = "\n".join(line for line in lines if line)
    return Rendered(Markup(out_html), Markup(text), tuple(marks))


def render_text(
    source: str, findings: Sequence[Mapping[str, Any]] = (), field_name: str = "title"
) -> Markup:
    """A plain-text field (title, digest, …) escaped, with its findings marked."""
    marks = marks_for(findings, field_name, len(source))
    out, pos = [], 0
    for mark in marks:
        out.append(html.escape(source[pos : mark.start], quote=False))
        out.append(_mark_open(mark))
        out.append(html.escape(source[mark.start : mark.end], quote=False))
        out.append("</mark>")
        pos = mark.end
    out.append(html.escape(source[pos:], quote=False))
    return Markup("".join(out))
