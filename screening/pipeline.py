"""The screening pipeline: normalise each field once, run the detectors in order, merge, decide.

Pure, synchronous and thread-safe: a :class:`Screener` is immutable after construction (hot reload
builds a new one with :meth:`Screener.with_lexicons` off the event loop and swaps the reference).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from screening import html, segment
from screening.attribution import NO_COMPANY, Company
from screening.decision import DEFAULT_RULES, CategoryRule, Decision, capped, decide
from screening.detectors import DEFAULT_DETECTORS, Detector, Prepared, resolve
from screening.findings import SEVERITY_ORDER, Finding
from screening.lexicon import Lexicon, load_directory
from screening.matcher import Hit, LexiconMatcher, Pattern
from screening.persons import RosterEntry, roster_names
from screening.views import Views, build_views, warm_up

logger = logging.getLogger(__name__)

#: Longest text accepted in one field; the gateway answers 413 above it.
MAX_FIELD_CHARS = 200_000
#: Longest total over all fields of one post.
MAX_TOTAL_CHARS = 400_000
#: Findings kept per field in the result (the decision still sees all of them).
MAX_FINDINGS_PER_FIELD = 500
HTML_FIELDS = frozenset({"content"})


class TextTooLong(ValueError):
    """A field (or the whole post) is longer than the screening limit."""

    def __init__(self, field: str, length: int, limit: int) -> None:
        super().__init__(f"field {field!r} has {length} characters; the limit is {limit}")
        self.field = field
        self.length = length
        self.limit = limit


class Classifier(Protocol):
    """The optional model stage: findings for one field's normalised text."""

    def scan(self, field: str, text: str) -> list[Finding]: ...


@dataclass(frozen=True, slots=True)
class ScreenResult:
    """Findings (spans in the original field text), the decision, and roles a review needs."""

    findings: tuple[Finding, ...]
    decision: Decision
    required_roles: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """The ``POST /v1/screen`` answer shape."""
        return {
            "decision": self.decision,
            "required_roles": list(self.required_roles),
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass(frozen=True)
class Screener:
    """Immutable screening engine for one set of lexicons, rules and roster."""

    lexicons: tuple[Lexicon, ...]
    rules: Mapping[str, CategoryRule]
    roster: tuple[RosterEntry, ...] = ()
    classifier: object | None = None
    detectors: tuple[str, ...] = DEFAULT_DETECTORS
    _base_count: int = field(default=-1, repr=False)
    _base_matcher: LexiconMatcher | None = field(default=None, repr=False, compare=False)
    _merged: LexiconMatcher | None = field(default=None, repr=False, compare=False)
    company: Company = NO_COMPANY  # Art. 14 attribution of financial figures
    _matchers: tuple[LexiconMatcher, ...] = field(init=False, repr=False, compare=False)
    _detectors: tuple[Detector, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        warm_up()
        segment.warm_up()
        object.__setattr__(self, "_detectors", resolve(self.detectors))
        if self._base_count < 0:
            object.__setattr__(self, "_base_count", len(self.lexicons))
        if self._base_matcher is None:
            base = _matcher(self.lexicons[: self._base_count], tuple(roster_names(self.roster)), 0)
            object.__setattr__(self, "_base_matcher", base)
        if self._merged is not None:
            matchers: tuple[LexiconMatcher, ...] = (self._merged,)
        elif self._base_count == len(self.lexicons):
            matchers = (self._base(),)
        else:
            extra = _matcher(self.lexicons[self._base_count :], (), self._base_count)
            matchers = (self._base(), extra)
        object.__setattr__(self, "_matchers", matchers)

    def _base(self) -> LexiconMatcher:
        matcher = self._base_matcher
        if matcher is None:  # pragma: no cover - always set by __post_init__
            raise RuntimeError("screener not initialised")
        return matcher

    @classmethod
    def from_directory(
        cls,
        lexicon_dir: Path,
        *,
        rules: Mapping[str, CategoryRule] = DEFAULT_RULES,
        roster: Sequence[RosterEntry] = (),
        extra_lexicons: Sequence[Lexicon] = (),
        classifier: object | None = None,
        company: Company = NO_COMPANY,
        detectors: Sequence[str] = DEFAULT_DETECTORS,
    ) -> Screener:
        """Load every lexicon file in ``lexicon_dir`` (all or nothing) plus ``extra_lexicons``;
        ``detectors`` names the detectors to run, in order (see :mod:`screening.detectors`)."""
        base = tuple(load_directory(lexicon_dir))
        return cls(
            (*base, *extra_lexicons),
            dict(rules),
            tuple(roster),
            classifier,
            tuple(detectors),
            len(base),
            company=company,
        )

    def with_lexicons(self, extra_lexicons: Sequence[Lexicon]) -> Screener:
        """A new screener with the same file lexicons and ``extra_lexicons`` replacing the previous
        extras (admin-managed lists). The file lexicons' automata are shared, so only the extras
        are compiled (milliseconds for thousands of terms). ``self`` is untouched."""
        base = self.lexicons[: self._base_count]
        return Screener(
            (*base, *extra_lexicons),
            self.rules,
            self.roster,
            self.classifier,
            self.detectors,
            self._base_count,
            self._base_matcher,
            company=self.company,
        )

    def compacted(self) -> Screener:
        """The same screener with the file and admin lexicons compiled into one set of automata,
        so each view is scanned once instead of twice (seconds to build for the default
        lexicons, hence off the hot-reload path: :meth:`with_lexicons` answers in milliseconds,
        this follows in the background). The file lexicons' own automata are kept for the next
        :meth:`with_lexicons`. ``self`` when there is nothing to merge."""
        if self.compact:
            return self
        merged = LexiconMatcher(self.lexicons, tuple(roster_names(self.roster)))
        return Screener(
            self.lexicons,
            self.rules,
            self.roster,
            self.classifier,
            self.detectors,
            self._base_count,
            self._base_matcher,
            merged,
            company=self.company,
        )

    @property
    def compact(self) -> bool:
        """Whether one automaton set covers all lexicons (see :meth:`compacted`)."""
        return len(self._matchers) == 1

    @property
    def term_count(self) -> int:
        """Number of patterns (terms, allow phrases, rule terms, roster names) compiled."""
        return sum(m.term_count for m in self._matchers)

    def screen(self, fields: Mapping[str, str]) -> ScreenResult:
        """Screen every text field of a post; raises :class:`TextTooLong` above the limits."""
        total = 0
        for name, text in fields.items():
            if not isinstance(text, str):
                raise TypeError(f"field {name!r} must be a string")
            if len(text) > MAX_FIELD_CHARS:
                raise TextTooLong(name, len(text), MAX_FIELD_CHARS)
            total += len(text)
        if total > MAX_TOTAL_CHARS:
            raise TextTooLong("*", total, MAX_TOTAL_CHARS)
        found: list[Finding] = []
        per_field: dict[str, list[Finding]] = {}
        views = {name: self._views(name, text) for name, text in fields.items() if text.strip()}
        # The classifier reads every field's windows in one batched call.
        classified = self._classify(views) if self.classifier is not None else {}
        for name, field_views in views.items():
            per_field[name] = self._screen_field(name, field_views, classified.get(name, []))
            found.extend(per_field[name])
        findings, decision, roles = decide(found, self.rules)
        kept = _cap_per_field(findings)
        return ScreenResult(kept, decision, roles)

    @staticmethod
    def _views(name: str, text: str) -> Views:
        if name in HTML_FIELDS and html.looks_like_html(text):
            plain, hs, he = html.strip_html_map(text)
            return build_views(plain, source=text, source_map=(hs, he))
        return build_views(text)

    def _screen_field(self, name: str, views: Views, classified: list[Finding]) -> list[Finding]:
        acc: dict[tuple[Pattern, int, int], Hit] = {}
        for matcher in self._matchers:
            matcher.match(views, acc)
        prepared = Prepared(
            name, views, list(acc.values()), self.lexicons, self.roster, self.company
        )
        out: list[Finding] = []
        for detector in self._detectors:
            out += detector.scan(prepared)
        out += classified
        return merge_overlaps(out)

    def _classify(self, views: Mapping[str, Views]) -> dict[str, list[Finding]]:
        """The classifier's findings per field, spans mapped back to the original text."""
        names = list(views)
        texts = [(name, views[name].canon.text) for name in names]
        scan_many = getattr(self.classifier, "scan_many", None)  # duck-typed optional stage
        if scan_many is not None:
            scanned = scan_many(texts)
        else:
            scan = getattr(self.classifier, "scan")  # noqa: B009
            scanned = [scan(name, text) for name, text in texts]
        return {
            name: self._classified(name, views[name], found)
            for name, found in zip(names, scanned, strict=True)
        }

    @staticmethod
    def _classified(name: str, views: Views, found: list[Finding]) -> list[Finding]:
        results: list[Finding] = []
        canon = views.canon
        for f in found:
            a, b = max(0, min(f.start, len(canon.text))), max(0, min(f.end, len(canon.text)))
            start, end = canon.span(a, b) if b > a else (f.start, f.end)
            results.append(
                Finding(
                    detector=f.detector,
                    rule=f.rule,
                    category=f.category,
                    severity=f.severity,
                    action=f.action,
                    field=name,
                    start=start,
                    end=end,
                    text=views.original[start:end],
                    evidence=f.evidence,
                )
            )
        return results


_MATCHERS: dict[tuple[object, ...], LexiconMatcher] = {}
_MATCHERS_LOCK = threading.Lock()
_MATCHERS_KEPT = 2


def _matcher(lexicons: Sequence[Lexicon], names: tuple[str, ...], offset: int) -> LexiconMatcher:
    """A compiled matcher, shared by every screener of this process built from the same terms
    (a matcher depends only on the terms, allow phrases, rule terms, roster names and owner
    indexes, not on categories, actions or rules): a second screener over the default lexicons
    (other rules, a test fixture) costs nothing instead of seconds. In memory only; the few
    most recent are kept."""
    key = (tuple((lx.terms, lx.allow, lx.rules) for lx in lexicons), names, offset)
    with _MATCHERS_LOCK:
        found = _MATCHERS.pop(key, None)
        if found is not None:
            _MATCHERS[key] = found  # most recently used last
            return found
    built = LexiconMatcher(lexicons, names, owner_offset=offset)
    with _MATCHERS_LOCK:
        _MATCHERS[key] = built
        while len(_MATCHERS) > _MATCHERS_KEPT:
            del _MATCHERS[next(iter(_MATCHERS))]
    return built


_ACTION_RANK = {"warn": 0, "review": 1, "block": 2}


def _rank(f: Finding) -> tuple[int, int, int]:
    # the action as the decision will cap it (a finding capped at review hides no block)
    return (_ACTION_RANK[capped(f.action, f)], SEVERITY_ORDER[f.severity], f.end - f.start)


def merge_overlaps(findings: Sequence[Finding]) -> list[Finding]:
    """Drop exact duplicates (same category and span, keep the strongest), findings strictly
    inside a stronger-or-equal finding of the same category and detector, and findings strictly
    inside a blocking finding of any category (the post is blocked there anyway)."""
    best: dict[tuple[str, int, int], Finding] = {}
    for f in findings:
        key = (f.category, f.start, f.end)
        if key not in best or _rank(f) > _rank(best[key]):
            best[key] = f
    items = sorted(best.values(), key=lambda f: (f.start, -(f.end - f.start)))
    kept: list[Finding] = []
    by_cat: dict[tuple[str, str], list[Finding]] = {}
    for f in items:
        group = by_cat.setdefault((f.category, f.detector), [])
        if any(
            g.start <= f.start and f.end <= g.end and _rank(g)[:2] >= _rank(f)[:2]
            for g in group[-50:]
        ):
            continue
        group.append(f)
        kept.append(f)
    # a blocking finding makes any finding strictly inside it redundant (法轮 inside 法轮功)
    blocks = [(f.start, f.end) for f in kept if _rank(f)[0] == _ACTION_RANK["block"]]
    if not blocks:
        return kept
    return [
        f
        for f in kept
        if not any(
            a <= f.start and f.end <= b and (a, b) != (f.start, f.end) for a, b in blocks[:200]
        )
    ]


def _cap_per_field(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    counts: dict[str, int] = {}
    out: list[Finding] = []
    for f in sorted(findings, key=lambda f: (-_rank(f)[0], -_rank(f)[1], f.start)):
        n = counts.get(f.field, 0)
        if n < MAX_FINDINGS_PER_FIELD:
            counts[f.field] = n + 1
            out.append(f)
    out.sort(key=lambda f: (f.field, f.start, f.end))
    return tuple(out)
