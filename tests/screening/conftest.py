"""Shared screening fixtures: the default screener is built once per test session (~10 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from screening.decision import DEFAULT_RULES
from screening.lexicon import Lexicon
from screening.persons import RosterEntry
from screening.pipeline import Screener

LEXICON_DIR = Path(__file__).resolve().parents[2] / "config" / "lexicons"

ROSTER = (
    RosterEntry("张建国", "director", ("张董",)),
    RosterEntry("王秀英", "supervisor"),
    RosterEntry("欧阳明辉", "executive", ("欧阳总",)),
)

CODENAMES = Lexicon.from_terms(
    "unit-codenames",
    "commercial_secret",
    ["星河计划", "天枢项目", "Project Aurora"],
    action="block",
    severity="critical",
    source="test",
    version="t1",
)


@pytest.fixture(scope="session")
def screener() -> Screener:
    """The default lexicons, default rules, a small roster and one codename list."""
    return Screener.from_directory(
        LEXICON_DIR, rules=DEFAULT_RULES, roster=ROSTER, extra_lexicons=[CODENAMES]
    )
