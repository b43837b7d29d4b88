"""Recall classes added for issue 12, table-driven against an invented codename lexicon.

Each case is ``(text, span, action)``: a finding of the codename category whose span in the
original text is exactly ``span`` must be reported with ``action`` (``review`` where the fold is a
guess: a homophone, a rare look-alike, a split into ordinary characters, pinyin cut out of a longer
Latin run). Every case here was missed before these views existed (checked against the previous
commit). The terms are invented; none is in the shipped lexicons.
"""

from __future__ import annotations

import pytest

from screening.decision import DEFAULT_RULES
from screening.lexicon import Lexicon
from screening.pipeline import Screener

INVENTED = Lexicon.from_terms(
    "invented-codenames",
    "commercial_secret",
    [
        "重山会",  # 重 zhong/chong
        "银行密令",  # 行 xing/hang
        "长乐帮",  # 长 zhang/chang
        "虫草会",
        "航天密令",
        "西安密会",
        "青鸾计划",
        "调令局",
        "秋明堂",
        "好运会",
        "秘岩项目",
        "金乌行动",
        "禁海令",
        "金岭基地",
        "口岸密钥",
        "第五纵队",
        "万山会",
        "bluekite",
        "cop",
        "zk10",
        "7355",
    ],
    action="block",
    severity="critical",
    source="test",
    version="t1",
)

POLYPHONIC = [  # every reading of polyphonic characters; run-together pinyin syllable boundaries
    ("他们在虫山会碰头", "虫山会", "review"),  # 重 read chong, written with 虫
    ("chongshanhui", "chongshanhui", "block"),
    ("银航密令已下发", "银航密令", "review"),  # 行 read hang
    ("yinhangmiling", "yinhangmiling", "block"),
    ("常乐帮聚会", "常乐帮", "review"),  # 长 read chang
    ("重草会已开", "重草会", "review"),  # the text's 重 read chong (a term without polyphones)
    ("行天密令", "行天密令", "review"),  # the text's 行 read hang
    ("woaixianmihui", "xianmihui", "review"),  # wo|ai|xi|an|mi|hui: cut out of a longer run
    ("zaichongshanhuijian", "chongshanhui", "review"),
]
LOOKALIKES = [  # Unicode confusables and rare similar-shape characters
    ("bluеkitе 项目", "bluеkitе", "block"),  # Cyrillic е
    ("blυekite", "blυekite", "block"),  # Greek υ
    ("cоp", "cоp", "block"),  # Cyrillic о between Latin letters
    ("ロ岸密钥", "ロ岸密钥", "block"),  # katakana ロ
    ("⼝岸密钥", "⼝岸密钥", "block"),  # Kangxi radical ⼝
    ("笫五纵队", "笫五纵队", "review"),  # rare 笫 looks like 第
    ("丌山会", "丌山会", "review"),  # rare 丌 looks like 万
]
COMPONENTS = [  # a character written as its components
    ("青鸾讠十划", "青鸾讠十划", "block"),  # 计 = 讠十 (a radical form: unambiguous)
    ("讠周令局", "讠周令局", "block"),  # 调 = 讠周
    ("禾火明堂", "禾火明堂", "review"),  # 秋 = 禾火 (ordinary characters: ambiguous)
    ("女子运会", "女子运会", "review"),  # 好 = 女子
]
ENCLOSED = [  # enclosed, circled, parenthesised and squared letters, digits and ideographs
    ("资料：㊙岩项目", "㊙岩项目", "block"),
    ("㊎乌行动开始", "㊎乌行动", "block"),
    ("🈲海令", "🈲海令", "block"),
    ("㈮岭基地", "㈮岭基地", "block"),
    ("代号ⓏⓀ㉈", "ⓏⓀ㉈", "block"),
]
SPACED = [  # letters and digits with spaces or dots between them
    ("b l u e k i t e", "b l u e k i t e", "block"),
    ("b.l.u.e.k.i.t.e", "b.l.u.e.k.i.t.e", "block"),
    ("ｂ ｌ ｕ ｅ ｋ ｉ ｔ ｅ", "ｂ ｌ ｕ ｅ ｋ ｉ ｔ ｅ", "block"),
    ("密码7.3.5.5", "7.3.5.5", "block"),
    ("暗号7·3·5·5号", "7·3·5·5", "block"),
    ("z-k-1-0", "z-k-1-0", "block"),
]
CLASSES = {
    "polyphonic": POLYPHONIC,
    "lookalikes": LOOKALIKES,
    "components": COMPONENTS,
    "enclosed": ENCLOSED,
    "spaced": SPACED,
}
ALL = [
    pytest.param(*case, id=f"{name}-{case[0]}") for name, cases in CLASSES.items() for case in cases
]

MUST_NOT_FIRE = [
    "女子运动会在体育场举行",  # 女子 is a word; the split key is 女子运会
    "增长7.3 5.5个百分点",  # two decimals, not 7.3.5.5
    "6.4级地震",
    "сор",  # a Cyrillic word is not a Latin term
    "they said xianmihui",  # the run heysaidxianmihui is not pinyin: no syllable cut
    "中山会馆",  # first readings, ordinary words
    "中草会馆开业",  # 中 is not read chong: 虫草会 only through 重
    "口岸开放，密钥管理",  # punctuation between words
]


@pytest.fixture(scope="module")
def invented() -> Screener:
    return Screener((INVENTED,), DEFAULT_RULES)


@pytest.mark.parametrize(("text", "span", "action"), ALL)
def test_recall_class_is_caught(invented: Screener, text: str, span: str, action: str) -> None:
    result = invented.screen({"content": text})
    start = text.index(span)
    found = [
        (f.action, f.evidence.get("view"))
        for f in result.findings
        if f.category == "commercial_secret" and (f.start, f.end) == (start, start + len(span))
    ]
    assert found, [(f.text, f.action, f.evidence) for f in result.findings]
    assert found[0][0] == action, result.findings


def test_every_class_has_cases() -> None:
    assert all(len(cases) >= 4 for cases in CLASSES.values())


@pytest.mark.parametrize("text", MUST_NOT_FIRE)
def test_new_views_do_not_fire_on_ordinary_text(invented: Screener, text: str) -> None:
    result = invented.screen({"content": text})
    assert not [f for f in result.findings if f.action != "warn"], result.findings
