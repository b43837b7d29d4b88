"""HTML stripping keeps offsets into the HTML source."""

from __future__ import annotations

import pytest

from screening.html import looks_like_html, strip_html


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
