"""Character normalisation with an offset map, and the matching views built from it.

Every view is a string plus, per character, the half-open span ``[starts[i], ends[i])`` of the
*original* text it came from, so any match in any view maps back to original offsets
(:meth:`View.span`). Views:

* ``canon`` — per-character table: case, full/half width, number styles (①⑴⒈❶➀➊㈠㊀⓿⁹₈ …) and
  letter styles (Ⓕⓤ⒦, 𝐟, ꜰᴜ …), Bopomofo → Latin, traditional/variant → simplified; invisible and
  format characters (zero-width, bidi controls, BOM, soft hyphen, variation selectors, C0/C1
  controls other than newline/tab) removed; RLO/RLE runs reversed into display order.
* ``skeleton`` — ``canon`` without punctuation, spaces, symbols and emoji, with look-alike and
  split characters (刁→习, 氵去→法) and Unicode confusables (Cyrillic а → a, katakana ロ → 口)
  folded and repeats collapsed (法法法轮 → 法轮).
* ``reversed`` — ``skeleton`` reversed (catches 平近习).
* ``pinyin`` / ``initials`` — ``skeleton`` through a char→pinyin table, with unit boundaries so a
  match cannot start or end inside a syllable or inside a Latin word (other readings of
  polyphonic characters are keys of the matcher, see :mod:`screening.variants`).
* ``squeezed`` — ``canon`` with confusable letters folded and separators between single letters
  or digits removed (``f.u.c.k``, ``8·9·6·4``), for Latin and digit terms; only when it differs.
* ``shape`` — ``skeleton`` with rare characters folded into common look-alikes (笫 → 第); only
  when the text has one.
* ``digits`` — ``canon`` with Chinese and financial numerals turned into ASCII digits and digit
  separators removed (for PII: 壹叁捌 and ①③⑧ both become 138).

NFKC alone is not enough (see docs/screening.md): it leaves ⓿ ➃ ❶ untouched and turns ⑸ into
three characters, so explicit tables are used and NFKC only seeds the single-letter/digit cases.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from screening.views.canonical import canonical
from screening.views.chars import (
    _short_sets,
    _short_tables,
    _skip_set,
    _tables,
    pinyin_table,
)
from screening.views.digits import digits
from screening.views.phonetic import (
    UnitView,
    _phonetic_tables,
    inside_latin_run,
    phonetic,
)
from screening.views.skeleton import _split_ac, reverse, shape, skeleton
from screening.views.squeezed import squeezed
from screening.views.view import View

logger = logging.getLogger(__name__)

__all__ = [
    "UnitView",
    "View",
    "Views",
    "build_views",
    "canonical",
    "digits",
    "inside_latin_run",
    "phonetic",
    "pinyin_table",
    "reverse",
    "skeleton",
    "warm_up",
]


@dataclass(frozen=True, slots=True)
class Views:
    """All views of one text, computed once and shared by every detector."""

    original: str
    canon: View
    skeleton: View
    reversed: View
    pinyin: UnitView
    initials: UnitView
    digits: View
    squeezed: View | None = None  # Latin/digit terms: look-alikes folded, spaced letters joined
    shape: View | None = None  # the skeleton with rare look-alike characters folded


def build_views(
    text: str,
    *,
    source: str | None = None,
    source_map: tuple[Sequence[int] | np.ndarray, Sequence[int] | np.ndarray] | None = None,
) -> Views:
    """Normalise ``text`` once into every view.

    When ``text`` was derived from ``source`` (HTML stripped), ``source_map`` gives each text
    character's span in ``source``; every view then reports offsets into ``source``.
    """
    canon = canonical(text)
    if source is not None and source_map is not None:
        hs, he = (np.asarray(m, dtype=np.int64) for m in source_map)
        codes, starts, ends = canon.arrays()
        canon = View(canon.text, hs[starts], he[ends - 1], codes)
        text = source
    skel = skeleton(canon)
    return Views(
        original=text,
        canon=canon,
        skeleton=skel,
        reversed=reverse(skel),
        pinyin=phonetic(skel, initials=False),
        initials=phonetic(skel, initials=True),
        digits=digits(canon),
        squeezed=squeezed(canon),
        shape=shape(skel),
    )


def warm_up() -> None:
    """Load the tables now (at start-up) rather than on the first request."""
    _tables()
    _short_tables()
    _short_sets()
    _skip_set()
    pinyin_table()
    _split_ac()
    _phonetic_tables(True)
    _phonetic_tables(False)
