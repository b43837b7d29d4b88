"""The class rules of the corpus-driven curation (screening/curate.py, issue #12)."""

from __future__ import annotations

import pytest

from screening.curate import DRUG_TAG, TermHits, decide
from screening.lexicon import LexiconError, parse_lexicon


def _seen(n: int) -> TermHits:
    return TermHits(counts={("gov_reports", "canon", "hit"): n}, example="…")


@pytest.mark.parametrize(
    ("source", "term", "hits", "tags", "goes_to"),
    [
        ("political", "人大常委", _seen(150), frozenset(), None),  # ordinary prose: dropped
        ("political", "台独", _seen(46), frozenset(), "political"),  # hand-kept: review
        ("political", "某某事件", None, frozenset(), "political"),  # Art. 21(2): review
        ("political", "共chang党", None, frozenset(), "political_evasion"),  # a disguise
        ("political", "军刀批发qq", None, frozenset(), "violence_contraband"),  # an ad
        ("vulgar", "傻逼", _seen(2), frozenset(), "vulgar"),  # hand-kept core: blocks
        ("vulgar", "我和姐姐", None, frozenset(), "vulgar_review"),  # common words
        ("vulgar", "新干线", None, frozenset(), "vulgar_review"),  # a dictionary word
        ("vulgar", "骚逼网站", None, frozenset(), "vulgar"),  # obscene: blocks
        ("violence_contraband", "呋塞米", None, frozenset(), "violence_contraband_review"),
        (
            "violence_contraband",
            "某某粉",
            None,
            frozenset({DRUG_TAG}),
            "violence_contraband_review",
        ),
        ("violence_contraband", "某某粉直销", None, frozenset({DRUG_TAG}), "violence_contraband"),
        ("violence_contraband", "炸弹袭击", None, frozenset(), "violence_contraband_review"),
        ("violence_contraband", "专业办理假证件", None, frozenset(), "violence_contraband"),
        ("violence_contraband", "海洛因", _seen(124), frozenset(), "violence_contraband_review"),
    ],
)
def test_decide(
    source: str, term: str, hits: TermHits | None, tags: frozenset[str], goes_to: str | None
) -> None:
    dest, why = decide(source, term, hits, tags)
    assert dest == goes_to, why
    assert why


def test_term_hits_summary() -> None:
    th = TermHits(
        counts={("a", "canon", "hit"): 2, ("a", "skeleton", "warn"): 1, ("b", "canon", "hit"): 1}
    )
    assert th.ordinary == 3
    assert th.corpora() == ["a", "b"]
    assert th.summary() == "a:canon=2 a:skeleton=~1 b:canon=1"


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("# scope: sometimes", "bad scope"),
        ("# evasion_category: Not A Category", "bad category"),
    ],
)
def test_new_headers_are_validated(header: str, problem: str) -> None:
    with pytest.raises(LexiconError, match=problem) as err:
        parse_lexicon(f"# category: x\n# action: block\n{header}\n甲乙", name="t.txt")
    assert err.value.where == "t.txt:3"


def test_new_headers_parse() -> None:
    lex = parse_lexicon(
        "# category: x\n# action: block\n# scope: marking\n# evasion_category: y_evasion\n甲乙",
        name="t.txt",
    )
    assert (lex.scope, lex.evasion_category) == ("marking", "y_evasion")
