"""Combination rules over lexicon hits: ``near`` (A within N characters of B) and ``andnot``
(A present and none of C). This is where ambiguous words are handled (大麻 near 吸食/种植)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from screening.findings import Finding
from screening.lexicon import Lexicon
from screening.matcher import Hit

logger = logging.getLogger(__name__)


def scan(
    field: str, original: str, lexicons: Sequence[Lexicon], hits: Sequence[Hit]
) -> list[Finding]:
    """Findings of every combination rule whose condition holds in this field."""
    spans: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for h in hits:
        if h.pattern.kind == "combo" and h.view in ("canon", "skeleton"):
            spans.setdefault((h.pattern.owner, h.pattern.term), []).append((h.start, h.end))
    if not spans:
        return []
    out: list[Finding] = []
    for li, lex in enumerate(lexicons):
        for rule in lex.rules:
            left = [s for t in rule.left for s in spans.get((li, t), [])]
            if not left:
                continue
            right = [s for t in rule.right for s in spans.get((li, t), [])]
            if rule.kind == "andnot":
                if right:
                    continue
                pairs = [(s, s) for s in left]
            else:
                pairs = [
                    (a, b)
                    for a in left
                    for b in right
                    if max(a[0], b[0]) - min(a[1], b[1]) <= rule.window_chars
                ]
            for a, b in pairs[:20]:
                start, end = min(a[0], b[0]), max(a[1], b[1])
                out.append(
                    Finding(
                        detector="combination",
                        rule=f"combination:{lex.category}:{rule.rule_id}",
                        category=lex.category,
                        severity=lex.severity,
                        action=lex.action,
                        field=field,
                        start=start,
                        end=end,
                        text=original[start:end],
                        evidence={
                            "lexicon": lex.name,
                            "version": lex.version,
                            "left": original[a[0] : a[1]],
                            "right": original[b[0] : b[1]] if rule.kind == "near" else None,
                        },
                    )
                )
    return out
