"""Lexicon hits → findings: allow-list overrides, token-boundary downgrade, view-based caps,
and roster (executive) mentions."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from screening.findings import Finding
from screening.lexicon import Lexicon
from screening.matcher import Hit, term_keys, view_of
from screening.persons import RosterEntry, owner_of
from screening.segment import all_words, crosses_boundary, is_word
from screening.views import Views

logger = logging.getLogger(__name__)

SHORT_TERM_CHARS = 3
_FUNCTION_CHARS = frozenset("的了是在和与及或也都就而之其把被让给着过吗呢吧啊个")
_SENTENCE_END_RE = re.compile(r"[。！？；!?;\n]")
MAX_BOUNDARY_CHECKS = 500


def scan(
    field: str,
    views: Views,
    lexicons: Sequence[Lexicon],
    roster: Sequence[RosterEntry],
    hits: Sequence[Hit],
) -> list[Finding]:
    """Findings for deny-term and roster hits in one field."""
    allow = [(h.start, h.end) for h in hits if h.pattern.kind == "allow"]
    direct = [
        (h.start, h.end)
        for h in hits
        if h.pattern.kind == "deny" and h.view in ("canon", "skeleton")
    ]
    out: list[Finding] = []
    checks = 0
    for h in hits:
        kind = h.pattern.kind
        if kind == "roster":
            out.append(_roster_finding(field, views, roster, h))
            continue
        if kind != "deny":
            continue
        if any(a <= h.start and h.end <= b for a, b in allow):
            continue
        if h.view not in ("canon", "skeleton") and any(
            a <= h.start and h.end <= b for a, b in direct
        ):
            continue  # the text literally holds a deny term here; the variant view adds nothing
        lex = lexicons[h.pattern.owner]
        evidence: dict[str, object] = {
            "lexicon": lex.name,
            "version": lex.version,
            "source": lex.source,
            "term": h.pattern.term,
            "view": h.view,
        }
        if h.view != "canon":
            evidence["normalised"] = h.key
        if (
            h.view in ("canon", "skeleton")
            and not h.key.isascii()
            and len(h.key) <= SHORT_TERM_CHARS
            and checks < MAX_BOUNDARY_CHECKS
        ):
            checks += 1
            if crosses_boundary(view_of(views, h.view).text, h.vstart, h.vend):
                evidence["downgraded"] = "crosses a word boundary (jieba)"
        if h.view in ("pinyin", "reversed") and not h.latin and is_word(_covered_text(views, h)):
            continue  # the text is an ordinary word (人大代表 ≠ 人大代婊, 共产党 ≠ 党产共)
        if h.view == "pinyin" and not h.latin and _ordinary_homophone(views, h):
            continue
        if h.view == "pinyin" and not h.latin:
            evidence["capped_at_review"] = "homophone (same pinyin, different characters)"
        elif h.view == "initials":
            if all(
                c in _FUNCTION_CHARS for c in views.original[h.start : h.end] if ord(c) > 0x2E80
            ):
                continue  # "MB的": an acronym next to a particle is not 麻痹的
            evidence["capped_at_review"] = "initials mixed with hanzi"
        elif h.view == "skeleton" and _SENTENCE_END_RE.search(views.original, h.start, h.end):
            evidence["downgraded"] = "match spans a sentence boundary"
        elif h.view == "skeleton" and _doubled_between_words(views, h):
            # ordinary prose (域名认证证书 → 认证书) or a doubling typed at a word junction to
            # break a term: either way a human decides, the post is not blocked outright
            evidence["capped_at_review"] = "a doubled character ends one word and starts the next"
        out.append(
            Finding(
                detector="lexicon",
                rule=f"lexicon:{lex.category}:{h.pattern.term}",
                category=lex.category,
                severity="low" if "downgraded" in evidence else lex.severity,
                action="warn" if "downgraded" in evidence else lex.action,
                field=field,
                start=h.start,
                end=h.end,
                text=views.original[h.start : h.end],
                evidence=evidence,
            )
        )
    return out


def _roster_finding(field: str, views: Views, roster: Sequence[RosterEntry], h: Hit) -> Finding:
    entry = owner_of(roster, h.pattern.owner)
    return Finding(
        detector="person",
        rule=f"executive:{entry.name}",
        category="executive",
        severity="medium",
        action="review",
        field=field,
        start=h.start,
        end=h.end,
        text=views.original[h.start : h.end],
        evidence={
            "name": entry.name,
            "role": entry.role,
            "matched_alias": h.pattern.term,
            "view": h.view,
        },
    )


def _covered_text(views: Views, h: Hit) -> str:
    """The skeleton characters a pinyin or reversed hit covers, in reading order."""
    if h.view == "reversed":
        return views.reversed.text[h.vstart : h.vend][::-1]
    return views.skeleton.text[h.vstart : h.vend]


def _ordinary_homophone(views: Views, h: Hit) -> bool:
    """A same-pinyin match in hanzi that reads as ordinary prose: it skips punctuation or spaces,
    straddles jieba words (例|远远|超 ≠ 李源潮), or is made only of dictionary words (技术总监)."""
    covered = views.skeleton.text[h.vstart : h.vend]
    if h.end - h.start != len(covered):
        return True
    return crosses_boundary(views.skeleton.text, h.vstart, h.vend) or all_words(covered)


def _doubled_between_words(views: Views, h: Hit) -> bool:
    """Whether a skeleton hit exists only because the skeleton collapsed doubled characters that
    the text uses as the end of one dictionary word and the start of the next (域名认证|证书 is
    not 认证书), not as a repeat typed to break up a term (法法轮轮功 keeps its finding)."""
    canon = views.canon
    text = canon.text
    starts = canon.arrays()[1]
    a = int(starts.searchsorted(h.start))
    b = int(starts.searchsorted(h.end))
    keys = term_keys(h.pattern.term)
    if keys is not None and keys[0] in text[a:b]:
        return False  # the term is there as typed; doubled characters around it change nothing
    pairs = [k for k in range(a, b - 1) if text[k] == text[k + 1] and not text[k].isdigit()]
    return bool(pairs) and all(
        any(is_word(text[j : k + 1]) for j in range(max(0, k - 3), k))
        and any(is_word(text[k + 1 : e]) for e in range(k + 3, min(len(text), k + 5) + 1))
        for k in pairs
    )
