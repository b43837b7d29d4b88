"""Date arithmetic (evasion family "number codes"): an impossible date such as 5月35日 or
五月三十五日 that rolls over to a watched date (6月4日 by default) is reported. Plain valid dates
are never findings (6月4日 in a product announcement is ordinary).
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from screening.findings import Finding
from screening.views import Views

logger = logging.getLogger(__name__)

WATCHED_DATES: frozenset[tuple[int, int]] = frozenset({(6, 4)})
_CN = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
# (the leading lookahead lets ``re`` skip positions that cannot start a month: 0.23 → 0.08 ms per
# 5,000 characters)
_DATE_RE = re.compile(
    r"(?=[0-9一二三四五六七八九十])(?<![0-9.])([0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*(?:月|/)\s*"
    r"([0-9]{1,3}|[一二三四五六七八九十百]{1,4})\s*(?:日|号|(?![0-9]))"
)


def _cn_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if "百" in text:
        return None
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        t = _CN.get(tens, 0) if tens else 1
        o = _CN.get(ones, 0) if ones else 0
        return t * 10 + o
    if len(text) == 1:
        return _CN.get(text)
    return None


def scan(field: str, views: Views) -> list[Finding]:
    """Impossible dates that roll over to a watched date."""
    cv = views.canon
    out: list[Finding] = []
    if "月" not in cv.text and "/" not in cv.text:
        return out
    for m in _DATE_RE.finditer(cv.text):
        month, day = _cn_number(m.group(1)), _cn_number(m.group(2))
        if month is None or day is None or not 1 <= month <= 12 or day < 1 or day > 400:
            continue
        start_of_month = dt.date(1989, month, 1)
        try:
            dt.date(1989, month, day)
            continue  # a real date
        except ValueError:
            pass
        rolled = start_of_month + dt.timedelta(days=day - 1)
        if (rolled.month, rolled.day) not in WATCHED_DATES:
            continue
        start, end = cv.span(*m.span())
        out.append(
            Finding(
                detector="date",
                rule="political:date_arithmetic",
                category="political",
                severity="high",
                action="review",
                field=field,
                start=start,
                end=end,
                text=views.original[start:end],
                evidence={"means": f"{rolled.month}月{rolled.day}日"},
            )
        )
    return out
