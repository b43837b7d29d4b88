"""Financial amounts, date arithmetic, persons and combination rules."""

from __future__ import annotations

import pytest

from screening.persons import RosterEntry
from screening.pipeline import Screener


def _by(screener: Screener, text: str, category: str) -> list[str]:
    return [f.text for f in screener.screen({"content": text}).findings if f.category == category]


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("公司营收达到3.5亿元", ["3.5亿元"]),
        ("净利润同比增长20%", ["20%"]),
        ("毛利率为35.2%，较去年提升2个百分点", ["35.2%", "2个百分点"]),
        ("实现营业收入一百二十亿元", ["一百二十亿元"]),
        ("亏损扩大至5000万元", ["5000万元"]),
    ],
)
def test_financial_amount_near_term(screener: Screener, text: str, amounts: list[str]) -> None:
    assert _by(screener, text, "financial") == amounts


@pytest.mark.parametrize(
    "text", ["会议室可容纳50人", "我们有3.5亿用户", "下载量增长了20%", "营收数据见附件"]
)
def test_financial_needs_both(screener: Screener, text: str) -> None:
    assert _by(screener, text, "financial") == []


def test_financial_requires_leader_and_pr(screener: Screener) -> None:
    result = screener.screen({"content": "2025年营收358亿元"})
    assert result.decision == "review"
    assert set(result.required_roles) == {"leader", "brand_pr"}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("5月35日", True),
        ("四月六十五日", True),
        ("6月4日", False),
        ("5月31日", False),
        ("2月30日", False),
        ("13月1日", False),
    ],
)
def test_date_arithmetic(screener: Screener, text: str, found: bool) -> None:
    assert bool(_by(screener, text, "political")) is found


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("董事长张建国出席", ["张建国"]),
        ("张 建 国出席", ["张 建 国"]),
        ("張建國出席", ["張建國"]),
        ("监事王秀英指出", ["王秀英"]),
        ("欧阳总致辞", ["欧阳总"]),
    ],
)
def test_roster(screener: Screener, text: str, names: list[str]) -> None:
    assert _by(screener, text, "executive") == names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("专家李明表示：“很好”", ["李明"]),
        ("分析师王小波说，前景很好", ["王小波"]),
        ("Linus Torvalds 表示这很好", ["Linus Torvalds"]),
        ("张建国表示欢迎", []),  # on the roster: executive, not outsider
        ("这部小说很好看，说明书在这里", []),
        ("该产品名称为星光", []),
    ],
)
def test_outsider_quotes(screener: Screener, text: str, names: list[str]) -> None:
    assert _by(screener, text, "outsider_quote") == names


def test_roster_from_mapping() -> None:
    entry = RosterEntry.from_mapping({"name": "李四", "title": "supervisor", "aliases": ["李监"]})
    assert entry == RosterEntry("李四", "supervisor", ("李监",))
    assert entry.names == ("李四", "李监")


def test_consultation_drafts(screener: Screener) -> None:
    # issue #12: a public consultation draft (征求意见稿) is not a secret; an internal one is,
    # where it stands as a marking, and is reviewed when running prose mentions it
    assert _by(screener, "本文件为征求意见稿", "commercial_secret") == []
    assert _by(screener, "【内部征求意见稿】", "commercial_secret") == ["内部征求意见稿"]
    assert screener.screen({"content": "【内部征求意见稿】"}).decision == "block"
    assert screener.screen({"content": "他提到了内部征求意见稿的修改"}).decision == "review"
