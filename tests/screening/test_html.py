"""HTML stripping keeps offsets into the HTML source."""

from __future__ import annotations

import html
import random

import pytest

from screening.html import _BLOCK_TAGS, _TOKEN_RE, looks_like_html, strip_html_map


def strip_html(source: str) -> tuple[str, list[int], list[int]]:
    """Plain text plus, per plain character, its ``[start, end)`` span in ``source``, one plain
    character at a time: the reference :func:`strip_html_map` is compared with (it was the run
    time's own code before it)."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _TOKEN_RE.finditer(source):
        # the text before the token, one plain character per source character
        out.append(source[pos : m.start()])
        starts.extend(range(pos, m.start()))
        ends.extend(range(pos + 1, m.start() + 1))
        tok = m.group()
        if tok.startswith("&"):
            decoded = html.unescape(tok)
            for c in decoded:
                out.append(c)
                starts.append(m.start())
                ends.append(m.end())
        elif m.group(2) and m.group(2).lower() in _BLOCK_TAGS:
            out.append("\n")
            starts.append(m.start())
            ends.append(m.start())
        pos = m.end()
    out.append(source[pos:])
    starts.extend(range(pos, len(source)))
    ends.extend(range(pos + 1, len(source) + 1))
    return "".join(out), starts, ends


@pytest.mark.parametrize(
    ("source", "plain"),
    [
        ("<p>你好</p><p>世界</p>", "\n你好\n\n世界\n"),
        ("a&amp;b &#23494; &#x5bc6;", "a&b 密 密"),
        ("<script>绝密</script>正文", "正文"),
        ("<!-- 绝密 -->正文", "正文"),
        ("<b>绝</b>密", "绝密"),
    ],
)
def test_strip(source: str, plain: str) -> None:
    text, starts, ends = strip_html(source)
    assert text == plain
    assert len(starts) == len(ends) == len(text)


def test_offsets_map_to_source() -> None:
    source = "<p>这是<b>绝&#23494;</b>文件</p>"
    text, starts, ends = strip_html(source)
    i = text.index("绝密")
    assert source[starts[i] : ends[i + 1]] == "绝&#23494;"


def test_looks_like_html() -> None:
    assert looks_like_html("<p>x</p>") and looks_like_html("a&amp;b")
    assert not looks_like_html("a < b and c > d")


_PIECES = ["<p>", "</p>", "<br/>", "&amp;", "&#20013;", "&#x4e2d;", "&bogus;", "<script>x</script>",
           "<!-- c -->", "<div class=a>", "中", "文", "a", " ", "\n", "<", ">", "&", "<style>",
           "</b>", "\ud800", "😀", "&#0;", "<!--"]  # fmt: skip


@pytest.mark.parametrize("seed", range(8))
def test_every_plain_character_maps_to_its_source(seed: int) -> None:
    # Text between tokens is copied in runs: each of its characters still maps to exactly
    # itself in the source; decoded references map to the whole reference; block tags to an
    # empty span at the tag.
    rng = random.Random(seed)
    for _ in range(300):
        source = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 40)))
        text, starts, ends = strip_html(source)
        assert len(starts) == len(ends) == len(text)
        assert starts == sorted(starts)
        for ch, a, b in zip(text, starts, ends, strict=True):
            if b == a + 1 and source[a] != "&":
                assert source[a] == ch
            elif b == a:
                assert ch == "\n" and source[a] == "<"
            else:
                assert source[a] == "&" and html.unescape(source[a:b]) in (ch, source[a:b])


_MAP_CASES = [
    "",
    "纯文本",
    "<p>董事长王建国出席</p><p>颁奖仪式。</p>",
    "<P>大写</P><BR>换行<Br/>",
    "a&amp;b&lt;c&gt;&#23494;&#x5BC6;&#128512;",
    "&NotEqualTilde;两个字符",  # one reference, two characters
    "&bogus;&#0;&#x110000;&lt",
    "<script>绝密</script><style>x</style>正文<!-- 注释 -->尾",
    "<!-- 没有结束",
    "<div class='a'>\u200b零宽</div>\ud800",
    "< 不是标签 >",
    "<b>绝</b>密<i>文</i>件",
]


@pytest.mark.parametrize("source", _MAP_CASES)
def test_span_arrays_equal_the_character_loop(source: str) -> None:
    text, starts, ends = strip_html(source)
    got_text, got_starts, got_ends = strip_html_map(source)
    assert got_text == text
    assert got_starts.tolist() == starts
    assert got_ends.tolist() == ends


@pytest.mark.parametrize("seed", range(4))
def test_span_arrays_equal_the_character_loop_generated(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        source = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 40)))
        test_span_arrays_equal_the_character_loop(source)
