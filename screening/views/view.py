"""The :class:`View`: a string plus, per character, the span of the original text it came from."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class View:
    """One string view of a text with per-character original spans.

    ``starts[i]``/``ends[i]`` are the half-open span of the original text that view character
    ``i`` came from. Long texts are built with whole-array numpy operations (a per-character
    Python loop costs milliseconds per article) and keep their maps as arrays, turned into
    Python lists on first use (spans are read for hits only); short ones (lexicon terms) are
    built with plain Python and convert to arrays only if asked.
    """

    __slots__ = ("_codes", "_ends", "_ends_seq", "_order", "_starts", "_starts_seq", "text")

    def __init__(
        self,
        text: str,
        starts: Sequence[int] | np.ndarray,
        ends: Sequence[int] | np.ndarray,
        codes: np.ndarray | None = None,
        order: int | None = None,
    ) -> None:
        """``order``: 1 when both maps are known never to decrease (-1: never to increase);
        otherwise it is found out on the first :meth:`span`."""
        self.text = text
        self._codes = codes
        self._starts: np.ndarray | None = None
        self._ends: np.ndarray | None = None
        self._starts_seq: Sequence[int] | None = None
        self._ends_seq: Sequence[int] | None = None
        if isinstance(starts, np.ndarray):
            self._starts = starts
        else:
            self._starts_seq = starts
        if isinstance(ends, np.ndarray):
            self._ends = ends
        else:
            self._ends_seq = ends
        self._order = order

    @property
    def codes(self) -> np.ndarray:
        """Code points of ``text``."""
        if self._codes is None:
            self._codes = _codes(self.text)
        return self._codes

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Code points, starts and ends as arrays (for building further views)."""
        if self._starts is None:
            self._starts = _array(self._starts_seq)
        if self._ends is None:
            self._ends = _array(self._ends_seq)
        return self.codes, self._starts, self._ends

    @property
    def starts(self) -> Sequence[int]:
        """Original start offset of each character."""
        if self._starts_seq is None:
            assert self._starts is not None
            self._starts_seq = self._starts.tolist()
        return self._starts_seq

    @property
    def ends(self) -> Sequence[int]:
        """Original end offset (exclusive) of each character."""
        if self._ends_seq is None:
            assert self._ends is not None
            self._ends_seq = self._ends.tolist()
        return self._ends_seq

    def span(self, a: int, b: int) -> tuple[int, int]:
        """Original ``[start, end)`` covering view characters ``[a, b)``."""
        n = len(self.text)
        if self._starts is None or self._ends is None:  # a short view: plain Python
            starts, ends = self.starts, self.ends
            if b <= a:
                pos = starts[a] if a < n else (ends[-1] if n else 0)
                return pos, pos
            return min(starts[a:b]), max(ends[a:b])
        if b <= a:
            if a < n:
                return int(self._starts[a]), int(self._starts[a])
            pos = int(self._ends[-1]) if n else 0
            return pos, pos
        if self._order is None:  # maps are non-decreasing (or, reversed, non-increasing) unless
            self._order = _order(self._starts, self._ends)  # RLO reordering moved something
        if self._order > 0:
            return int(self._starts[a]), int(self._ends[b - 1])
        if self._order < 0:
            return int(self._starts[b - 1]), int(self._ends[a])
        starts, ends = self.starts, self.ends
        return min(starts[a:b]), max(ends[a:b])


def _order(starts: np.ndarray, ends: np.ndarray) -> int:
    """1 if both maps never decrease, -1 if both never increase, else 0: a span is then just the
    first start and the last end (or the reverse) instead of a min and a max over the range."""
    if len(starts) < 2:
        return 1
    ds, de = np.diff(starts), np.diff(ends)
    if (ds >= 0).all() and (de >= 0).all():
        return 1
    if (ds <= 0).all() and (de <= 0).all():
        return -1
    return 0


def _kept_order(view: View) -> int | None:
    """The order of a view made of some of ``view``'s characters in their order (with runs
    merged): non-decreasing maps stay so; anything else is found out when needed."""
    return 1 if view._order == 1 else None


def _array(seq: Sequence[int] | None) -> np.ndarray:
    """``seq`` as int64; a ``range`` (a short canon view's maps) without a Python loop."""
    if isinstance(seq, range):
        return np.arange(seq.start, seq.stop, seq.step, dtype=np.int64)
    return np.asarray(seq, dtype=np.int64)


def _codes(text: str) -> np.ndarray:
    """The code points of ``text`` (lone surrogates included) as a uint32 array."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _string(codes: np.ndarray) -> str:
    return codes.astype("<u4", copy=False).tobytes().decode("utf-32-le", "surrogatepass")


def _letters_string(codes: np.ndarray) -> str:
    """:func:`_string` for a phonetic string: nearly always Latin-1, which decodes from one
    byte per character (3x faster than from four)."""
    if len(codes) and codes.max() < 0x100:
        return codes.astype(np.uint8).tobytes().decode("latin-1")
    return _string(codes)
