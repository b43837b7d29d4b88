"""HTML to screenable text with an offset map back into the HTML source.

Tags are removed (block-level tags become a newline so words do not join across paragraphs),
``<script>``/``<style>`` bodies and comments are dropped, character references are decoded.
"""

from __future__ import annotations

import html
import logging
import re

import numpy as np

logger = logging.getLogger(__name__)

_TOKEN_RE = re.compile(
    r"<!--.*?(?:-->|$)|<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)|</?([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>"
    r"|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?",
    re.DOTALL | re.IGNORECASE,
)
_BLOCK_TAGS = frozenset(
    "p br div li ul ol tr td th table h1 h2 h3 h4 h5 h6 section article blockquote hr pre "  # noqa: SIM905
    "header footer figure figcaption".split()
)
_LOOKS_HTML_RE = re.compile(r"<[a-zA-Z/!][^>]*>|&#?[A-Za-z0-9]{2,8};")


def looks_like_html(text: str) -> bool:
    """Whether ``text`` contains a tag or a character reference."""
    return _LOOKS_HTML_RE.search(text) is not None


def strip_html_map(source: str) -> tuple[str, np.ndarray, np.ndarray]:
    """Plain text plus, per plain character, its ``[start, end)`` span in ``source``, as int64
    arrays built per run rather than per character (the tests compare it with a reference that
    goes one character at a time): the text between two tokens is one run whose characters map
    to themselves, a decoded reference or a block tag's newline one run whose characters share
    the token's span (an article is ~2,000 characters in ~100 runs)."""
    out: list[str] = []
    first: list[int] = []  # per run: its first character's start in the source
    first_end: list[int] = []  # and that character's end
    sizes: list[int] = []  # characters in the run
    copied: list[bool] = []  # each character its own source character (else the token's span)
    pos = 0
    for m in _TOKEN_RE.finditer(source):
        a, b = m.span()
        if a > pos:
            out.append(source[pos:a])
            first.append(pos)
            first_end.append(pos + 1)
            sizes.append(a - pos)
            copied.append(True)
        tok = m.group()
        if tok.startswith("&"):
            decoded = html.unescape(tok)
            if decoded:
                out.append(decoded)
                first.append(a)
                first_end.append(b)
                sizes.append(len(decoded))
                copied.append(False)
        elif (tag := m.group(2)) and tag.lower() in _BLOCK_TAGS:
            out.append("\n")
            first.append(a)
            first_end.append(a)
            sizes.append(1)
            copied.append(False)
        pos = b
    if len(source) > pos:
        out.append(source[pos:])
        first.append(pos)
        first_end.append(pos + 1)
        sizes.append(len(source) - pos)
        copied.append(True)
    size = np.array(sizes, dtype=np.int64)
    run = np.repeat(np.arange(len(sizes), dtype=np.int64), size)
    # position inside its run, for copied runs only (inserted characters share one span)
    step = np.arange(len(run), dtype=np.int64) - (np.cumsum(size) - size)[run]
    step *= np.array(copied, dtype=np.int64)[run]
    starts = np.array(first, dtype=np.int64)[run] + step
    ends = np.array(first_end, dtype=np.int64)[run] + step
    return "".join(out), starts, ends
