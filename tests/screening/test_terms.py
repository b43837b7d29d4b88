"""Precision of lexicon hits (issue #12): the classes of false positives found on clean prose,
and the evasions that must still be caught, table-driven against the default lexicons.

Each must-pass case is ordinary Chinese prose of a class that used to block; each evasion case
disguises a term and must still be found (at least review, a disguised political term blocks).
"""

from __future__ import annotations

import pytest

from screening.pipeline import Screener


def _actions(screener: Screener, text: str) -> dict[str, str]:
    """category → strongest action among the findings of ``text``."""
    rank = {"warn": 0, "review": 1, "block": 2}
    out: dict[str, str] = {}
    for f in screener.screen({"content": text}).findings:
        if rank[f.action] >= rank.get(out.get(f.category, "warn"), 0):
            out[f.category] = f.action
    return out


# Ordinary prose of every class issue #12 names: none of it may block or ask for a review.
ORDINARY = [
    # official vocabulary in its normal register
    "中国共产党第十五次全国代表大会在北京隆重开幕",  # 产党 inside 中国共产党
    "全国人大常委会副委员长出席会议",  # 人大常委
    "国家主席在人民大会堂会见外宾",
    "深入学习习近平新时代中国特色社会主义思想",  # 中国特色 was a vulgar term
    "集团党委召开理论学习中心组会议",
    "民政部发布通知",
    # ordinary words that the public lists held
    "日本新干线列车准时到达",
    "物理学家发现了新的玻色子",  # 色子 inside 玻色子
    "公司钛白粉销售稳步增长",
    # a match across a word boundary or sentence punctuation
    "他们是同性伴侣",  # 同性|伴侣 ≠ 性伴侣
    "2月7日，他出席了发布会",  # 日，他
    "1904年9月17日他被任命为教授",  # 17日|他
    "据维他奶全年财报显示",  # 维他奶 ≠ 他奶
    # kinship words
    "他妈妈来学校接他",
    "刚满两岁的孩子在妈妈的带领下种树",
    "我和姐姐从山上搬来干柴",
    # homophones that are ordinary words
    "国家疾控中心发布提示",
    # public documents and secrecy words in running prose
    "本办法（征求意见稿）现向社会公开征求意见",
    "绿色家庭、绿色学校、绿色社区",
    "身穿黑色连体紧身衣",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_prose_passes(screener: Screener, text: str) -> None:
    result = screener.screen({"content": text})
    assert result.decision == "pass", [(f.rule, f.text, f.action) for f in result.findings]


# Content in the official register that quotes a sensitive name: review at most, never block.
REVIEW_AT_MOST = [
    '坚决反对"台独"分裂活动',
    '同"法轮功"邪教组织的斗争取得重大胜利',
    "各级机关要严格保守国家秘密",  # a secrecy word in prose, not a marking
    "依法打击侵犯商业秘密的行为",
    "警方当场缴获海洛因5公斤",  # a drug named in crime news
    "他因吸食大麻被捕",
    "医生给他开了呋塞米",  # a drug's name, nothing offered
]


@pytest.mark.parametrize("text", REVIEW_AT_MOST)
def test_official_register_is_review_at_most(screener: Screener, text: str) -> None:
    assert screener.screen({"content": text}).decision != "block"


# Disguised terms are still caught: at least review, and a disguised political term blocks.
EVASIONS = [
    ("法lun功", "political_evasion", "block"),  # pinyin mixed with hanzi
    ("功轮法好", "political_evasion", "block"),  # reversed
    ("法 轮 功", "political_evasion", "block"),  # spaces inserted
    ("法、轮!功", "political_evasion", "block"),  # punctuation between every character
    ("刁近平", "political_evasion", "block"),  # look-alike of a leader's name
    ("星、河!计*划启动", "commercial_secret", "block"),  # 北、斗!项*目-style insertion
    ("傻@#￥%逼", "vulgar", "block"),
    ("傻傻逼逼", "vulgar", "block"),  # stuttered on both sides
    ("出售冰毒，联系微信", "violence_contraband", "block"),  # an advertisement
    ("【内部资料】请勿外传", "state_secret", "block"),  # a marking
    ("此件属绝密。", "state_secret", "block"),
    ("发仑功", "political", "review"),  # a homophone: a human decides
]


@pytest.mark.parametrize(("text", "category", "action"), EVASIONS)
def test_evasions_are_still_caught(
    screener: Screener, text: str, category: str, action: str
) -> None:
    assert _actions(screener, text).get(category) == action


def test_leader_names_only_warn_and_their_disguise_blocks(screener: Screener) -> None:
    typed = screener.screen({"content": "习近平总书记发表重要讲话"})
    assert typed.decision == "pass"
    assert [f.category for f in typed.findings] == ["state_leader"]
    assert screener.screen({"content": "习 近 平"}).decision == "block"


def test_a_finding_says_why_it_was_downgraded_or_escalated(screener: Screener) -> None:
    (f,) = [f for f in screener.screen({"content": "中国共产党"}).findings if f.text == "产党"]
    assert f.action == "warn"
    assert f.evidence["downgraded"] == "inside a longer word (jieba)"
    (g,) = screener.screen({"content": "法lun功"}).findings
    assert g.evidence["evasion"] == "pinyin mixed with hanzi"
