"""Art. 14 attribution: whose figures a sentence gives (screening/attribution.py), and what the
financial detector makes of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from screening.attribution import Company, subject
from screening.decision import DEFAULT_RULES
from screening.pipeline import Screener

COMPANY = Company(names=("示例集团",), aliases=("本集团",), subsidiaries=("华东分公司",))
LEXICON_DIR = Path(__file__).resolve().parents[2] / "config" / "lexicons"


@pytest.mark.parametrize(
    ("text", "about"),
    [
        ("示例集团2025年营收358亿元", "company"),
        ("本集团净利润同比增长12%", "company"),
        ("华东分公司营业收入增长8%", "company"),
        ("示例集团营收增长12%，高于万科企业股份有限公司", "company"),  # ours is named: ours
        ("万科拟购买前海国际5%股权，交易价格为5.5亿元", "none"),  # 万科 alone: no legal form
        ("华为公司营收增长20%", "other"),
        ("工商银行净利润下降3%", "other"),
        ("全国国内生产总值增长7%", "other"),
        ("沪指上涨2%，两市成交额5000亿元", "other"),
        ("该公司营收增长20%", "none"),  # "the company" names nobody
        ("营收增长20%", "none"),
        ("华为公司发布新品。营收增长20%", "none"),  # another sentence
    ],
)
def test_subject(text: str, about: str) -> None:
    a = text.index("%") if "%" in text else len(text) - 1
    assert subject(text, a, a + 1, COMPANY)[0] == about


def test_company_from_policy_file(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[company]\nnames = ["示例集团"]\ntickers = ["600000.SH"]\n', encoding="utf-8"
    )
    company = Company.from_policy(policy)
    assert company.all_names == ("600000.SH", "示例集团")
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    assert Company.from_policy(empty).all_names == ()


@pytest.fixture(scope="module")
def attributed() -> Screener:
    return Screener.from_directory(LEXICON_DIR, rules=DEFAULT_RULES, company=COMPANY)


@pytest.mark.parametrize(
    ("text", "decision"),
    [
        ("示例集团2025年营收达到358亿元", "review"),
        ("2025年营收达到358亿元", "review"),  # unattributed: treated as ours
        ("华为公司2025年营收达到358亿元", "pass"),  # someone else's: a warning
        ("今年全国财政收入增长6%", "pass"),  # the state's
        ("华为公司拟进行重大资产重组", "pass"),  # Art. 14 terms are attributed too
        ("示例集团拟进行重大资产重组", "review"),
    ],
)
def test_financial_figures_are_attributed(attributed: Screener, text: str, decision: str) -> None:
    result = attributed.screen({"content": text})
    assert result.decision == decision, [(f.rule, f.action, f.evidence) for f in result.findings]


def test_the_company_survives_hot_reload(attributed: Screener) -> None:
    again = attributed.with_lexicons([]).compacted()
    assert again.company == COMPANY
    assert again.screen({"content": "华为公司营收达到358亿元"}).decision == "pass"
