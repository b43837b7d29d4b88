"""Normalisation views: canonical forms and offset maps back into the original text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.views import View, build_views, canonical, digits, skeleton
from screening.views.canonical import _canonical_arrays, _canonical_slow
from screening.views.digits import _digits_full
from screening.views.phonetic import _phonetic_tables
from screening.views.skeleton import _skeleton_arrays, _skeleton_full


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),
        ("Ⓕⓤc⒦", "fuck"),
        ("9⓿⁹₈③⑸⒋➃❶➊⓵", "90983544111"),
        ("㈤㊄", "五五"),
        ("ꜰᴜᴄᴋ", "fuck"),
        ("𝐟𝐮𝐜𝐤", "fuck"),
        ("習近平說", "习近平说"),
        ("a\u200bb\u200cc\u200dd\ufeffe\u00adf", "abcdef"),
        ("\u202e功轮法\u202c", "法轮功"),
        ("ㄒㄧ ㄐㄧㄣ ㄆㄧㄥ", "xi jin ping"),
        ("Ⅻ", "12"),
        ("a\x00b\x07c", "abc"),
        ("x\ud800y", "xy"),
    ],
)
def test_canonical(text: str, expected: str) -> None:
    assert canonical(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("法 @ 轮#功", "法轮功"),
        ("法法法轮轮功", "法轮功"),
        ("氵去轮功", "法轮功"),
        ("刁近平", "习近平"),
        ("1100", "1100"),
        ("哈😀哈", "哈"),
    ],
)
def test_skeleton(text: str, expected: str) -> None:
    assert skeleton(canonical(text)).text == expected


def test_digits_view() -> None:
    assert digits(canonical("壹叁捌-①③⑧ 一三八")).text == "138138138"


def test_phonetic_views() -> None:
    views = build_views("法lun功")
    assert views.pinyin.text == "falungong"
    assert views.initials.text == "flung"  # typed Latin letters stay as they are


def test_spans_point_into_original() -> None:
    text = "看\u202e志洪李\u202c的书，法\u200b轮 功"
    views = build_views(text)
    a = views.skeleton.text.index("法轮功")
    start, end = views.skeleton.span(a, a + 3)
    assert text[start:end] == "法\u200b轮 功"


_ALPHABET = st.sampled_from(
    list("法轮功习近平 ,.@①⑽㈤ＡaB\u200b\u202e\u202c😀ㄨㄣ壹二哈\n木子氵去")
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_views_are_consistent(text: str) -> None:
    views = build_views(text)
    canon = views.canon
    assert _skeleton_full(canon).text == views.skeleton.text
    assert _digits_full(canon).text == views.digits.text
    for view in (views.canon, views.skeleton, views.reversed, views.digits):
        assert len(view.starts) == len(view.text) == len(view.ends)
        for s, e in zip(view.starts, view.ends, strict=True):
            assert 0 <= s <= e <= len(text)
    assert views.reversed.text == views.skeleton.text[::-1]


def _maps(view: View) -> tuple[str, list[int], list[int]]:
    return view.text, list(view.starts), list(view.ends)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=120).map("".join))
def test_array_views_equal_the_reference_implementations(text: str) -> None:
    # long texts are normalised with whole-array operations, short ones per character: both
    # paths must give the same text and the same offset map, whatever the length
    canon = _canonical_arrays(text)
    assert _maps(canon) == _maps(_canonical_slow(text))
    assert _maps(canonical(text)) == _maps(canon)
    assert _maps(_skeleton_arrays(canon)) == _maps(_skeleton_full(canon))
    assert _maps(digits(canon)) == _maps(_digits_full(canon))
    views = build_views(text)
    rev = views.reversed
    assert list(rev.starts) == list(views.skeleton.starts)[::-1]
    assert list(rev.ends) == list(views.skeleton.ends)[::-1]
    # phonetic strings: the per-character translate tables, and where each piece starts
    skel = views.skeleton.text
    for unit_view, initials in ((views.pinyin, False), (views.initials, True)):
        table = _phonetic_tables(initials)
        assert unit_view.text == skel.translate(table)
        pieces = [len(table.get(ord(c), c)) for c in skel]
        assert unit_view.unit_starts() == [sum(pieces[:i]) for i in range(len(skel))]


@settings(max_examples=200, deadline=None)
@given(st.lists(_ALPHABET, max_size=120).map("".join))
def test_spans_are_the_min_start_and_max_end(text: str) -> None:
    # a span is answered from the first/last entries when a map is monotonic; it must equal
    # the definition (least start, greatest end) for every view and every range
    views = build_views(text)
    for view in (views.canon, views.skeleton, views.reversed, views.digits):
        starts, ends, n = view.starts, view.ends, len(view.text)
        for a in range(n + 1):
            for b in range(a + 1, min(n, a + 6) + 1):
                assert view.span(a, b) == (min(starts[a:b]), max(ends[a:b])), (text, a, b)


_MIXED = st.sampled_from([*"法轮功习近平天安门", *"flgxjpab", " ", "，", "1"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_MIXED, max_size=80).map("".join), st.integers(2, 8))
def test_mixed_windows_hold_every_mixed_stretch(text: str, width: int) -> None:
    # the initials matcher scans only inside these windows: every stretch of at most ``width``
    # characters mixing Latin letters and hanzi, not starting or ending inside a Latin run, must
    # lie inside one of them
    views = build_views(text)
    unit = views.initials
    skel = views.skeleton.text
    lo, hi = unit.mixed_windows(width)
    assert all(a < b for a, b in zip(lo, hi, strict=True))
    assert all(b < a for a, b in zip(lo[1:], hi[:-1], strict=True))  # sorted, apart

    def latin(i: int) -> bool:
        return "a" <= skel[i] <= "z"

    def hanzi(i: int) -> bool:
        return "\u4e00" <= skel[i] <= "\u9fff"

    for a in range(len(skel)):
        for b in range(a + 2, min(len(skel), a + width) + 1):
            chars = range(a, b)
            if not all(latin(i) or hanzi(i) for i in chars):
                continue  # a barrier inside: no key matches across it
            if not (any(map(latin, chars)) and any(map(hanzi, chars))):
                continue
            starts_inside = a > 0 and latin(a - 1) and latin(a)
            ends_inside = b < len(skel) and latin(b - 1) and latin(b)
            if starts_inside or ends_inside:
                continue
            assert any(x <= a and b <= y for x, y in zip(lo, hi, strict=True)), (skel, a, b)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("㊙㊎🈲㈮", "秘金禁金"),  # circled, squared and parenthesised ideographs
        ("⼝⼯", "口工"),  # Kangxi radicals
        ("㉈㉏", "1080"),  # numbers on a black square
        ("㊖", "财"),  # ㊖ is 財, then simplified
    ],
)
def test_canon_reads_enclosed_ideographs_and_numbers(text: str, expected: str) -> None:
    assert canonical(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected", "span"),
    [
        ("看 b.l.u.e 了", "看 blue 了", (2, 9)),
        ("x j p", "xjp", (0, 5)),
        ("7·3·5·5号", "7355号", (0, 7)),
        ("bluеkitе", "bluekite", (0, 8)),  # Cyrillic е folded
        ("7.3 5.5", None, None),  # mixed separators: two decimals
        ("6.4%", None, None),
        ("plain text", None, None),
    ],
)
def test_squeezed_view(text: str, expected: str | None, span: tuple[int, int] | None) -> None:
    view = build_views(text).squeezed
    if expected is None:
        assert view is None
        return
    assert view is not None and view.text == expected
    key = expected.strip("看 了号")
    a = view.text.index(key)
    assert view.span(a, a + len(key)) == span


def test_shape_view_exists_only_for_rare_look_alikes() -> None:
    assert build_views("第五纵队").shape is None
    shaped = build_views("笫五纵队").shape
    assert shaped is not None and shaped.text == "第五纵队" and shaped.span(0, 1) == (0, 1)


@pytest.mark.parametrize(
    ("run", "cut", "ok"),
    [
        ("woaixianmihui", 4, True),  # wo|ai|xian…
        ("woaixianmihui", 6, True),  # …xi|an…
        ("woaixianmihui", 5, False),  # inside xi
        ("heysaidxianmihui", 7, False),  # not pinyin as a whole
        ("xian", 2, True),  # xi'an
    ],
)
def test_syllable_boundaries_in_run_together_pinyin(run: str, cut: int, ok: bool) -> None:
    from screening.views.phonetic import syllable_boundary

    assert syllable_boundary(run, cut) is ok


# Short texts (titles, authors) take shortcuts when they hold nothing a view would change: the
# skeleton, digits, squeezed and shape views must be what the full paths make, character for
# character and span for span. Adversarial: mixed scripts, full width, pinyin, decomposed
# characters, zero-width and bidi characters, repeats, split characters, numerals, spacing.
_SHORT_CASES = [
    "",
    "华东分公司宣传组",
    "华东分公司年度员工技能大赛圆满落幕",
    "华东分公司举办员工技能大赛（第12期）",
    "法轮功",
    "法法法轮功",
    "法\u200b轮\u200d功",
    "习\u202e平近\u202c",
    "xi近平",
    "falun功",
    "ＦＡＬＵＮ功",
    "f.u.c.k 你",
    "x j p",
    "8·9·6·4",
    "六四",
    "壹叁捌",
    "①③⑧",
    "е\u0301",  # Cyrillic e and a combining acute
    "cafe\u0301 咖啡",
    "Ｃａｆé 咖啡",
    "氵去轮功",
    "笫一名",
    "泠静",
    "木子",
    "ㄈㄚˇ 轮",
    "\u3000全角\u3000空格",
    "哈哈哈哈",
    "一二三",
    "😀👍",
    "а б в",  # Cyrillic
    "Ⓕⓤⓒⓚ",
    "\ufeffBOM开头",
    "abc中文def",
]


@pytest.mark.parametrize("text", _SHORT_CASES)
def test_short_text_shortcuts_equal_the_full_paths(text: str) -> None:
    from screening.views import shape, squeezed
    from screening.views.skeleton import _shape_arrays
    from screening.views.squeezed import _squeezed_arrays

    canon = canonical(text)
    skel = skeleton(canon)
    assert _maps(skel) == _maps(_skeleton_full(canon))
    assert _maps(digits(canon)) == _maps(_digits_full(canon))
    got, want = squeezed(canon), _squeezed_arrays(canon)
    assert (got is None) == (want is None)
    if got is not None and want is not None:
        assert _maps(got) == _maps(want)
    got, want = shape(skel), _shape_arrays(skel)
    assert (got is None) == (want is None)
    if got is not None and want is not None:
        assert _maps(got) == _maps(want)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_ALPHABET | st.sampled_from(list("笫泠fuckxjp8·9·6·4ａＡé\u0301а")), max_size=47).map(
        "".join
    )
)
def test_short_text_shortcuts_equal_the_full_paths_generated(text: str) -> None:
    test_short_text_shortcuts_equal_the_full_paths(text)
