"""The skeleton view (punctuation and symbols dropped, look-alike and split characters folded,
repeats collapsed) and the reversed view."""

from __future__ import annotations

import re
from functools import cache
from itertools import compress
from operator import itemgetter, not_

import ahocorasick_rs
import numpy as np

from screening.views.chars import (
    _ARRAY_FROM,
    _SPLIT,
    _short_sets,
    _skip_set,
    _tables,
    lookalike_translation,
)
from screening.views.view import View, _kept_order, _string


def _fold_lookalikes(text: str) -> str:
    """Apply the look-alike table (hand-made and Unicode confusables)."""
    return text.translate(lookalike_translation())


def skeleton(canon: View) -> View:
    """Drop skip characters, fold look-alikes and split characters, collapse repeats.

    Whole-array operations: a run of equal characters (other than ASCII digits) keeps its first,
    spanning the run in the original. Text with split characters (氵去) takes the reference path
    (:func:`_skeleton_full`). A short text with nothing to drop, fold, join or collapse is
    its own skeleton (copied, as :func:`_skeleton_full` would)."""
    if len(canon.text) < _ARRAY_FROM:
        text = canon.text
        if (
            _short_sets().skeleton.isdisjoint(text)
            and _REPEAT_RE.search(text) is None
            and not _split_ac().find_matches_as_indexes(text)
        ):
            return View(text, list(canon.starts), list(canon.ends))
        return _skeleton_full(canon)
    return _skeleton_arrays(canon)


def _skeleton_arrays(canon: View) -> View:
    tables = _tables()
    codes, starts, ends = canon.arrays()
    kept = np.flatnonzero(~tables.skip[codes])
    folded = tables.lookalike[codes[kept]]
    # a split sequence (氵去) ends with one of a few pairs: look for those before the full check
    if (tables.split_pen[folded[:-1]] & tables.split_last[folded[1:]]).any() and (
        _split_ac().find_matches_as_indexes(_string(folded))
    ):
        return _skeleton_full(canon)
    starts, ends = starts[kept], ends[kept]
    if len(folded) > 1:
        repeat = folded[1:] == folded[:-1]
        repeat &= (folded[1:] < 0x30) | (folded[1:] > 0x39)
        if repeat.any():
            first = np.flatnonzero(np.concatenate(([True], ~repeat)))
            folded, starts = folded[first], starts[first]
            ends = np.maximum.reduceat(ends, first)
    return View(_string(folded), starts, ends, folded, order=_kept_order(canon))


_REPEAT_RE = re.compile(r"([^0-9])\1+", re.DOTALL)


def _first_group(m: re.Match[str]) -> str:
    """``sub`` replacement: a function beats the ``\\1`` template (expanded in Python per match)."""
    return m.group(1)


def _pick(view: View, keep: list[int]) -> tuple[list[int], list[int]]:
    """``view``'s starts and ends at the positions ``keep``."""
    v_starts, v_ends = view.starts, view.ends
    if len(keep) < 2:
        return [v_starts[i] for i in keep], [v_ends[i] for i in keep]
    get = itemgetter(*keep)
    return list(get(v_starts)), list(get(v_ends))


def _skeleton_full(canon: View) -> View:
    """The skeleton by string operations and lists: the reference implementation of
    :func:`skeleton` (tests compare the two), and its path for text with split characters."""
    text = canon.text
    keep = list(compress(range(len(text)), map(not_, map(_skip_set().__contains__, text))))
    starts, ends = _pick(canon, keep)
    joined = _fold_lookalikes("".join(map(text.__getitem__, keep)))
    splits = _split_ac().find_matches_as_indexes(joined)
    if splits:
        chars, starts, ends = _fold_split(joined, starts, ends, splits)
        joined = "".join(chars)
    repeats = [m.span() for m in _REPEAT_RE.finditer(joined)]
    skel = _REPEAT_RE.sub(_first_group, joined)
    if not repeats:
        return View(skel, starts, ends)
    out_s: list[int] = []
    out_e: list[int] = []
    pos = 0
    for a, b in repeats:  # keep the first of each run, widened to the run's last end
        out_s.extend(starts[pos : a + 1])
        out_e.extend(ends[pos:a])
        out_e.append(max(ends[a:b]))
        pos = b
    out_s.extend(starts[pos:])
    out_e.extend(ends[pos:])
    return View(skel, out_s, out_e)


@cache
def _split_ac() -> ahocorasick_rs.AhoCorasick:
    return ahocorasick_rs.AhoCorasick(
        list(_SPLIT), matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
    )


def _fold_split(
    joined: str, starts: list[int], ends: list[int], splits: list[tuple[int, int, int]]
) -> tuple[list[str], list[int], list[int]]:
    chars: list[str] = []
    s_out: list[int] = []
    e_out: list[int] = []
    pos = 0
    for _, a, b in splits:
        for k in range(pos, a):
            chars.append(joined[k])
            s_out.append(starts[k])
            e_out.append(ends[k])
        chars.append(_SPLIT[joined[a:b]])
        s_out.append(min(starts[a:b]))
        e_out.append(max(ends[a:b]))
        pos = b
    for k in range(pos, len(joined)):
        chars.append(joined[k])
        s_out.append(starts[k])
        e_out.append(ends[k])
    return chars, s_out, e_out


def reverse(view: View) -> View:
    """The view read backwards."""
    codes, starts, ends = view.arrays()
    order = -1 if _kept_order(view) == 1 else None
    return View(view.text[::-1], starts[::-1], ends[::-1], codes[::-1], order=order)


def shape(skel: View) -> View | None:
    """The skeleton with rare characters folded into the common ones they look like (形近字:
    笫 → 第, 泠 → 冷), or ``None`` when the text has none. Character for character, so its
    positions are the skeleton's; hits here are capped at review (a look-alike is a guess)."""
    if len(skel.text) < _ARRAY_FROM and _short_sets().shaped.isdisjoint(skel.text):
        return None
    return _shape_arrays(skel)


def _shape_arrays(skel: View) -> View | None:
    """:func:`shape` without the short-text shortcut."""
    tables = _tables()
    codes = skel.codes
    changed = tables.shaped[codes]
    if not changed.any():
        return None
    out = tables.shape[codes]
    _, starts, ends = skel.arrays()
    return View(_string(out), starts, ends, out, order=_kept_order(skel))
