"""The window segmentation gives jieba's own tokens, and the boundary check built on it."""

from __future__ import annotations

import jieba
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.segment import (
    WINDOW_CHARS,
    all_words,
    crosses_boundary,
    person_names,
    token_ends,
    warm_up,
)

# words, single hanzi, Latin and digit runs, jieba's block punctuation (+#&._%-), spaces, CRLF,
# full-width punctuation, emoji and number styles: everything a window of canon or skeleton holds
_PIECES = st.sampled_from(
    [
        *"路口交通共产党员中央空调大麻烦岩石绝密文件的了是在和人民代表技术总监发布会今天表示",
        "路口",
        "交通",
        "共产党",
        "中央空调",
        "大麻",
        "绝密文件",
        "人大代表",
        "李源潮",
        "例远远超",
        *"aZk19",
        "linux",
        "GPU",
        "3.14",
        *"+#&._%-",
        " ",
        "\t",
        "\r\n",
        "\r",
        "\n",
        *"，。、：“”！",
        "😀",
        "①",
        "\u3000",
    ]
)


def _jieba_ends(text: str) -> list[int]:
    ends, pos = [], 0
    for tok in jieba.cut(text, HMM=False):
        pos += len(tok)
        ends.append(pos)
    return ends


@pytest.fixture(scope="module", autouse=True)
def _dictionary() -> None:
    warm_up()


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=24).map("".join))
def test_token_ends_are_jiebas(text: str) -> None:
    assert token_ends(text) == _jieba_ends(text)


def _jieba_crosses(text: str, a: int, b: int) -> bool:
    """The boundary check written directly on ``jieba.cut`` over the whole window."""
    lo, hi = max(0, a - WINDOW_CHARS), min(len(text), b + WINDOW_CHARS)
    pos, overlapping = lo, []
    for tok in jieba.cut(text[lo:hi], HMM=False):
        if pos + len(tok) > a and pos < b:
            overlapping.append((pos, pos + len(tok)))
        pos += len(tok)
    if len(overlapping) == 1:
        return overlapping[0][0] != a and overlapping[0][1] != b
    return overlapping[0][0] != a or overlapping[-1][1] != b


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=30).map("".join), st.data())
def test_crosses_boundary_is_jiebas(text: str, data: st.DataObject) -> None:
    """Segmenting only the blocks that overlap the term changes nothing."""
    a = data.draw(st.integers(0, len(text) - 1))
    b = data.draw(st.integers(a + 1, min(len(text), a + 4)))
    assert crosses_boundary(text, a, b) is _jieba_crosses(text, a, b)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\r\n\r\n",
        "a\r\nb",
        "路口交通管理很重要",
        "他是一名共产党员。",
        "这份绝密文件不得外传",
        "abc123中文def--_x",
        "产品的毛利率达到30.5%，同比增长",
        "今天是2024年1月1日",
    ],
)
def test_token_ends_table(text: str) -> None:
    assert token_ends(text) == _jieba_ends(text)


@pytest.mark.parametrize(
    ("text", "term", "crosses"),
    [
        ("前方路口交通拥堵", "口交", True),  # 路口|交通
        ("他是一名共产党员。", "产党", True),  # inside 共产党员
        ("这是一个大麻烦事", "大麻", True),  # 大|麻烦
        ("这份绝密文件不得外传", "绝密", False),  # at the start of 绝密文件
        ("他们吸食大麻被捕", "大麻", False),
    ],
)
def test_crosses_boundary(text: str, term: str, crosses: bool) -> None:
    a = text.index(term)
    assert crosses_boundary(text, a, a + len(term)) is crosses


@pytest.mark.parametrize(
    ("text", "expected"),
    [("技术总监", True), ("人民代表", True), ("发轮功", False), ("的", False), ("", True)],
)
def test_all_words(text: str, expected: bool) -> None:
    assert all_words(text) is expected


_NAMES = st.sampled_from(
    [
        *"王李张刘陈杨明华建国伟芳表示说称，。 ：“",
        "张建国",
        "李明",
        "王芳",
        "分析师",
        "董事长",
        "a1",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_NAMES, max_size=12).map("".join), st.integers(-1, 12))
def test_person_names_skip_only_blocks_that_end_early(text: str, ending_after: int) -> None:
    """Tagging from the first block that ends after ``ending_after`` finds the same names there
    as tagging the whole text."""
    whole = [n for n in person_names(text) if n[1] > ending_after]
    assert [n for n in person_names(text, ending_after) if n[1] > ending_after] == whole


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("董事长张建国", [(3, 6, "张建国")]),
        ("分析师李明", [(3, 5, "李明")]),
        ("理论的更新中,他解释", []),
    ],
)
def test_person_names(text: str, names: list[tuple[int, int, str]]) -> None:
    assert person_names(text) == names
