"""The post made safe to show: sanitised, findings marked in place (gateway/console/render.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.console.render import marks_for, render_html, render_text


def finding(
    field: str, start: int, end: int, rule: str = "r1", action: str = "review"
) -> dict[str, Any]:
    return {
        "field": field,
        "start": start,
        "end": end,
        "rule": rule,
        "category": "financial",
        "action": action,
        "text": "",
    }


def span_of(source: str, needle: str) -> tuple[int, int]:
    start = source.index(needle)
    return start, start + len(needle)


# (source HTML, the text the finding covers, the text that must end up inside the mark)
MARK_CASES = [
    ("<p>华东分公司前三季度营收同比增长23%。</p>", "营收同比增长23%", "营收同比增长23%"),
    ("<p>董事长<strong>王建国</strong>出席。</p>", "王建国", "王建国"),
    ("<p>营收&amp;利润</p>", "营收&amp;利润", "营收&amp;利润"),
    ("<p>一句<em>跨越</em>标签的话</p>", "一句<em>跨越</em>标签", "一句"),  # reopened after <em>
    ("纯文本里的绝密文件", "绝密", "绝密"),
    ("<p>标题</p><p>第二段有内幕消息。</p>", "内幕消息", "内幕消息"),
]


@pytest.mark.parametrize(("source", "covered", "inside"), MARK_CASES)
def test_findings_are_marked_in_place(source: str, covered: str, inside: str) -> None:
    start, end = span_of(source, covered)
    out = str(render_html(source, [finding("content", start, end, rule="rule-x")]).html)
    marked = re.findall(r'<mark class="finding[^"]*" data-rule="rule-x"[^>]*>(.*?)</mark>', out)
    assert marked, out
    assert inside in "".join(marked)
    # the marks are balanced and never wrap a tag
    assert out.count("<mark") == out.count("</mark>")


def test_a_mark_that_crosses_a_tag_is_split_not_broken() -> None:
    source = "<p>一句<em>跨越</em>标签的话</p>"
    start, end = span_of(source, "一句<em>跨越</em>标签")
    out = str(render_html(source, [finding("content", start, end)]).html)
    assert "<em>" in out and "</em>" in out
    assert re.sub(r"</?mark[^>]*>", "", out) == "<p>一句<em>跨越</em>标签的话</p>"


def test_overlapping_findings_merge_into_one_mark_naming_both_rules() -> None:
    source = "<p>前三季度营收同比增长</p>"
    a = span_of(source, "前三季度营收")
    b = span_of(source, "营收同比增长")
    out = str(
        render_html(
            source,
            [
                finding("content", *a, rule="a", action="review"),
                finding("content", *b, rule="b", action="block"),
            ],
        ).html
    )
    assert out.count("<mark") == 1
    assert 'data-rule="a b"' in out
    assert "finding-block" in out


def test_findings_of_other_fields_and_bad_spans_are_ignored() -> None:
    source = "<p>正文</p>"
    findings = [finding("title", 0, 2), finding("content", 50, 60), {"field": "content"}]
    out = str(render_html(source, findings).html)
    assert "<mark" not in out


# Payloads that must render inert: no script element, no event handler, no javascript: URL.
XSS_CASES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">点我</a>',
    '<a href="JaVaScRiPt:alert(1)">点我</a>',
    '<a href="&#106;avascript:alert(1)">点我</a>',
    '<a href=" javascript:alert(1)">点我</a>',
    "<svg onload=alert(1)></svg>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<p style="background:url(javascript:alert(1))">样式</p>',
    "<body onload=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<form action="javascript:alert(1)"><button>提交</button></form>',
    '<object data="javascript:alert(1)"></object>',
    '<a href="data:text/html,<script>alert(1)</script>">数据</a>',
    '"><script>alert(1)</script>',
    "<scr<script>ipt>alert(1)</script>",
    '<img src="image:0" onerror="alert(1)">',
    "<!--<script>alert(1)</script>-->",
]


def _assert_inert(out: str) -> None:
    lowered = out.lower()
    assert "<script" not in lowered
    assert "javascript:" not in lowered
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", lowered), out
    assert "<iframe" not in lowered and "<svg" not in lowered and "<object" not in lowered
    assert "style=" not in lowered
    assert "data:text" not in lowered


@pytest.mark.parametrize("payload", XSS_CASES)
def test_hostile_html_renders_inert(payload: str) -> None:
    rendered = render_html(f"<p>正文</p>{payload}<p>结尾</p>", images=[("image/png", b"\x89PNG")])
    _assert_inert(str(rendered.html))
    _assert_inert(str(rendered.text))


@pytest.mark.parametrize("payload", XSS_CASES)
def test_hostile_html_with_a_finding_inside_still_renders_inert(payload: str) -> None:
    source = f"<p>营收{payload}利润</p>"
    start, end = span_of(source, "营收")
    end = len(source) - len("</p>")
    out = str(render_html(source, [finding("content", start, end)]).html)
    _assert_inert(out)
    assert out.count("<mark") == out.count("</mark>")


def test_private_use_characters_in_the_post_cannot_forge_marks() -> None:
    source = "<p>\ue000伪造\uf8ff</p>"
    out = str(render_html(source).html)
    assert "<mark" not in out


def test_image_references_become_data_urls_and_outside_images_are_dropped() -> None:
    out = str(
        render_html(
            '<p><img src="image:0" alt="图"><img src="https://tracker.example/x.png">'
            '<img src="image:7"></p>',
            images=[("image/png", b"\x89PNG\r\n")],
        ).html
    )
    assert out.count("<img") == 1
    assert 'src="data:image/png;base64,' in out


def test_links_keep_http_and_get_rel() -> None:
    out = str(render_html('<p><a href="https://example.com/a?b=1&c=2">链接</a></p>').html)
    assert 'href="https://example.com/a?b=1&amp;c=2"' in out
    assert 'rel="noopener noreferrer nofollow"' in out


def test_text_view_keeps_marks_and_drops_tags() -> None:
    source = "<p>第一段</p><p>营收增长</p>"
    start, end = span_of(source, "营收")
    text = str(render_html(source, [finding("content", start, end)]).text)
    assert "<p>" not in text
    assert "第一段\n" in text
    assert re.search(r"<mark [^>]*>营收</mark>增长", text), text


@pytest.mark.parametrize(
    ("title", "needle"),
    [
        ("<script>alert(1)</script>营收", "营收"),
        ('"><img src=x onerror=alert(1)>利润', "利润"),
        ("普通标题", "标题"),
    ],
)
def test_plain_fields_are_escaped_and_marked(title: str, needle: str) -> None:
    start, end = span_of(title, needle)
    out = str(render_text(title, [finding("title", start, end)]))
    assert "<script" not in out and "<img" not in out
    assert f">{needle}</mark>" in out


def test_marks_for_clamps_and_orders() -> None:
    marks = marks_for([finding("content", 5, 99), finding("content", -3, 2)], "content", 10)
    assert [(m.start, m.end) for m in marks] == [(0, 2), (5, 10)]


@pytest.mark.parametrize(
    ("source", "start", "end", "inside"),
    [
        ("<p title=x>营收增长</p>", 2, 15, "营收增长"),  # opens inside a tag: moved after it
        ("<p>营收&amp;利润</p>", 3, 7, "营收&amp;"),  # ends inside a reference: widened over it
        ("<p>营收</p><p>利润</p>", 3, 10, "营收"),  # ends inside the next tag: closed before it
    ],
)
def test_marks_never_land_inside_tags_or_references(
    source: str, start: int, end: int, inside: str
) -> None:
    out = str(render_html(source, [finding("content", start, end)]).html)
    marked = "".join(m for _, m in re.findall(r"<mark ([^>]*)>(.*?)</mark>", out))
    assert marked.startswith(inside), out
    assert re.sub(r"</?mark[^>]*>", "", out) == source.replace(" title=x", "")
