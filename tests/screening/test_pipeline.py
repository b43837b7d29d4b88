"""The pipeline end to end: fields, HTML offsets, bad input, hot reload, classifier stage."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from screening.findings import Finding
from screening.lexicon import Lexicon
from screening.pipeline import MAX_FIELD_CHARS, MAX_TOTAL_CHARS, Screener, TextTooLong


def test_result_shape(screener: Screener) -> None:
    result = screener.screen({"title": "绝密通知", "content": "正文"})
    body = result.to_json()
    assert body["decision"] == "block"
    f = body["findings"][0]
    assert set(f) == {
        "detector",
        "rule",
        "category",
        "severity",
        "action",
        "field",
        "start",
        "end",
        "text",
        "evidence",
    }
    assert (f["field"], f["start"], f["end"], f["text"]) == ("title", 0, 2, "绝密")
    assert f["evidence"]["lexicon"] == "state_secret_words"  # a heading: a marking, blocks


def test_html_offsets_are_in_the_original(screener: Screener) -> None:
    content = '<p class="x">这是<b>绝</b>&#23494;文件</p>'
    (f,) = [f for f in screener.screen({"content": content}).findings]
    assert content[f.start : f.end] == f.text == "绝</b>&#23494;"


def test_html_only_in_content(screener: Screener) -> None:
    title = "<b>标题</b>"
    assert screener.screen({"title": title}).decision == "pass"


def test_clean_post_passes(screener: Screener) -> None:
    post = {
        "title": "新版本发布",
        "digest": "功能更新",
        "content": "<p>我们发布了新版本。</p>",
        "author": "编辑部",
        "source": "本公司",
    }
    result = screener.screen(post)
    assert (result.decision, result.findings, result.required_roles) == ("pass", (), ())


_DEGENERATE = [
    "",
    "   ",
    "\n\n",
    "!!!???",
    "😀😀😀",
    "\x00\x01\x02",
    "\u200b" * 50,
    "\ud800\udfff",
    "<><><>",
    "&&&&;;",
]


@pytest.mark.parametrize("text", _DEGENERATE)
def test_degenerate_input(screener: Screener, text: str) -> None:
    assert screener.screen({"content": text}).decision == "pass"


def test_too_long(screener: Screener) -> None:
    with pytest.raises(TextTooLong) as info:
        screener.screen({"content": "a" * (MAX_FIELD_CHARS + 1)})
    assert info.value.limit == MAX_FIELD_CHARS and info.value.field == "content"
    with pytest.raises(TextTooLong):
        screener.screen({f"f{i}": "a" * MAX_FIELD_CHARS for i in range(3)})
    assert MAX_TOTAL_CHARS >= MAX_FIELD_CHARS


def test_not_a_string(screener: Screener) -> None:
    with pytest.raises(TypeError):
        screener.screen({"content": 42})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "text",
    [
        "说" * 40_000,
        "大麻" * 20_000,
        "营收1%" * 10_000,
        "绝密" * 20_000,
        "1" * 40_000,
        "a@" * 20_000,
        "法" + "\u202e" * 40_000,
        "<p>" * 10_000,
        "5月35日" * 8_000,
        "李明表示" * 10_000,
        "法lun功" * 8_000,
    ],
)
def test_pathological_input_is_bounded(screener: Screener, text: str) -> None:
    t0 = time.perf_counter()
    result = screener.screen({"content": text})
    assert time.perf_counter() - t0 < 10.0
    assert len(result.findings) <= 500


def test_with_lexicons_leaves_the_old_screener_alone(screener: Screener) -> None:
    extra = Lexicon.from_terms("admin", "unit_codes", ["蓝鲸工程"], action="block")
    new = screener.with_lexicons([extra])
    assert new.screen({"content": "蓝鲸工程启动"}).decision == "block"
    assert screener.screen({"content": "蓝鲸工程启动"}).decision == "pass"
    assert new.screen({"content": "星河计划"}).decision == "pass"  # extras are replaced
    assert new.screen({"content": "绝密"}).decision == "block"  # file lexicons kept


def test_with_lexicons_is_fast(screener: Screener) -> None:
    terms = [f"代号{i:05d}号" for i in range(2_000)]
    t0 = time.perf_counter()
    screener.with_lexicons([Lexicon.from_terms("admin", "unit_codes", terms, action="block")])
    assert time.perf_counter() - t0 < 1.0


COMPACTION_TEXTS = [
    "蓝鲸工程启动，星河计划暂停",
    "修炼falungong的人说法lun功和发轮功",
    "张建国主持会议，李明华出席",
    "蓝 鲸 工 程",
    "程工鲸蓝",
    "lanjing工程",
    "绝密文件：天枢项目预算",
    "普通的技术文章，没有任何问题。",
]


def test_compacted_screener_answers_exactly_like_the_split_one(screener: Screener) -> None:
    extra = Lexicon.from_terms("admin", "unit_codes", ["蓝鲸工程", "天枢项目"], action="block")
    split = screener.with_lexicons([extra])
    merged = split.compacted()
    assert (split.compact, merged.compact) == (False, True)
    assert merged.term_count == split.term_count
    assert merged.compacted() is merged
    for text in COMPACTION_TEXTS:
        assert merged.screen({"content": text}) == split.screen({"content": text}), text
    assert merged.screen({"content": "蓝鲸工程"}).decision == "block"
    # the next admin change starts from the file lexicons again, not from the merged set
    replaced = merged.with_lexicons([])
    assert replaced.screen({"content": "蓝鲸工程"}).decision == "pass"
    assert replaced.screen({"content": "绝密"}).decision == "block"


def test_a_screener_without_admin_lexicons_is_compact(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("# category: vulgar\n# action: block\n坏词语\n", "utf-8")
    s = Screener.from_directory(tmp_path)
    assert s.compact and s.compacted() is s


def test_new_category_without_rule(screener: Screener) -> None:
    review = Lexicon.from_terms("admin", "brand_new", ["紫荆项目"], action="review")
    result = screener.with_lexicons([review]).screen({"content": "紫荆项目"})
    assert (result.decision, result.required_roles) == ("review", ("brand_pr",))


def test_from_directory_defaults(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("# category: vulgar\n# action: block\n坏词语\n", "utf-8")
    s = Screener.from_directory(tmp_path)
    assert s.screen({"content": "一个坏词语"}).decision == "block"
    assert s.term_count == 1


class _StubClassifier:
    def scan(self, field: str, text: str) -> list[Finding]:
        i = text.find("讨厌")
        if i < 0:
            return []
        return [
            Finding(
                "classifier",
                "classifier:offensive",
                "classifier",
                "medium",
                "review",
                field,
                i,
                i + 2,
                text[i : i + 2],
                {"label": "offensive", "score": 0.9},
            )
        ]


def test_classifier_stage_offsets_mapped(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("# category: vulgar\n# action: block\n坏词语\n", "utf-8")
    s = Screener.from_directory(tmp_path, classifier=_StubClassifier())
    content = "<p>真\u200b讨厌</p>"
    (f,) = s.screen({"content": content}).findings
    got = (f.category, content[f.start : f.end], f.evidence["score"])
    assert got == ("classifier", "讨厌", 0.9)


def test_thread_safe(screener: Screener) -> None:
    texts = ["绝密文件", "法 轮 功", "营收3亿元", "正常内容", "李明表示：“好”"] * 20
    expected = [screener.screen({"content": t}).to_json() for t in texts]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda t: screener.screen({"content": t}).to_json(), texts))
    assert got == expected


def test_padding_does_not_hide_a_term(screener: Screener) -> None:
    text = "路口交通" * 5_000 + "傻逼"
    result = screener.screen({"content": text})
    assert result.decision == "block"
    assert any(f.text == "傻逼" for f in result.findings)
