"""Term-side variant keys: the ways a lexicon term can be written that a text-side fold cannot
undo without breaking ordinary words.

* Split characters (拆字): one character of the term written as its components (计 → 讠十, 吴 →
  口天), from ``data/chaizi.tsv``. Folding components back in the text would turn 女子 into 好
  everywhere; here only the exact split of a term's own character matches. A split made only of
  common standalone characters (口天, 女子) is ambiguous: its hits are capped at review.
* Polyphonic readings (多音字): the pinyin keys of a term for every reading of its characters
  (重 zhong/chong, 行 xing/hang), not only the first, up to :data:`MAX_READING_KEYS` per term.
"""

from __future__ import annotations

import functools
import logging
from functools import cache

from screening.evasion_tables import read_table
from screening.views import canonical, pinyin_table, skeleton
from screening.views.chars import second_readings

logger = logging.getLogger(__name__)

#: Splits per character used (the first marked by a radical form, the first ambiguous one).
MAX_SPLITS_PER_CHAR = 2
#: Shortest split key: a two-character term written 讠十划 is three characters.
MIN_SPLIT_KEY_CHARS = 3
#: Pinyin keys per term with one character read otherwise (the usual evasion: 虫 for 重 read
#: chong); each character's second reading comes before any third one.
MAX_READING_KEYS = 4
#: Keys for a text's polyphonic character read its second way: terms up to this long (names,
#: codenames, short slogans), at most this many per term (77,000 keys for all terms doubled the
#: screener's build time).
MAX_TEXT_READING_TERM_CHARS = 4
MAX_TEXT_READING_KEYS = 2
#: Split keys are made for terms up to this long (names, codenames, short slogans): a longer
#: term has too many characters to split one of, and ~6 keys per term would triple the automata.
MAX_SPLIT_TERM_CHARS = 4


@cache
def splits() -> dict[str, tuple[str, ...]]:
    """Character → its splits (components run together), at most :data:`MAX_SPLITS_PER_CHAR`:
    the first with a radical form (讠十) and the first of ordinary characters (言十)."""
    out: dict[str, tuple[str, ...]] = {}
    for row in read_table("chaizi.tsv"):
        marked = [a for a in row[1:] if "*" in a][:1]
        plain = [a for a in row[1:] if "*" not in a][:1]
        chosen = [a.replace("*", "").replace(" ", "") for a in (*marked, *plain)]
        out[row[0]] = tuple(chosen[:MAX_SPLITS_PER_CHAR])
    return out


@cache
def radical_forms() -> frozenset[str]:
    """Components that are not ordinary characters on their own (讠, 扌, 氵): a split typed with
    one is a split, whatever the skeleton folds it into."""
    return frozenset(
        c[1:] for row in read_table("chaizi.tsv") for a in row[1:] for c in a.split() if c[0] == "*"
    )


@functools.lru_cache(maxsize=262_144)
def split_keys(skey: str) -> tuple[str, ...]:
    """Skeleton keys of ``skey`` with one character written as its components; keys equal to
    ``skey`` (a split the skeleton folds back, 氵去 → 法) are left out."""
    if len(skey) > MAX_SPLIT_TERM_CHARS:
        return ()
    table = splits()
    out: dict[str, None] = {}
    for i, ch in enumerate(skey):
        for comps in table.get(ch, ()):
            piece = _skeleton_text(comps)
            key = skey[:i] + piece + skey[i + 1 :]
            if piece[:1] == skey[i - 1 : i] or piece[-1:] == skey[i + 1 : i + 2]:
                key = _skeleton_text(key)  # a repeat across the junction collapses
            if key != skey and len(key) >= MIN_SPLIT_KEY_CHARS:
                out[key] = None
    return tuple(out)


@functools.lru_cache(maxsize=65_536)
def _skeleton_text(text: str) -> str:
    """The skeleton of ``text`` (components are few: each is folded once, 讠十 → 言十)."""
    return skeleton(canonical(text)).text


@cache
def readings() -> dict[str, tuple[str, ...]]:
    """Character → every toneless reading, the first one ``pinyin.tsv``'s."""
    return {row[0]: tuple(row[1].split(",")) for row in read_table("polyphonic.tsv")}


@functools.lru_cache(maxsize=262_144)
def reading_keys(skey: str) -> tuple[str, ...]:
    """Pinyin keys of ``skey`` with other readings of its polyphonic characters (the key of the
    first readings excluded), at most :data:`MAX_READING_KEYS`."""
    table = pinyin_table()
    poly = readings()
    options: list[tuple[str, ...]] = []
    for ch in skey:
        if ch in poly:
            options.append(poly[ch])
        elif ch in table:
            options.append((table[ch],))
        else:
            options.append((ch,))
    if all(len(o) == 1 for o in options):
        return ()
    first = [o[0] for o in options]
    keys: dict[str, None] = {}
    for rank in range(1, max(map(len, options))):  # each character's second reading first
        for i, opts in enumerate(options):
            if rank < len(opts):
                keys["".join((*first[:i], opts[rank], *first[i + 1 :]))] = None
    keys.pop("".join(first), None)
    return tuple(k for k in list(keys)[:MAX_READING_KEYS] if k.isascii() and k.isalpha())


@cache
def written_otherwise() -> dict[str, dict[str, frozenset[str]]]:
    """Second reading → first reading → the polyphonic characters read so (chong → zhong → 重):
    a text may write the syllable chong with 重, which its pinyin spells zhong."""
    out: dict[str, dict[str, set[str]]] = {}
    table = pinyin_table()
    for ch, second in second_readings().items():
        out.setdefault(second, {}).setdefault(table[ch], set()).add(ch)
    return {s: {f: frozenset(c) for f, c in firsts.items()} for s, firsts in out.items()}


Requirement = tuple[int, frozenset[str]]


@functools.lru_cache(maxsize=262_144)
def text_reading_keys(skey: str) -> tuple[tuple[str, Requirement], ...]:
    """Pinyin keys of ``skey`` for a text that writes one of its syllables with a polyphonic
    character meant in its second reading (虫草会 written 重草会: key zhongcaohui), each with
    what a match must hold: at that key position, one of those characters (重, not 中). Terms up
    to :data:`MAX_TEXT_READING_TERM_CHARS` characters, at most :data:`MAX_TEXT_READING_KEYS`."""
    if len(skey) > MAX_TEXT_READING_TERM_CHARS:
        return ()
    table = pinyin_table()
    pieces = [table.get(ch, ch) for ch in skey]
    other = written_otherwise()
    out: list[tuple[str, Requirement]] = []
    pos = 0
    for i, piece in enumerate(pieces):
        for first, chars in sorted(other.get(piece, {}).items()):
            out.append(("".join((*pieces[:i], first, *pieces[i + 1 :])), (pos, chars)))
        pos += len(piece)
    return tuple((k, r) for k, r in out[:MAX_TEXT_READING_KEYS] if k.isascii() and k.isalpha())


def piece_starts(skel_text: str, key: str, initials: bool) -> dict[int, str]:
    """Key position → the term character whose piece starts there, for a phonetic ``key`` of a
    term whose skeleton is ``skel_text`` (with any of its characters' readings)."""
    table = pinyin_table()
    poly = readings()
    out: dict[int, str] = {}
    pos = 0
    prev_latin = False
    for c in skel_text:
        latin = "a" <= c <= "z"
        if not (latin and prev_latin):
            out[pos] = c
        if c in table:
            options = poly.get(c, (table[c],))
            piece = next((r for r in options if key.startswith(r, pos)), options[0])
            pos += 1 if initials else len(piece)
        else:
            pos += 1
        prev_latin = latin
    return out
