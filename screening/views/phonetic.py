"""Phonetic views: pinyin and initials of the skeleton, with unit (syllable) boundaries."""

from __future__ import annotations

import functools
from functools import cache

import numpy as np

from screening.views.chars import _tables, pinyin_table
from screening.views.view import View, _letters_string


class UnitView:
    """A pinyin/initials rendering of a view (the skeleton): ``text`` is the phonetic string.

    Each source character (unit) becomes one piece: a hanzi its syllable (pinyin) or initial, a
    Latin letter itself, anything else itself as a barrier. :meth:`unit_starts` gives where
    each piece starts in ``text``.
    """

    __slots__ = (
        "_edges",
        "_hanzi",
        "_initial",
        "_initials",
        "_latin",
        "_starts",
        "_text",
        "_windows",
        "source",
    )

    def __init__(self, source: View, text: str | None, initials: bool) -> None:
        self.source = source
        self._text = text
        self._initials = initials
        self._starts: np.ndarray | None = None
        self._edges: np.ndarray | None = None
        self._latin: np.ndarray | None = None
        self._hanzi: np.ndarray | None = None
        self._initial: np.ndarray | None = None
        self._windows: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def text(self) -> str:
        """The phonetic string (built on first use: the matcher scans the initials view only in
        windows around Latin/hanzi edges, see :meth:`masked_text`)."""
        if self._text is None:
            if self._initials:
                self._text = _letters_string(self._initial_codes())
            else:
                self._spell()
        assert self._text is not None
        return self._text

    def _spell(self) -> None:
        """Pinyin string and piece starts by array operations: each output position takes the
        letter at its offset within its unit's piece (a flat table of all pieces), or the unit's
        own character when it has no reading."""
        tables = _tables()
        codes = self.source.codes
        lengths = tables.pinyin_len[codes].astype(np.int64)
        starts = np.cumsum(lengths) - lengths
        unit = np.repeat(np.arange(len(codes)), lengths)
        own = codes[unit]
        offset = np.arange(len(unit)) - starts[unit]
        letters = tables.letters[tables.piece_at[own] + offset]
        self._text = _letters_string(np.where(tables.reading[own], letters, own))
        self._starts = starts

    def edges(self) -> np.ndarray:
        """Sorted source positions ``p`` where characters ``p - 1`` and ``p`` are a typed Latin
        letter and a hanzi (either order). A stretch mixes both iff it contains such an edge."""
        if self._edges is None:
            latin = self.latin()
            hanzi = self.hanzi()
            edge = (latin[:-1] & hanzi[1:]) | (hanzi[:-1] & latin[1:])
            self._edges = np.flatnonzero(edge) + 1
        return self._edges

    def hanzi(self) -> np.ndarray:
        """Per source character: whether it has a pinyin reading (a hanzi)."""
        if self._hanzi is None:
            self._hanzi = _tables().reading[self.source.codes]
        return self._hanzi

    def _initial_codes(self) -> np.ndarray:
        """Per source character: its initial (a hanzi) or itself."""
        if self._initial is None:
            self._initial = _tables().initial[self.source.codes]
        return self._initial

    def latin(self) -> np.ndarray:
        """Per source character: whether it was typed as a Latin letter (a-z after canon)."""
        if self._latin is None:
            codes = self.source.codes
            self._latin = (codes >= 0x61) & (codes <= 0x7A)
        return self._latin

    def mixed_windows(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Source ranges ``[lo, hi)`` (sorted, disjoint, as two arrays) holding every stretch of
        at most ``width`` characters that mixes typed Latin letters and hanzi and neither starts
        nor ends inside a run of Latin letters. Such a stretch holds a whole run ``[s, e)`` next
        to a hanzi, with ``e - s < width``, so it lies within ``[e - width, s + width)``: only
        short runs next to hanzi get a window, and a narrow one (a third of what a window of
        ``width - 1`` around every Latin/hanzi edge covers in Latin-heavy prose)."""
        cached = self._windows.get(width)
        if cached is None:
            latin = self.latin()
            n = len(latin)
            padded = np.concatenate(([False], latin, [False]))
            change = np.flatnonzero(padded[1:] != padded[:-1])
            s, e = change[0::2], change[1::2]  # runs of Latin letters: [s, e)
            hanzi = self.hanzi()
            near = (s > 0) & hanzi[np.maximum(s - 1, 0)]
            near |= (e < n) & hanzi[np.minimum(e, n - 1)]
            keep = near & (e - s < width)
            lo = np.maximum(e[keep] - width, 0)  # both ascend: runs are ordered and disjoint
            hi = np.minimum(s[keep] + width, n)
            if len(lo):
                new = np.flatnonzero(np.concatenate(([True], lo[1:] > hi[:-1])))
                last = np.concatenate((new[1:] - 1, [len(lo) - 1]))
                lo, hi = lo[new], hi[last]
            cached = self._windows[width] = (lo, hi)
        return cached

    def masked_text(self, width: int) -> str:
        """The phonetic string with every position outside :meth:`mixed_windows` turned into a
        NUL barrier (initials only: pieces are one letter, so positions stay source positions);
        scanning it finds exactly the matches inside the windows."""
        lo, hi = self.mixed_windows(width)
        codes = self.source.codes
        inside = np.zeros(len(codes) + 1, dtype=np.int8)
        inside[lo] = 1  # windows are disjoint and apart (each hi < the next lo): no collisions
        inside[hi] = -1
        keep = np.cumsum(inside[:-1]) > 0
        return _letters_string(np.where(keep, self._initial_codes(), 0))

    def latin_count(self, u: int, v: int) -> int:
        """How many source characters in ``[u, v)`` were typed as Latin letters (matches are
        short: counting the slice beats a prefix sum over the whole text)."""
        return sum(map(_LATIN.__contains__, self.source.text[u:v]))

    def unit_starts(self, lo: int = 0, hi: int | None = None) -> list[int]:
        """Position in ``text`` where each source character's piece starts (for the characters
        ``[lo, hi)``)."""
        return self._start_array()[lo:hi].tolist()

    def _start_array(self) -> np.ndarray:
        """:meth:`unit_starts` as an array (built on first use with one cumulative sum over the
        pieces' lengths; a list of all of them costs more than the few lookups a text needs)."""
        if self._starts is None:
            if self._initials:  # every piece is one character
                self._starts = np.arange(len(self.source.text))
            else:
                self._spell()
        assert self._starts is not None
        return self._starts

    def unit_at(self, pos: int, *, syllables: bool = False) -> int | None:
        """The source index whose piece starts at ``pos`` (``len`` at the end); ``None`` if
        ``pos`` is inside a syllable or inside a run of Latin letters; with ``syllables``, a
        position inside a run of Latin letters is allowed where the run, read as run-together
        pinyin, can have a syllable boundary (wo|ai|xi|an: xian is xi'an as well as xian)."""
        src = self.source.text
        n = len(src)
        if self._initials:
            u = pos
        else:
            starts = self._start_array()
            u = int(starts.searchsorted(pos))
            if u < n and starts[u] != pos:
                return None  # inside a syllable
            if u == n and pos != len(self.text):
                return None
        if not inside_latin_run(src, u):
            return u
        if not syllables:
            return None
        lo, hi = latin_run(src, u)
        return u if syllable_boundary(src[lo:hi], u - lo) else None


_LATIN = frozenset("abcdefghijklmnopqrstuvwxyz")


def latin_run(text: str, pos: int) -> tuple[int, int]:
    """The run of Latin letters around ``pos`` (a position inside it), as ``[lo, hi)``."""
    lo, hi = pos, pos
    while lo > 0 and text[lo - 1] in _LATIN:
        lo -= 1
    while hi < len(text) and text[hi] in _LATIN:
        hi += 1
    return lo, hi


#: Longest toneless syllable (zhuang, chuang, shuang).
_MAX_SYLLABLE = 6


@cache
def _syllables() -> frozenset[str]:
    """Every toneless reading with a vowel (n, m, ng, hm are left out: they split anything)."""
    return frozenset(p for p in pinyin_table().values() if any(v in p for v in "aeiouv"))


@functools.lru_cache(maxsize=4096)
def _boundaries(run: str) -> frozenset[int]:
    """Positions of ``run`` that are a syllable boundary in some reading of the whole run as
    pinyin syllables; empty when the run is not pinyin."""
    n = len(run)
    syl = _syllables()
    ahead = [False] * (n + 1)  # a segmentation of run[:i] exists
    ahead[0] = True
    for i in range(n):
        if ahead[i]:
            for j in range(i + 1, min(n, i + _MAX_SYLLABLE) + 1):
                if run[i:j] in syl:
                    ahead[j] = True
    behind = [False] * (n + 1)  # a segmentation of run[i:] exists
    behind[n] = True
    for i in range(n - 1, -1, -1):
        behind[i] = any(
            behind[j] and run[i:j] in syl for j in range(i + 1, min(n, i + _MAX_SYLLABLE) + 1)
        )
    if not behind[0]:
        return frozenset()
    return frozenset(i for i in range(n + 1) if ahead[i] and behind[i])


def syllable_boundary(run: str, cut: int) -> bool:
    """Whether ``run`` (Latin letters) reads as pinyin syllables with a boundary at ``cut``."""
    return cut in _boundaries(run)


def inside_latin_run(text: str, pos: int) -> bool:
    """Whether ``pos`` falls between two Latin letters of ``text`` (a-z: canon lowercases)."""
    return 0 < pos < len(text) and text[pos] in _LATIN and text[pos - 1] in _LATIN


@cache
def _phonetic_tables(initials: bool) -> dict[int, str]:
    """``str.translate`` table: char → piece (pinyin or initial; Latin letters map to
    themselves), for lexicon terms (texts are spelled out by :meth:`UnitView.text`)."""
    pieces = {c: (p[0] if initials else p) for c, p in pinyin_table().items()}
    return {ord(c): p for c, p in pieces.items()}


def phonetic(view: View, *, initials: bool) -> UnitView:
    """Pinyin (or initials) of ``view``: hanzi become syllables, Latin letters stay, anything else
    stays as itself and acts as a barrier (lexicon keys are a-z only). Spelled out on first
    use of ``text``."""
    return UnitView(view, None, initials)
