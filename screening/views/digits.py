"""The digits view: Chinese and financial numerals → ASCII digits, separators removed (PII)."""

from __future__ import annotations

import numpy as np

from screening.views.chars import _ARRAY_FROM, _CN_DIGITS, _DIGIT_SEPARATORS, _short_sets, _tables
from screening.views.view import View, _kept_order, _string


def digits(canon: View) -> View:
    """Chinese/financial numerals → ASCII digits, digit separators removed (PII view). A short
    text with nothing to turn or drop is its own digits view (the same text and spans)."""
    if len(canon.text) < _ARRAY_FROM and _short_sets().digits.isdisjoint(canon.text):
        return canon
    tables = _tables()
    codes, starts, ends = canon.arrays()
    kept = np.flatnonzero(~tables.digit_sep[codes])
    out = tables.digit[codes[kept]]
    return View(_string(out), starts[kept], ends[kept], out, order=_kept_order(canon))


def _digits_full(canon: View) -> View:
    text = canon.text
    keep = [i for i, c in enumerate(text) if c not in _DIGIT_SEPARATORS]
    chars = "".join(_CN_DIGITS.get(text[i], text[i]) for i in keep)
    starts, ends = canon.starts, canon.ends
    return View(chars, [starts[i] for i in keep], [ends[i] for i in keep])
