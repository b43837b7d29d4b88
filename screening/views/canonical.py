"""The canon view: per-character table, invisible characters removed, RLO runs reordered."""

from __future__ import annotations

import numpy as np

from screening.views.chars import (
    _ARRAY_FROM,
    _BOPOMOFO,
    _BOPOMOFO_PAIRS,
    _RLO_CLOSE,
    _RLO_OPEN,
    _char_table,
    _short_tables,
    _tables,
)
from screening.views.view import View, _codes, _string


def _logical_order(text: str) -> list[int]:
    """Original indices in logical reading order: RLO/RLE runs are reversed (display order)."""
    order: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _RLO_OPEN:
            j = i + 1
            while j < n and text[j] not in _RLO_CLOSE and text[j] not in _RLO_OPEN:
                j += 1
            order.extend(range(j - 1, i, -1))
            i = j
        else:
            order.append(i)
            i += 1
    return order


def canonical(text: str) -> View:
    """The canon view of ``text`` (see module docstring): whole-array lookups, unless the text
    holds characters that expand, pair up (Bopomofo) or reorder (RLO), which take the
    per-character path."""
    if len(text) < _ARRAY_FROM:
        one_to_one, slow = _short_tables()
        if slow.isdisjoint(text):
            n = len(text)
            for ch in one_to_one.keys() & set(text):
                text = text.replace(ch, one_to_one[ch])
            return View(text, range(n), range(1, n + 1))
        return _canonical_slow(text)
    return _canonical_arrays(text)


def _canonical_arrays(text: str) -> View:
    tables = _tables()
    codes = _codes(text)
    if not tables.special[codes].any():
        keep = ~tables.delete[codes]
        if keep.all():
            kept = np.arange(len(codes), dtype=np.int64)
            out = tables.canon[codes]
        else:
            kept = np.flatnonzero(keep)
            out = tables.canon[codes[kept]]
        return View(_string(out), kept, kept + 1, out, order=1)
    return _canonical_slow(text)


def _canonical_slow(text: str) -> View:
    table = _char_table()
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    order = _logical_order(text)
    k = 0
    while k < len(order):
        i = order[k]
        ch = text[i]
        if ch in _BOPOMOFO and k + 1 < len(order):
            pair = _BOPOMOFO_PAIRS.get(ch + text[order[k + 1]])
            if pair:
                j = order[k + 1]
                for c in pair:
                    out.append(c)
                    starts.append(min(i, j))
                    ends.append(max(i, j) + 1)
                k += 2
                continue
        for c in table.get(ch, ch):
            out.append(c)
            starts.append(i)
            ends.append(i + 1)
        k += 1
    return View("".join(out), starts, ends)
