"""Detectors behind one interface (the recognizer pattern): each takes the same prepared input of
one field — its :class:`~screening.views.Views`, the lexicon hits over every view, the lexicons
and the roster — and returns findings with spans in the original text.

The pipeline runs the detectors named in its configuration, in that order, from :data:`REGISTRY`;
a new detector is one module with an object that has a ``name`` and a ``scan(prepared)``, and its
line here. The modules written before this interface (``terms``, ``combination``, ``pii``,
``financial``, ``dates``, and :func:`screening.persons.outsiders`) keep their own ``scan``
signatures and are wrapped by the small adapters below.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from screening.attribution import NO_COMPANY, Company
from screening.detectors import combination, contact, dates, financial, pii, terms
from screening.findings import Finding
from screening.lexicon import Lexicon
from screening.matcher import Hit
from screening.persons import RosterEntry, outsiders, roster_names
from screening.views import Views

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What every detector gets for one field: computed once, shared by all of them."""

    field: str
    views: Views
    hits: Sequence[Hit]
    lexicons: Sequence[Lexicon]
    roster: Sequence[RosterEntry]
    company: Company = NO_COMPANY  # Art. 14 attribution (names, aliases, tickers from policy)


class Detector(Protocol):
    """A detector: a stable name (used in configuration) and a scan of one prepared field."""

    @property
    def name(self) -> str: ...

    def scan(self, prepared: Prepared) -> list[Finding]: ...


@dataclass(frozen=True, slots=True)
class FunctionDetector:
    """A detector made of a name and a function of :class:`Prepared` (the adapters)."""

    name: str
    run: Callable[[Prepared], list[Finding]]

    def scan(self, prepared: Prepared) -> list[Finding]:
        """The function's findings for ``prepared``."""
        return self.run(prepared)


def _lexicon(p: Prepared) -> list[Finding]:
    """Deny-term and roster hits (:mod:`terms`); a hit the matcher capped at review (an
    ambiguous look-alike, component or syllable fold) keeps the reason in its evidence."""
    found = terms.scan(p.field, p.views, p.lexicons, p.roster, p.hits, p.company)
    caps: dict[tuple[int, int, str, str], str] = {
        (h.start, h.end, h.pattern.term, h.view): h.cap for h in p.hits if h.cap
    }
    if not caps:
        return found
    out: list[Finding] = []
    for f in found:
        key = (f.start, f.end, str(f.evidence.get("term")), str(f.evidence.get("view")))
        reason = caps.get(key)
        if reason and "capped_at_review" not in f.evidence:
            evidence = {**f.evidence, "capped_at_review": reason}
            out.append(dataclasses.replace(f, evidence=evidence))
        else:
            out.append(f)
    return out


REGISTRY: Mapping[str, Detector] = {
    d.name: d
    for d in (
        FunctionDetector("lexicon", _lexicon),
        FunctionDetector(
            "combination", lambda p: combination.scan(p.field, p.views.original, p.lexicons, p.hits)
        ),
        FunctionDetector("pii", lambda p: pii.scan(p.field, p.views)),
        contact.DETECTOR,
        FunctionDetector("financial", lambda p: financial.scan(p.field, p.views, p.company)),
        FunctionDetector("dates", lambda p: dates.scan(p.field, p.views)),
        FunctionDetector("person", lambda p: outsiders(p.field, p.views, roster_names(p.roster))),
    )
}
#: Every registered detector, in registry order (the pipeline's default).
DEFAULT_DETECTORS: tuple[str, ...] = tuple(REGISTRY)


def resolve(names: Sequence[str]) -> tuple[Detector, ...]:
    """The detectors called ``names``, in that order; an unknown name is an error (a typo in the
    configuration must not switch a detector off silently)."""
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; known: {sorted(REGISTRY)}")
    return tuple(REGISTRY[n] for n in dict.fromkeys(names))
