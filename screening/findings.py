"""Findings: what a detector found, where, and why.

A finding is frozen: later stages (merge, allow-list, decide) build new findings instead of
mutating old ones. Spans are character offsets into the *original* text of one post field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["low", "medium", "high", "critical"]
Action = Literal["block", "review", "warn"]

SEVERITY_ORDER: Mapping[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True, slots=True)
class Finding:
    """One match in one field of a post."""

    detector: str  # "lexicon", "pii", "financial", "person", "classifier", "combination", ...
    rule: str  # stable rule id, e.g. "lexicon:state_secret:绝密" or "pii:resident_id"
    category: str  # policy category, e.g. "state_secret", "financial", "vulgar"
    severity: Severity
    action: Action
    field: str  # "title", "digest", "content", "author", "source"
    start: int  # offset into the original text of `field`
    end: int  # exclusive
    text: str  # original[start:end]
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The FINDING shape of the HTTP API."""
        return {
            "detector": self.detector,
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity,
            "action": self.action,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "evidence": dict(self.evidence),
        }
