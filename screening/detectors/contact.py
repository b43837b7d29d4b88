"""Contact evasion: a messaging app's name, misspelled or abbreviated (威信, 薇信, V信, vx, 扣扣,
球球, 电报, TG, 纸飞机 …), followed by an account id → an ``advertising`` review finding.

Matched on the canon view (full width, letter and number styles already folded: ｖｘ, ⓥⓧ, ①②
are plain). The id may be written with Chinese or financial numerals and with spaces or dots
between its digit groups (扣扣：一二三四 五六七八); it is reported normalised. To stay quiet on
ordinary prose an id must hold a digit (or an ``_``/``-`` and six characters), and the two-letter
abbreviations (vx, wx, tg, qq) need a separator or 号 before the id: ``TG400`` is not a contact.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import ahocorasick_rs

from screening.findings import Finding

if TYPE_CHECKING:
    from screening.detectors import Prepared

logger = logging.getLogger(__name__)

MAX_FINDINGS = 50
MIN_ID_CHARS = 5
MAX_ID_CHARS = 20

#: App name spellings, by app (lower case: canon folds case and width).
APP_NAMES: dict[str, tuple[str, ...]] = {
    "wechat": (
        "微信",
        "威信",
        "薇信",
        "徽信",
        "维信",
        "唯信",
        "卫信",
        "危信",
        "微芯",
        "v信",
        "威xin",
        "weixin",
        "wechat",
        "vchat",
        "绿泡泡",
    ),
    "qq": ("扣扣", "球球", "抠抠", "寇寇", "蔻蔻", "企鹅号", "q号", "秋秋", "qq号", "qq群", "扣群"),
    "telegram": ("电报", "纸飞机", "飞机号", "telegram", "tele"),
    "whatsapp": ("whatsapp", "瓦次普"),
    "line": ("line id",),
    "skype": ("skype",),
}
#: Two-letter abbreviations: only with a separator or 号 between them and the id.
SHORT_NAMES: dict[str, tuple[str, ...]] = {
    "wechat": ("vx", "wx", "vx号", "wx号"),
    "qq": ("qq",),
    "telegram": ("tg",),
}
_APP_OF: dict[str, str] = {
    n: app for app, names in (*APP_NAMES.items(), *SHORT_NAMES.items()) for n in names
}
_NAMES = tuple(sorted(_APP_OF))
_CN_NUM = "零〇○一二三四五六七八九壹贰叁参肆伍陆柒捌玖幺"
_CN_TO_DIGIT = str.maketrans(_CN_NUM, "00012345678912334567891")
_DIGIT = f"[0-9{_CN_NUM}]"
_ID = rf"@?(?:[a-z0-9_\-]|{_DIGIT})+(?:[ .·](?:{_DIGIT})+)*"
_ASK = r"(?:号码|号|账号|帐号|id)?"


def _alternation(names: list[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


_LONG = _alternation([n for names in APP_NAMES.values() for n in names])
_SHORT = _alternation([n for names in SHORT_NAMES.values() for n in names])
_CONTACT_RE = re.compile(
    rf"(?<![a-z0-9])(?:(?P<long>{_LONG}){_ASK}\s*[:：=]?\s*(?:是|为)?\s*"
    rf"|(?P<short>{_SHORT})(?:{_ASK}\s*[:：=]\s*|号\s*|\s+))"
    rf"(?P<id>{_ID})(?![a-z0-9_\-])"
)


@cache
def _names() -> ahocorasick_rs.AhoCorasick:
    return ahocorasick_rs.AhoCorasick(list(_NAMES))


def _candidates(text: str) -> list[int]:
    """Where an app name starts, found in C (0.05 ms of CPU per 5,000 characters; ``re`` trying
    its alternation at every position costs ten times that on Latin-heavy text, ``str.find``
    per name five times)."""
    return sorted({a for _, a, _ in _names().find_matches_as_indexes(text, overlapping=True)})


def normalised_id(raw: str) -> str:
    """The id as typed, with numerals as digits and the spaces and dots between groups gone."""
    out = raw.translate(_CN_TO_DIGIT).lstrip("@")
    return out.replace(" ", "").replace(".", "").replace("·", "")


def plausible_id(ident: str) -> bool:
    """A messaging id: 5-20 characters holding a digit, or an ``_``/``-`` and six characters."""
    if not MIN_ID_CHARS <= len(ident) <= MAX_ID_CHARS:
        return False
    if any(c.isdigit() for c in ident):
        return True
    return len(ident) >= 6 and ("_" in ident or "-" in ident)


@dataclass(frozen=True, slots=True)
class ContactDetector:
    """Messaging-app contact details (see the module docstring)."""

    name: str = "contact"

    def scan(self, prepared: Prepared) -> list[Finding]:
        """One finding per app name followed by a plausible id."""
        cv = prepared.views.canon
        out: list[Finding] = []
        text = cv.text
        for m in filter(None, (_CONTACT_RE.match(text, a) for a in _candidates(text))):
            ident = normalised_id(m.group("id"))
            if not plausible_id(ident):
                continue
            app_name = m.group("long") or m.group("short")
            start, end = cv.span(m.start(), m.end())
            out.append(
                Finding(
                    detector=self.name,
                    rule="advertising:messaging_id",
                    category="advertising",
                    severity="medium",
                    action="review",
                    field=prepared.field,
                    start=start,
                    end=end,
                    text=prepared.views.original[start:end],
                    evidence={"app": _APP_OF[app_name], "written": app_name, "id": ident},
                )
            )
            if len(out) >= MAX_FINDINGS:
                break
        return out


DETECTOR = ContactDetector()
