"""The squeezed view, for Latin and digit terms: ``canon`` with look-alike letters folded
(Cyrillic ``а``, Greek ``ο`` → Latin) and the separators between single letters or digits removed
(``f.u.c.k``, ``x j p``, ``8·9·6·4``). Only built when the text has something to squeeze or fold;
the matcher accepts only pure Latin/digit terms in it, as whole tokens.

A run is squeezed when it has three or more single characters, or two letters (``s b``), with
the same separator throughout: two digits with a dot between them are a decimal number
(``6.4``), and ``7.3 5.5`` two of them, not an evasion.
"""

from __future__ import annotations

import re

import numpy as np

from screening.views.chars import _ARRAY_FROM, SQUEEZE_SEPARATORS, _short_sets, _tables
from screening.views.view import View, _kept_order, _string

SEPARATORS = SQUEEZE_SEPARATORS
_SEP = re.escape(SEPARATORS)
# single characters with the same separator between each two (7.3.5.5, not 7.3 5.5: two decimals)
_RUN_RE = re.compile(
    rf"(?=[a-z0-9])(?<![a-z0-9])[a-z0-9]([{_SEP}]{{1,2}})[a-z0-9](?![a-z0-9])"
    rf"(?:\1[a-z0-9](?![a-z0-9]))*"
)
_MIN_PIECES = 3


def squeezed(canon: View) -> View | None:
    """The squeezed view of ``canon``, or ``None`` when it would equal ``canon`` (at once for a
    short text without a letter, a digit or a look-alike of one)."""
    if len(canon.text) < _ARRAY_FROM and _short_sets().squeezed.isdisjoint(canon.text):
        return None
    return _squeezed_arrays(canon)


def _squeezed_arrays(canon: View) -> View | None:
    """:func:`squeezed` without the short-text shortcut."""
    tables = _tables()
    codes, starts, ends = canon.arrays()
    fold = tables.latin_fold[codes]
    latin_fold = bool(fold.any())
    out = np.where(fold, tables.lookalike[codes], codes) if latin_fold else codes
    if not latin_fold and not _maybe_run(tables.alnum[out], tables.squeeze_sep[out]):
        return None  # the usual case: two array lookups, no regex
    text = _string(out) if latin_fold else canon.text
    drop: list[int] = []
    for m in _RUN_RE.finditer(text):
        run = m.group()
        pieces = [c for c in run if c not in SEPARATORS]
        if len(pieces) < _MIN_PIECES and not all(c.isalpha() for c in pieces):
            continue
        drop.extend(m.start() + i for i, c in enumerate(run) if c in SEPARATORS)
    if not drop and not latin_fold:
        return None
    if not drop:
        return View(text, starts, ends, out, order=_kept_order(canon))
    keep = np.ones(len(codes), dtype=bool)
    keep[drop] = False
    out = out[keep]
    return View(_string(out), starts[keep], ends[keep], out, order=_kept_order(canon))


def _maybe_run(alnum: np.ndarray, sep: np.ndarray) -> bool:
    """Whether a single letter or digit is followed, one or two separators on, by another."""
    if len(alnum) < 3:
        return False
    single = alnum.copy()
    single[1:] &= ~alnum[:-1]
    single[:-1] &= ~alnum[1:]
    if (single[:-2] & sep[1:-1] & single[2:]).any():
        return True
    return len(alnum) > 3 and bool((single[:-3] & sep[1:-2] & sep[2:-1] & single[3:]).any())
