"""Whom a sentence is about (Art. 14): the company, another named company or the market.

Art. 14 of the Measures asks the leader in charge and Brand-PR to approve *the company's own*
strategy changes, reform measures and financial data. A figure about another company
(万科拟购买…交易价格为N亿元), the industry or the economy (国内生产总值增长7%) is not the
company's, so it is a ``warn``; a sentence that names the company (its names, aliases,
subsidiaries and tickers from ``config/policy.toml``), or names nobody, stays a review.

Other companies are recognised by their legal-form suffix (…公司, …集团, …银行, …股份) and by
stock-code patterns; the market and the state by a short list of words (市场, 行业, 全国, 我国,
GDP …). Nothing here is a lexicon lookup of company names: the gateway cannot know them all.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

logger = logging.getLogger(__name__)

Subject = Literal["company", "other", "none"]

# A sentence ends at these (a clause-level comma does not end the subject's reach).
_SENTENCE_RE = re.compile(r"[。！？；!?;\n]")
# Another organisation: two or more name characters before a legal-form or sector suffix
# (万科企业股份有限公司, 工行, 华为公司, 中国南车 …), or a listed company's code.
_ORG_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "公司",
    "集团",
    "控股",
    "股份",
    "银行",
    "证券",
    "保险",
    "基金",
    "科技",
    "实业",
    "地产",
    "置业",
    "电器",
    "汽车",
    "航空",
    "药业",
    "制药",
    "电子",
    "能源",
    "传媒",
    "资本",
    "投资",
)
_ORG_RE = re.compile(
    r"[\u4e00-\u9fffA-Za-z]{2,12}?(?:" + "|".join(map(re.escape, _ORG_SUFFIXES)) + ")"
    r"|[A-Z][A-Za-z&.]{1,20}\s(?:Inc|Corp|Ltd|Group|Holdings)\b"
    r"|(?<!\d)[036]\d{5}(?:\.(?:SH|SZ))?(?!\d)|(?<!\d)\d{4,5}\.HK"
)
# The economy, the market, the industry, the state: figures about them are not the company's.
_MARKET_WORDS = (
    "市场",
    "行业",
    "业内",
    "全国",
    "我国",
    "国内生产总值",
    "GDP",
    "gdp",
    "经济增长",
    "国民经济",
    "财政",
    "全省",
    "全市",
    "全球",
    "大盘",
    "指数",
    "沪指",
    "深成指",
    "创业板",
    "板块",
    "上证",
    "两市",
    "央行",
    "国务院",
    "政府",
    "居民",
    "城镇",
    "农村",
    "外贸",
    "进出口",
    "社会消费品",
    "固定资产投资",
)
_MARKET_RE = re.compile("|".join(map(re.escape, _MARKET_WORDS)))
# Words that look like an organisation to the suffix pattern but say nothing about who it is.
_GENERIC_ORGS = frozenset(
    {
        "公司",
        "该公司",
        "本公司",
        "上市公司",
        "子公司",
        "母公司",
        "分公司",
        "控股股东",
        "本集团",
        "该集团",
    }
)
_GENERIC_PREFIX_RE = re.compile(r"^(?:该|本|我|其|这家|此|上述|多家|一家|各|旗下)")


@dataclass(frozen=True, slots=True)
class Company:
    """The company whose own figures and plans need Art. 14 approval."""

    names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    subsidiaries: tuple[str, ...] = ()
    tickers: tuple[str, ...] = ()

    @property
    def all_names(self) -> tuple[str, ...]:
        """Every string that names the company (longest first)."""
        items = {n.strip() for n in (*self.names, *self.aliases, *self.subsidiaries, *self.tickers)}
        return tuple(sorted((n for n in items if n), key=lambda n: (-len(n), n)))

    @classmethod
    def from_policy(cls, path: Path) -> Company:
        """The ``[company]`` table of ``config/policy.toml`` (empty when there is none)."""
        with path.open("rb") as fh:
            table = tomllib.load(fh).get("company", {})
        return cls.from_mapping(table)

    @classmethod
    def from_mapping(cls, table: dict[str, Iterable[str]]) -> Company:
        """From a mapping with the keys ``names``, ``aliases``, ``subsidiaries``, ``tickers``."""
        return cls(
            tuple(table.get("names", ())),
            tuple(table.get("aliases", ())),
            tuple(table.get("subsidiaries", ())),
            tuple(table.get("tickers", ())),
        )


NO_COMPANY = Company()


def sentence_bounds(text: str, a: int, b: int) -> tuple[int, int]:
    """The sentence of ``text`` holding ``[a, b)``."""
    starts = [m.end() for m in _SENTENCE_RE.finditer(text, 0, a)]
    lo = starts[-1] if starts else 0
    m = _SENTENCE_RE.search(text, b)
    return lo, m.start() if m else len(text)


def subject(text: str, a: int, b: int, company: Company) -> tuple[Subject, str]:
    """Whom the sentence holding ``text[a:b]`` is about, and the words that say so.

    ``company`` when it names the company (whatever else it names: the company's own figure
    may sit next to a competitor's); ``other`` when it names another organisation or the
    market/economy; ``none`` when it names nobody (an unattributed figure is treated as the
    company's by the caller)."""
    lo, hi = sentence_bounds(text, a, b)
    sentence = text[lo:hi]
    for name in company.all_names:
        if name in sentence:
            return "company", name
    others = [m.group() for m in _ORG_RE.finditer(sentence) if _is_named_org(m.group())]
    if others:
        return "other", others[0]
    market = _MARKET_RE.search(sentence)
    if market:
        return "other", market.group()
    return "none", ""


def _is_named_org(found: str) -> bool:
    if found in _GENERIC_ORGS or _GENERIC_PREFIX_RE.match(found):
        return False
    return not any(found.endswith(s) and len(found) == len(s) for s in _ORG_SUFFIXES)
