"""Contact evasion: a misspelled or abbreviated messaging app followed by an id is reviewed as
advertising; app names in ordinary prose are not. The positive cases all passed unnoticed
before the contact detector (the PII rule knew 微信/威信/薇信/vx/wx/扣扣 with a plain id only)."""

from __future__ import annotations

import pytest

from screening.decision import DEFAULT_RULES
from screening.detectors.contact import normalised_id, plausible_id
from screening.pipeline import Screener

CAUGHT = [  # (text, span that must be an advertising review finding, normalised id)
    ("有事加徽信：lin_2024x详聊", "徽信：lin_2024x", "lin_2024x"),
    ("扣扣：一二三四五六七八", "扣扣：一二三四五六七八", "12345678"),
    ("球球 12345678 备注来意", "球球 12345678", "12345678"),
    ("抠抠号 1234 5678 9", "抠抠号 1234 5678 9", "123456789"),
    ("V信号 abc-2024", "V信号 abc-2024", "abc-2024"),
    ("纸飞机 @zz_bird77", "纸飞机 @zz_bird77", "zz_bird77"),
    ("电报：yun_88_shop", "电报：yun_88_shop", "yun_88_shop"),
    ("TG: zx_9981", "TG: zx_9981", "zx_9981"),
    ("ｔｇ：ｑｗ２０２４ａ", "ｔｇ：ｑｗ２０２４ａ", "qw2024a"),
    ("绿泡泡：叁叁捌捌陆陆玖", "绿泡泡：叁叁捌捌陆陆玖", "3388669"),
    ("QQ群 987654321 欢迎", "QQ群 987654321", "987654321"),
    ("whatsapp: 8613912345678", "whatsapp: 8613912345678", "8613912345678"),
]

NOT_CONTACT = [
    "TG400 显卡今日发布",
    "他在村里很有威信，12345人都服他",
    "关注我们的微信公众号，了解更多",
    "微信 WeChat 的月活用户超过十亿",
    "电报局成立于1958年",
    "QQ音乐 2024 年度榜单",
    "tg 2024",
    "wx 是一个缩写",
    "扣扣子 12 个",
    "通过微信支付了 128 元",
]


@pytest.fixture(scope="module")
def bare() -> Screener:
    """No lexicons: only the structured detectors run."""
    return Screener((), DEFAULT_RULES)


@pytest.mark.parametrize(("text", "span", "ident"), CAUGHT)
def test_contact_evasion_is_reviewed(bare: Screener, text: str, span: str, ident: str) -> None:
    result = bare.screen({"body": text})
    start = text.index(span)
    hits = [
        f
        for f in result.findings
        if f.category == "advertising" and f.action == "review" and f.detector == "contact"
    ]
    assert [(f.start, f.end) for f in hits] == [(start, start + len(span))], result.findings
    assert hits[0].evidence["id"] == ident
    assert result.decision == "review"


@pytest.mark.parametrize("text", NOT_CONTACT)
def test_app_names_in_prose_are_not_contacts(bare: Screener, text: str) -> None:
    result = bare.screen({"body": text})
    assert not [f for f in result.findings if f.category == "advertising"], result.findings


@pytest.mark.parametrize(
    ("ident", "ok"),
    [("12345", True), ("1234", False), ("abcdef", False), ("abc_de", True), ("a" * 21, False)],
)
def test_plausible_id(ident: str, ok: bool) -> None:
    assert plausible_id(ident) is ok


def test_normalised_id_reads_numerals_and_drops_group_separators() -> None:
    assert normalised_id("壹二三 四五.六·七") == "1234567"
