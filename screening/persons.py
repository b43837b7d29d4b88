"""Persons (Art. 17(2)): the executive roster, and people quoted in the text who are not on it.

Roster names (and aliases) are matched by the lexicon automaton like any term, so evasions
(spacing, traditional characters, pinyin of three-character names) apply to them too; each hit is
an ``executive`` finding. Quoted outsiders are found around speech verbs (表示, 称, 说, 指出 …) and
``：“`` by jieba's person-name tag ``nr`` in a short window before the trigger; a name not on the
roster is an ``outsider_quote`` finding (the publisher needs the outsider's organisation to confirm).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from screening.findings import Finding
from screening.normalize import Views
from screening.segment import person_names

logger = logging.getLogger(__name__)

ROLES = ("director", "supervisor", "executive")
MAX_TRIGGERS = 200
_LOOKBACK_CHARS = 14
_TRIGGER_RE = re.compile(
    r"表示|声称|宣称|指出|认为|透露|强调|坦言|谈到|介绍说|回应|说道|称|说|[:：]\s*[“\"「『]"
)


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """A director, supervisor or executive whose mentions need Brand-PR review."""

    name: str
    role: str = "executive"
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The name and its aliases."""
        return (self.name, *self.aliases)

    @classmethod
    def from_mapping(cls, item: Mapping[str, Any]) -> RosterEntry:
        """From a ``[[roster]]`` table: ``name``, ``title``/``role``, ``aliases``."""
        role = str(item.get("role", item.get("title", "executive")))
        return cls(str(item["name"]), role, tuple(str(a) for a in item.get("aliases", ())))


def roster_names(roster: Sequence[RosterEntry]) -> list[str]:
    """All names and aliases, one entry per roster index order (see :func:`owner_of`)."""
    return [n for entry in roster for n in entry.names]


def owner_of(roster: Sequence[RosterEntry], index: int) -> RosterEntry:
    """The roster entry of the ``index``-th name returned by :func:`roster_names`."""
    for entry in roster:
        if index < len(entry.names):
            return entry
        index -= len(entry.names)
    raise IndexError(index)


def outsiders(field: str, views: Views, known: Iterable[str]) -> list[Finding]:
    """People quoted in the text who are not in ``known`` (roster names and aliases)."""
    known_set = set(known)
    cv = views.canon
    text = cv.text
    out: list[Finding] = []
    seen: set[tuple[int, int]] = set()
    for count, m in enumerate(_TRIGGER_RE.finditer(text)):
        if count >= MAX_TRIGGERS:
            break
        lo = max(0, m.start() - _LOOKBACK_CHARS)
        names = person_names(text[lo : m.start()])
        if not names:
            continue
        a, b, name = names[-1]
        if any(k in name or name in k for k in known_set):
            continue
        a, b = a + lo, b + lo
        if (a, b) in seen:
            continue
        seen.add((a, b))
        start, end = cv.span(a, b)
        out.append(Finding(
            detector="person", rule="outsider_quote:nr_near_speech_verb",
            category="outsider_quote", severity="medium", action="review", field=field,
            start=start, end=end, text=views.original[start:end],
            evidence={"trigger": m.group().strip(), "pos": "nr"},
        ))
    return out
