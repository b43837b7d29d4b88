"""Per-character tables shared by the views: the canon table (case, width, number and letter
styles, Bopomofo, traditional → simplified, invisible characters), the skeleton's skip set and
look-alike and split-character folds, pinyin readings, and their per-code-point numpy arrays."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from screening.views.view import _codes

_DATA_DIR = Path(__file__).parent.parent / "data"

_RLO_OPEN = {"\u202e", "\u202b"}  # RIGHT-TO-LEFT OVERRIDE / EMBEDDING
_RLO_CLOSE = {"\u202c", "\n", "\u2029"}  # POP DIRECTIONAL FORMATTING, end of line/paragraph
_KEEP_CONTROLS = {"\n", "\t", "\r"}

_BOPOMOFO = dict(
    zip(
        "ㄅㄆㄇㄈㄉㄊㄋㄌㄍㄎㄏㄐㄑㄒㄓㄔㄕㄖㄗㄘㄙㄚㄛㄜㄝㄞㄟㄠㄡㄢㄣㄤㄥㄦㄧㄨㄩ",
        "b p m f d t n l g k h j q x zh ch sh r z c s "  # noqa: SIM905 - a table, not a list
        "a o e e ai ei ao ou an en ang eng er i u v".split(),
        strict=True,
    )
)

# Bopomofo finals that read differently together than letter by letter (ㄨㄣ = un, not uen).
_BOPOMOFO_PAIRS = {
    "ㄨㄣ": "un",
    "ㄨㄥ": "ong",
    "ㄧㄥ": "ing",
    "ㄧㄣ": "in",
    "ㄩㄣ": "un",
    "ㄧㄢ": "ian",
    "ㄨㄢ": "uan",
    "ㄧㄠ": "iao",
    "ㄧㄡ": "iu",
    "ㄨㄟ": "ui",
    "ㄨㄛ": "uo",
    "ㄧㄚ": "ia",
    "ㄨㄚ": "ua",
    "ㄧㄤ": "iang",
    "ㄨㄤ": "uang",
    "ㄩㄝ": "ve",
    "ㄩㄥ": "iong",
    "ㄧㄝ": "ie",
    "ㄩㄢ": "uan",
    "ㄨㄞ": "uai",
}

# Chinese and financial numerals, used only by the digits view (一 stays 一 in canon so that
# lexicon terms such as 一党专政 keep their pinyin and jieba segmentation).
_CN_DIGITS = dict(
    zip(
        "零〇○一二三四五六七八九壹贰貳叁參叄肆伍陆陸柒捌玖幺",
        "00012345678912233345667891",
        strict=True,
    )
)
#: Separators the squeezed view removes between single letters or digits (x.j.p, 8·9·6·4).
SQUEEZE_SEPARATORS = " .·・-_*/|,'~+"
_DIGIT_SEPARATORS = frozenset(" \u3000\t-‐‑–—.·・_*#/~()（）[]【】<>《》'\"|,，、")

# Look-alike (形近字) and 火星文 folds, applied in the skeleton view only.
_LOOKALIKE = {
    "刁": "习",
    "尛": "小",
    "釹": "女",
    "孑": "子",
    "孒": "子",
    "氺": "水",
    "朩": "木",
    "囗": "口",
    "丬": "将",
    "卝": "丱",
    "菿": "到",
    "犇": "奔",
    "猋": "飙",
    "莋": "做",
    "媄": "美",
    "嘂": "叫",
    "槑": "梅",
    "靐": "雷",
    "兲": "天",
    "叒": "又",
    "孓": "子",
    "曱": "甲",
    "甴": "由",
    "乜": "也",
    "冇": "没",
    "囧": "窘",
    "烎": "火",
    "挋": "振",
    "亻": "人",
    "扌": "手",
    "纟": "丝",
    "钅": "金",
    "讠": "言",
    "饣": "食",
}
# Split characters (拆字): two components read as one character. Skeleton view only.
_SPLIT = {
    "氵去": "法",
    "水去": "法",
    "三点水去": "法",
    "車欠": "软",
    "车欠": "软",
    "石更": "硬",
    "弓长": "张",
    "口天": "吴",
    "木子": "李",
    "十八子": "李",
    "文刂": "刘",
    "言射": "谢",
    "冫水": "冰",
    "讠十": "计",
    "讠兑": "说",
    "亻尔": "你",
    "女昌": "娼",
    "女支": "妓",
    "犭由": "油",
    "犭句": "狗",
}


def _read_pairs(name: str) -> dict[str, str]:
    """A generated two-column table of ``screening/data`` (``#`` lines are its header)."""
    out: dict[str, str] = {}
    for line in (_DATA_DIR / name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            src, dst = line.split("\t")
            out[src] = dst
    return out


@cache
def lookalike_table() -> dict[str, str]:
    """Skeleton folds: the hand-made look-alike table, then Unicode's confusables (Cyrillic а → a,
    katakana ロ → 口, …; see :mod:`screening.evasion_tables`) for characters it does not list."""
    t2s = _t2s()
    table = {src: t2s.get(dst, dst) for src, dst in _read_pairs("confusables.tsv").items()}
    table.update(_LOOKALIKE)
    return table


@cache
def lookalike_translation() -> dict[int, str]:
    """:func:`lookalike_table` for ``str.translate``."""
    return {ord(k): v for k, v in lookalike_table().items()}


@cache
def shape_table() -> dict[str, str]:
    """Rare character → the common character it looks like (形近字; the ``shape`` view only)."""
    return _read_pairs("shape.tsv")


@cache
def second_readings() -> dict[str, str]:
    """Polyphonic character → its second reading in use (重 → chong; ``data/polyphonic.tsv``),
    function words (了, 的, 和: marked ``*``) left out."""
    out: dict[str, str] = {}
    for line in (_DATA_DIR / "polyphonic.tsv").read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if line.startswith("#") or len(fields) > 2:
            continue
        out[fields[0]] = fields[1].split(",")[1]
    return out


@dataclass(frozen=True)
class PieceArrays:
    """Per-code-point arrays that spell a pinyin string: each hanzi's piece length, its offset
    in ``letters`` (every reading, concatenated), and whether it has a reading."""

    length: np.ndarray
    at: np.ndarray
    letters: np.ndarray


def _piece_arrays(readings: Mapping[str, str]) -> PieceArrays:
    length = np.ones(_UNICODE, dtype=np.uint8)
    length[np.fromiter(map(ord, readings), np.int64, len(readings))] = np.fromiter(
        map(len, readings.values()), np.uint8, len(readings)
    )
    pieces = list(readings.items())
    at = np.zeros(_UNICODE, dtype=np.int32)
    at[np.fromiter((ord(c) for c, _ in pieces), np.int64, len(pieces))] = np.cumsum(
        [0] + [len(p) for _, p in pieces[:-1]]
    )
    return PieceArrays(length, at, _codes("".join(p for _, p in pieces)))


@cache
def second_reading_pieces() -> PieceArrays:
    """:class:`PieceArrays` with polyphonic characters read their second way (the alternative
    pinyin string)."""
    return _piece_arrays({**pinyin_table(), **second_readings()})


@cache
def _t2s() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in (_DATA_DIR / "t2s.tsv").read_text(encoding="utf-8").splitlines():
        src, dst = line.split("\t")
        table[src] = dst
    return table


@cache
def pinyin_table() -> dict[str, str]:
    """CJK character → toneless pinyin of its first reading (generated by screening.tables)."""
    table: dict[str, str] = {}
    for line in (_DATA_DIR / "pinyin.tsv").read_text(encoding="utf-8").splitlines():
        src, dst = line.split("\t")
        table[src] = dst
    return table


def _number_styles() -> dict[str, str]:
    out: dict[str, str] = {}

    def run(first: int, values: list[str]) -> None:
        for i, v in enumerate(values):
            out[chr(first + i)] = v

    one_to_20 = [str(i) for i in range(1, 21)]
    run(0x2460, one_to_20)  # ①-⑳
    run(0x2474, one_to_20)  # ⑴-⒇
    run(0x2488, one_to_20)  # ⒈-⒛
    run(0x24EB, [str(i) for i in range(11, 21)])  # ⓫-⓴
    run(0x24F5, [str(i) for i in range(1, 11)])  # ⓵-⓾
    run(0x2776, [str(i) for i in range(1, 11)])  # ❶-❿
    run(0x2780, [str(i) for i in range(1, 11)])  # ➀-➉
    run(0x278A, [str(i) for i in range(1, 11)])  # ➊-➓
    run(0x3251, [str(i) for i in range(21, 36)])  # ㉑-㉟
    run(0x32B1, [str(i) for i in range(36, 51)])  # ㊱-㊿
    run(0x3248, [str(i) for i in range(10, 90, 10)])  # ㉈-㉏ (on a black square)
    run(0x2160, [str(i) for i in range(1, 13)])  # Ⅰ-Ⅻ
    run(0x2170, [str(i) for i in range(1, 13)])  # ⅰ-ⅻ
    cn = "一二三四五六七八九十"
    run(0x3220, list(cn))  # ㈠-㈩ → Chinese numerals (digits view turns them into digits)
    run(0x3280, list(cn))  # ㊀-㊉
    for ch in "⓪⓿🄀🄁🄋🄌":
        out[ch] = "0"
    run(0x1F102, [str(i) for i in range(1, 10)])  # 🄂-🄊 (DIGIT ONE COMMA …)
    out["〇"] = "〇"
    return out


_SMALL_CAPS = dict(zip("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡʏᴢ", "abcdefghijklmnopqrstuvwyz", strict=True))


def _cjk_ideograph(ch: str) -> bool:
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x3134F


def _enclosed(ch: str, nf: str) -> str:
    """What an enclosed, circled, parenthesised or squared form stands for, when NFKC says it is
    one hanzi (㊙ → 秘, ㈱ → 株, 🈲 → 禁, Kangxi radical ⼯ → 工, compatibility ideographs) or a
    number up to 99 (㉈ → 10, ⑽ → 10); "" otherwise."""
    if nf == ch:
        return ""
    core = nf.strip("()").rstrip(".,")
    if len(core) == 1 and _cjk_ideograph(core):
        return core
    if (
        1 < len(core) <= 2
        and core.isascii()
        and core.isdigit()
        and unicodedata.category(ch)
        in (
            "No",
            "So",
        )
    ):
        return core
    return ""


def _is_invisible(ch: str) -> bool:
    cat = unicodedata.category(ch)
    if cat == "Cf":
        return True
    if cat == "Cc":
        return ch not in _KEEP_CONTROLS
    cp = ord(ch)
    return 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or ch in "\u034f\u115f\u1160\u3164"


@cache
def _char_table() -> dict[str, str]:
    """The canon per-character table (value "" deletes the character)."""
    table: dict[str, str] = {}
    ranges = [
        (0x20, 0x3400),
        (0xA000, 0xFFFF),
        (0x1D400, 0x1D800),
        (0x1F100, 0x1F300),
        (0x2F800, 0x2FA20),
    ]
    for lo, hi in ranges:
        for cp in range(lo, hi):
            ch = chr(cp)
            if _is_invisible(ch):
                table[ch] = ""
                continue
            nf = unicodedata.normalize("NFKC", ch)
            if len(nf) == 1 and nf != ch and nf.isascii() and nf.isalnum():
                table[ch] = nf.lower()
                continue
            enclosed = _enclosed(ch, nf)
            if enclosed:
                table[ch] = enclosed
                continue
            low = ch.lower()
            if low != ch and len(low) == 1:
                table[ch] = low
    for cp in range(0x0, 0x20):
        if chr(cp) not in _KEEP_CONTROLS:
            table[chr(cp)] = ""
    for cp in [*range(0x7F, 0xA0), 0x2028, 0x2029]:
        table[chr(cp)] = "" if cp != 0x2029 else "\n"
    for cp in range(0xD800, 0xE000):  # lone surrogates (invalid Unicode smuggled through JSON)
        table[chr(cp)] = ""
    for cp in range(0xE0000, 0xE0080):
        table[chr(cp)] = ""
    for cp in range(0xE0100, 0xE01F0):
        table[chr(cp)] = ""
    for cp in range(0x1F1E6, 0x1F200):  # regional indicators 🇦 → a
        table[chr(cp)] = chr(ord("a") + cp - 0x1F1E6)
    for base, first in ((0x1F130, "a"), (0x1F150, "a"), (0x1F170, "a"), (0x1F110, "a")):
        for i in range(26):
            table[chr(base + i)] = chr(ord(first) + i)
    for base in (0x24B6, 0x24D0, 0x249C):  # Ⓐ ⓐ ⒜
        for i in range(26):
            table[chr(base + i)] = chr(ord("a") + i)
    for cp in range(0xFF01, 0xFF5F):  # full-width ASCII, including punctuation (＠ ．)
        table[chr(cp)] = chr(cp - 0xFEE0).lower()
    table["\u3000"] = " "
    table.update(_SMALL_CAPS)
    table.update(_number_styles())
    table.update(_BOPOMOFO)
    for src, dst in _t2s().items():
        table[src] = table.get(dst, dst)
    t2s = _t2s()
    for src, dst in list(table.items()):  # ㊖ → 財 → 财
        if dst in t2s:
            table[src] = t2s[dst]
    # RLO markers are consumed by the reordering step; keep them out of the plain table path.
    for ch in _RLO_OPEN | {"\u202c"}:
        table[ch] = ""
    return {k: v for k, v in table.items() if k != v}


@cache
def _skip_set() -> frozenset[str]:
    """Characters the skeleton view drops: punctuation, separators, symbols, and the whole
    emoji and pictograph block U+1F000-U+1FAFF (canon has already turned its letter and digit
    forms into letters and digits; the rest is symbols, or emoji newer than this Python's
    Unicode data, which should be skipped as well). One block rather than its ~40 symbol runs
    keeps the skip regex fast: ``re`` tests a class with many astral ranges range by range
    (0.7 ms per 5,000 characters, 0.27 ms with the BMP ranges and one astral range)."""
    out = {chr(cp) for cp in range(0x1F000, 0x1FB00)}
    for lo, hi in ((0x0, 0x3400), (0xA000, 0x10000)):
        for cp in range(lo, hi):
            ch = chr(cp)
            cat = unicodedata.category(ch)
            if cat[0] in "PSZ" or ch in " \t\r\n":
                out.add(ch)
    return frozenset(out)


@dataclass(frozen=True)
class _Tables:
    """Per-code-point lookup arrays over all of Unicode (~19 MB, built once per process)."""

    canon: np.ndarray  # 1:1 canon mapping
    delete: np.ndarray  # canon deletes the character
    special: np.ndarray  # canon needs the per-character path (expansions, Bopomofo, RLO)
    skip: np.ndarray  # the skeleton drops the character
    lookalike: np.ndarray  # look-alike folding (skeleton)
    shape: np.ndarray  # rare look-alike → common character (the shape view)
    shaped: np.ndarray  # the shape view changes the character
    latin_fold: np.ndarray  # a look-alike of a Latin letter or digit (squeezed view folds it)
    alnum: np.ndarray  # a-z, 0-9
    polyphone: np.ndarray  # a character with a second reading in use (重, 行, 长)
    squeeze_sep: np.ndarray  # a separator the squeezed view removes between single characters
    digit_sep: np.ndarray  # the digits view drops the character
    digit: np.ndarray  # Chinese and financial numerals → ASCII digits
    pinyin_len: np.ndarray  # letters of the character's pinyin piece (1 without a reading)
    reading: np.ndarray  # the character has a pinyin reading (a hanzi)
    initial: np.ndarray  # hanzi → the first letter of its reading
    split_pen: np.ndarray  # the last but one character of a split sequence (氵 of 氵去)
    split_last: np.ndarray  # the last character of a split sequence (去 of 氵去)
    piece_at: np.ndarray  # hanzi → offset of its reading in ``letters``
    letters: np.ndarray  # every reading, concatenated (code points)


_UNICODE = 0x110000
#: Below this length the per-character paths are faster than array set-up (lexicon terms,
#: titles); both give the same views (property-tested).
_ARRAY_FROM = 48


def _lookup(table: Mapping[str, str]) -> np.ndarray:
    out = np.arange(_UNICODE, dtype=np.uint32)
    if table:
        out[np.fromiter(map(ord, table), np.int64, len(table))] = np.fromiter(
            map(ord, table.values()), np.uint32, len(table)
        )
    return out


def _mask(chars: Iterable[str]) -> np.ndarray:
    out = np.zeros(_UNICODE, dtype=bool)
    out[np.fromiter(map(ord, chars), np.int64)] = True
    return out


@cache
def _split_char_table() -> tuple[dict[str, str], frozenset[str], frozenset[str]]:
    """The canon table in three parts: 1:1 mappings, deletions, and the characters that need
    the per-character path (expansions, Bopomofo, RLO markers)."""
    one_to_one: dict[str, str] = {}
    deleted: set[str] = set()
    special: set[str] = set()
    for k, v in _char_table().items():
        if k in _RLO_OPEN or k in _BOPOMOFO or len(v) > 1:
            special.add(k)
        elif v == "":
            deleted.add(k)
        else:
            one_to_one[k] = v
    return one_to_one, frozenset(deleted), frozenset(special)


@cache
def _short_tables() -> tuple[dict[str, str], frozenset[str]]:
    """For short texts: the 1:1 canon mappings, and every character needing the per-character
    path (there, deletions too)."""
    one_to_one, deleted, special = _split_char_table()
    return one_to_one, deleted | special


@cache
def _tables() -> _Tables:
    one_to_one, deleted, special = _split_char_table()
    pinyin_len = np.ones(_UNICODE, dtype=np.uint8)
    readings = pinyin_table()
    pinyin_len[np.fromiter(map(ord, readings), np.int64, len(readings))] = np.fromiter(
        map(len, readings.values()), np.uint8, len(readings)
    )
    pieces = list(readings.items())
    flat = "".join(p for _, p in pieces)
    piece_at = np.zeros(_UNICODE, dtype=np.int32)
    piece_at[np.fromiter((ord(c) for c, _ in pieces), np.int64, len(pieces))] = np.cumsum(
        [0] + [len(p) for _, p in pieces[:-1]]
    )
    return _Tables(
        canon=_lookup(one_to_one),
        delete=_mask(deleted),
        special=_mask(special),
        skip=_mask(_skip_set()),
        lookalike=_lookup(lookalike_table()),
        shape=_lookup(shape_table()),
        shaped=_mask(shape_table()),
        latin_fold=_mask(k for k, v in lookalike_table().items() if v.isascii()),
        alnum=_mask("abcdefghijklmnopqrstuvwxyz0123456789"),
        polyphone=_mask(second_readings()),
        squeeze_sep=_mask(SQUEEZE_SEPARATORS),
        digit_sep=_mask(_DIGIT_SEPARATORS),
        digit=_lookup(_CN_DIGITS),
        pinyin_len=pinyin_len,
        reading=_mask(readings),
        initial=_lookup({c: p[0] for c, p in readings.items()}),
        split_pen=_mask(k[-2] for k in _SPLIT),
        split_last=_mask(k[-1] for k in _SPLIT),
        piece_at=piece_at,
        letters=_codes(flat),
    )
