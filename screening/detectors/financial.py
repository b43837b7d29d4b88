"""Financial data (Art. 14): an amount with a unit (亿元, 万元, %, 个百分点 …) within a short
distance of a financial term (营收, 净利润, 毛利率 …). A bare amount or a bare term is not a
finding.

Art. 14 concerns the company's own figures: an amount in a sentence that names the company
(:mod:`screening.attribution`) or names nobody is a review for the leader in charge and
Brand-PR; one in a sentence clearly about another named company or the market is a ``warn``.
"""

from __future__ import annotations

import bisect
import logging
import re

from screening.attribution import NO_COMPANY, Company, subject
from screening.findings import Finding
from screening.views import Views

logger = logging.getLogger(__name__)

WINDOW_CHARS = 30
MAX_FINDINGS = 200
FINANCIAL_TERMS: tuple[str, ...] = (
    "营收",
    "营业收入",
    "营业额",
    "收入",
    "净利润",
    "利润",
    "毛利率",
    "净利率",
    "毛利",
    "利润率",
    "亏损",
    "净亏损",
    "现金流",
    "每股收益",
    "市值",
    "估值",
    "负债",
    "资产负债率",
    "融资",
    "销售额",
    "成交额",
    "业绩",
    "财报",
    "年报",
    "季报",
    "分红",
    "股息",
    "ebitda",
    "增长率",
    "同比增长",
    "环比增长",
    "同比下降",
    "环比下降",
    "预算",
    "成本",
    "费用率",
    "回报率",
    "roe",
)
_NUM = r"(?<![0-9.])[0-9零一二三四五六七八九十百千两〇.,]*[0-9零一二三四五六七八九十两〇]"
# (the leading lookahead lets ``re`` skip every position that cannot start a number: 2.4x faster)
_AMOUNT_RE = re.compile(
    r"(?=[0-9零一二三四五六七八九十百千两〇.,])"
    + _NUM
    + r"\s*(?:万亿|千亿|百亿|亿元|万元|千元|亿美元|万美元|美元|亿港元"
    r"|元|亿|万|%|％|个百分点|个点|倍)"
)
_TERMS_RE = re.compile(
    "|".join(sorted((re.escape(t) for t in FINANCIAL_TERMS), key=len, reverse=True))
)


def scan(field: str, views: Views, company: Company = NO_COMPANY) -> list[Finding]:
    """Amount-with-unit findings that have a financial term nearby: ``review`` when the
    sentence names ``company`` or nobody, ``warn`` when it is about someone else."""
    cv = views.canon
    text = cv.text
    terms = [(m.start(), m.end(), m.group()) for m in _TERMS_RE.finditer(text)]
    if not terms:
        return []
    term_starts = [t[0] for t in terms]
    out: list[Finding] = []
    for m in _AMOUNT_RE.finditer(text):
        a, b = m.span()
        # terms starting within the window before the amount or just after it (bounded slice)
        lo = bisect.bisect_left(term_starts, a - WINDOW_CHARS - 8)
        hi = bisect.bisect_right(term_starts, b + WINDOW_CHARS)
        near = [t for t in terms[lo:hi] if t[1] >= a - WINDOW_CHARS and t[0] <= b + WINDOW_CHARS]
        if not near:
            continue
        term = min(near, key=lambda t: abs(t[0] - a))
        if len(out) >= MAX_FINDINGS:
            break
        start, end = cv.span(a, b)
        about, said_by = subject(text, a, b, company)
        evidence: dict[str, object] = {
            "amount": m.group(),
            "term": term[2],
            "window_chars": WINDOW_CHARS,
            "about": {"company": "the company", "other": "someone else", "none": "unattributed"}[
                about
            ],
        }
        if said_by:
            evidence["named"] = said_by
        if about == "other":
            evidence["downgraded"] = "about another company or the market, not the company's own"
        out.append(
            Finding(
                detector="financial",
                rule="financial:amount_near_term",
                category="financial",
                severity="high" if about != "other" else "low",
                action="review" if about != "other" else "warn",
                field=field,
                start=start,
                end=end,
                text=views.original[start:end],
                evidence=evidence,
            )
        )
    return out
