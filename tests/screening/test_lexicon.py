"""Lexicon files: format, validation with file:line, all-or-nothing loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from screening.lexicon import Lexicon, LexiconError, load_directory, load_lexicon, parse_lexicon

GOOD = """# category: state_secret
# action: block
# severity: critical
# source: test
# version: 7
# a free comment
绝密
机密★
!绝密期限已过
@near 5: 大麻 | 吸食, 种植
@andnot: 内部资料 | 已公开
"""


def test_parse_good() -> None:
    lex = parse_lexicon(GOOD, name="x.txt")
    assert lex.category == "state_secret" and lex.action == "block"
    assert lex.severity == "critical" and lex.version == "7" and lex.source == "test"
    assert lex.terms == ("绝密", "机密★")
    assert lex.allow == ("绝密期限已过",)
    assert [r.kind for r in lex.rules] == ["near", "andnot"]
    assert lex.rules[0].window_chars == 5 and lex.rules[0].right == ("吸食", "种植")


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("# action: block\n绝密\n", 1, "missing header '# category"),
        ("# category: x\n绝密\n", 1, "missing header '# action"),
        ("# category: x\n# action: delete\n", 2, "bad action"),
        ("# category: x\n# action: block\n# severity: huge\n", 3, "bad severity"),
        ("# category: Bad-Name\n# action: block\n", 1, "bad category"),
        ("# category: x\n# action: block\n绝密\n# version: 2\n", 4, "after the first term"),
        ("# category: x\n# action: block\n绝\n", 3, "single-character"),
        ("# category: x\n# action: block\n绝\x01密\n", 3, "control characters"),
        ("# category: x\n# action: block\n@near x: a | b\n", 3, "malformed rule"),
        ("# category: x\n# category: y\n# action: block\n", 2, "duplicate header"),
        ("# category: x\n# action: block\n" + "密" * 65 + "\n", 3, "longer than"),
    ],
)
def test_malformed_names_file_and_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(LexiconError) as info:
        parse_lexicon(text, name="lex.txt")
    assert info.value.where == f"lex.txt:{line}"
    assert problem in info.value.problem


def test_directory_is_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.txt").write_text("# category: x\n# action: block\nok term\n密\n", "utf-8")
    with pytest.raises(LexiconError, match=r"b\.txt:4"):
        load_directory(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes("# category: x\n# action: block\n绝密\n".encode("gbk"))
    with pytest.raises(LexiconError, match="not UTF-8"):
        load_lexicon(path)


def test_name_is_file_stem(tmp_path: Path) -> None:
    (tmp_path / "codes.txt").write_text(GOOD, encoding="utf-8")
    assert load_directory(tmp_path)[0].name == "codes"


def test_from_terms_validates() -> None:
    lex = Lexicon.from_terms("admin", "unit_codenames", ["星河计划", "星河计划"], action="block")
    assert lex.terms == ("星河计划",)
    with pytest.raises(LexiconError, match="admin:2"):
        Lexicon.from_terms("admin", "unit_codenames", ["星河计划", "x"])
    with pytest.raises(LexiconError):
        Lexicon.from_terms("admin", "unit_codenames", ["abc"], action="nuke")  # type: ignore[arg-type]


def test_default_lexicons_load() -> None:
    lexicons = load_directory(Path(__file__).resolve().parents[2] / "config" / "lexicons")
    cats = {lx.category for lx in lexicons}
    assert {
        "state_secret",
        "commercial_secret",
        "political",
        "vulgar",
        "violence_contraband",
        "advertising",
        "strategy",
        "reform",
        "sensitive",
    } <= cats
    assert sum(len(lx.terms) for lx in lexicons) > 40_000
