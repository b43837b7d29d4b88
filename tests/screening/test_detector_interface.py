"""Detectors behind one interface: the pipeline runs the configured detectors from the registry,
each on the same prepared views and hits."""

from __future__ import annotations

import pytest

from screening.decision import DEFAULT_RULES
from screening.detectors import DEFAULT_DETECTORS, REGISTRY, Prepared, resolve
from screening.lexicon import Lexicon
from screening.pipeline import Screener

CODENAMES = Lexicon.from_terms(
    "codenames", "commercial_secret", ["青鸾计划"], action="block", severity="critical"
)
TEXT = "青鸾计划的联系人手机13800138000，扣扣：一二三四五六七八，营收增长30%"


def _detectors(screener: Screener) -> set[str]:
    return {f.detector for f in screener.screen({"content": TEXT}).findings}


def test_every_registered_detector_runs_by_default() -> None:
    screener = Screener((CODENAMES,), DEFAULT_RULES)
    assert screener.detectors == DEFAULT_DETECTORS == tuple(REGISTRY)
    assert {"lexicon", "pii", "contact", "financial"} <= _detectors(screener)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("pii",), {"pii"}),
        (("contact",), {"contact"}),
        (("lexicon", "financial"), {"lexicon", "financial"}),
        ((), set()),
    ],
)
def test_only_the_configured_detectors_run(names: tuple[str, ...], expected: set[str]) -> None:
    assert _detectors(Screener((CODENAMES,), DEFAULT_RULES, detectors=names)) == expected


def test_an_unknown_detector_name_is_an_error_not_a_silent_gap() -> None:
    with pytest.raises(ValueError, match="piii"):
        Screener((CODENAMES,), DEFAULT_RULES, detectors=("lexicon", "piii"))
    with pytest.raises(ValueError):
        resolve(["contacts"])


def test_every_detector_has_its_registry_name_and_takes_the_prepared_field() -> None:
    from screening.views import build_views

    prepared = Prepared("content", build_views(TEXT), (), (CODENAMES,), ())
    for name, detector in REGISTRY.items():
        assert detector.name == name
        for f in detector.scan(prepared):
            assert f.field == "content"
            assert TEXT[f.start : f.end] == f.text
