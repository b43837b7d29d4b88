"""Multi-view Aho-Corasick matching of lexicon terms.

One automaton per key form (canon, skeleton, pinyin, initials), built once per lexicon set with
ahocorasick-rs (measured ~12x faster than pyahocorasick at 50k CJK terms, see docs/screening.md).
A parallel list holds each key's pattern metadata, since ahocorasick-rs returns indexes only.

Views and what they are allowed to find:

* canon — every term, allow phrase, combination term and roster name.
* skeleton — the same, minus pure-Latin terms (spaces are gone in the skeleton, so Latin word
  boundaries would be meaningless there).
* reversed — deny terms of three or more characters (two-character reversals are too often words).
* pinyin — deny terms with three or more hanzi; a match must start and end on syllable or Latin
  run boundaries. All-hanzi matches are homophones (review at most), see :mod:`screening.pipeline`.
* initials — same terms; accepted only when the matched region mixes Latin letters and hanzi
  (``fl功``), because pure hanzi initials collide with ordinary words and pure Latin initials with
  English acronyms; the well-known pure ones (xjp, lhz) are literal lexicon entries.
* pinyin keys also stand for other readings: the term's polyphonic characters read otherwise, and
  a syllable written with a text's polyphonic character meant its second way (checked per hit).
* squeezed — Latin/digit terms (with and without their spaces), as whole tokens, unless every
  letter typed is a look-alike from another script (a Cyrillic word is not an English term).
* split — deny terms of at most four characters with one character written as its components;
  review unless the text holds a radical form (讠, 扌, 氵).
* shape — the skeleton keys over the skeleton with rare look-alike characters folded; review.
"""

from __future__ import annotations

import collections
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Literal, NamedTuple

import ahocorasick_rs
import numpy as np

from screening.lexicon import Lexicon
from screening.variants import (
    Requirement,
    piece_starts,
    radical_forms,
    reading_keys,
    split_keys,
    text_reading_keys,
)
from screening.views import (
    UnitView,
    View,
    Views,
    canonical,
    inside_latin_run,
    pinyin_table,
    skeleton,
)
from screening.views.chars import _skip_set as _skip
from screening.views.chars import lookalike_table
from screening.views.phonetic import _phonetic_tables

logger = logging.getLogger(__name__)

PatternKind = Literal["deny", "allow", "combo", "roster"]
ViewName = Literal[
    "canon", "skeleton", "reversed", "pinyin", "initials", "squeezed", "split", "shape"
]
VIEW_ORDER: tuple[ViewName, ...] = (
    "canon",
    "skeleton",
    "reversed",
    "pinyin",
    "initials",
    "squeezed",
    "split",
    "shape",
)
#: Why hits of a view (or of an ambiguous key in it) may not block.
CAP_SHAPE = "a rare character read as the common one it looks like (形近字)"
CAP_CUT = "pinyin cut out of a longer run of Latin letters at a syllable boundary"
CAP_SPLIT = "a character split into components that are ordinary characters (口天, 女子)"
_MIN_PHONETIC_HANZI = 3
_MIN_REVERSED_CHARS = 3
MAX_MATCHES_PER_KEY = 100
_CAP_FROM_MATCHES = 2_000  # below this many matches in a view, no capping work at all
_SHORT_INITIALS = 6
_LATIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz")


class Pattern(NamedTuple):
    """What a key stands for: ``owner`` is a lexicon index (or roster index for ``roster``).
    (Tuples, not dataclasses: patterns are hashed and hits made hundreds of times per article,
    and a tuple's hash and constructor run in C.)"""

    kind: PatternKind
    owner: int
    term: str


class Hit(NamedTuple):
    """A pattern found in one view, with its span in the original text."""

    pattern: Pattern
    view: ViewName
    start: int
    end: int
    vstart: int
    vend: int
    key: str
    latin: bool = False  # phonetic views: some matched characters were typed as Latin letters
    hanzi: bool = True  # phonetic views: some matched characters came from hanzi
    cap: str = ""  # why this hit may not block (an ambiguous fold), or "" (its term's action)


@functools.lru_cache(maxsize=4096)
def _piece_starts(skel_text: str, key: str, initials: bool) -> dict[int, str]:
    """Phonetic key position → the term character whose piece starts there (for a term whose
    skeleton is ``skel_text``): every character starts a piece except a Latin letter right
    after another one (a Latin run is one unit). Computed when a mixed match needs it."""
    return piece_starts(skel_text, key, initials)


def _alnum_ascii(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _word_ok(text: str, a: int, b: int) -> bool:
    """Latin/digit edges of a match must not continue into a Latin/digit run (Disburse ≠ sb)."""
    if _alnum_ascii(text[a]) and a > 0 and _alnum_ascii(text[a - 1]):
        return False
    return not (_alnum_ascii(text[b - 1]) and b < len(text) and _alnum_ascii(text[b]))


TermKeys = tuple[str, str | None, bool, str | None, str | None]


@functools.lru_cache(maxsize=262_144)
def term_keys(term: str) -> TermKeys | None:
    """A term's keys: canon, skeleton (``None`` for ASCII terms), whether the skeleton key may be
    matched (a symbol inside a term is significant: 机密★ matches in canon only), pinyin and
    initials (``None`` below three hanzi or with characters that have no reading); ``None``
    when the term is shorter than two characters. Cached per term, so recompiling a lexicon
    set (:meth:`Screener.compacted`) costs only the automata builds."""
    cv = canonical(term)
    ckey = cv.text.strip()
    if len(ckey) < 2:
        return None
    if ckey.isascii():
        return ckey, None, False, None, None
    skey = skeleton(cv).text
    skel_ok = len(skey) >= 2 and _skip().isdisjoint(cv.text.replace(" ", ""))
    pkey = ikey = None
    if sum(map(pinyin_table().__contains__, skey)) >= _MIN_PHONETIC_HANZI:
        p = skey.translate(_phonetic_tables(False))
        if p.isascii() and p.isalpha():
            pkey, ikey = p, skey.translate(_phonetic_tables(True))
    return ckey, skey, skel_ok, pkey, ikey


class _Automaton:
    """An ahocorasick-rs automaton over unique keys, each key mapping to several patterns."""

    def __init__(
        self,
        keyed: Mapping[str, Sequence[Pattern]],
        skel_of: dict[Pattern, str] | None = None,
        initials: bool = False,
        shared: _Automaton | None = None,
    ) -> None:
        """``shared``: reuse that automaton's keys and compiled automaton (a superset of
        ``keyed``'s keys); keys not in ``keyed`` then stand for no pattern here."""
        self.keys: list[str] = shared.keys if shared is not None else list(keyed)
        self.patterns: list[Sequence[Pattern]] = [keyed.get(k, ()) for k in self.keys]
        self._skel_of = skel_of or {}
        #: key → pattern → (key position, characters one of which the text must hold there)
        self.requires: dict[str, dict[Pattern, Requirement]] = {}
        self._initials = initials
        self.max_len = max(map(len, keyed), default=0)
        self.ac: ahocorasick_rs.AhoCorasick | None
        if shared is not None:
            self.ac = shared.ac
        else:
            self.ac = (
                ahocorasick_rs.AhoCorasick(self.keys, matchkind=ahocorasick_rs.MatchKind.Standard)
                if self.keys
                else None
            )

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """Overlapping matches, at most :data:`MAX_MATCHES_PER_KEY` per key: pathological
        repetition must not cost unbounded time, and padding a post with thousands of harmless
        matches must not push a real term out (so the cap is per key, never a global cut)."""
        if self.ac is None or not text:
            return []
        return self.cap(self.ac.find_matches_as_indexes(text, overlapping=True))

    def want(self, pat: Pattern, key: str) -> dict[int, str]:
        """Key position → the term's own character whose phonetic piece starts there (``key``:
        the term's pinyin with the readings this key uses)."""
        return _piece_starts(self._skel_of[pat], key, self._initials)

    @staticmethod
    def cap(found: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        if len(found) <= _CAP_FROM_MATCHES:
            return found
        seen: collections.Counter[int] = collections.Counter()
        out: list[tuple[int, int, int]] = []
        for m in found:
            seen[m[0]] += 1
            if seen[m[0]] <= MAX_MATCHES_PER_KEY:
                out.append(m)
        return out


class LexiconMatcher:
    """Compiled automata for a set of lexicons (immutable once built; safe to share)."""

    def __init__(
        self,
        lexicons: Sequence[Lexicon],
        roster_names: Sequence[str] = (),
        *,
        owner_offset: int = 0,
    ) -> None:
        """Compile ``lexicons``; pattern owners are ``owner_offset + index`` so that a matcher
        for hot-reloaded extra lexicons can sit next to the (large, slow to build) base one."""
        canon: dict[str, list[Pattern]] = {}
        skel: dict[str, list[Pattern]] = {}
        py: dict[str, list[Pattern]] = {}
        ini: dict[str, list[Pattern]] = {}
        latin: dict[str, list[Pattern]] = {}
        split: dict[str, list[Pattern]] = {}
        requires: dict[str, dict[Pattern, Requirement]] = {}
        skel_key: dict[Pattern, str] = {}
        entries: list[Pattern] = []
        for li, lex in enumerate(lexicons):
            owner = owner_offset + li
            entries.extend(Pattern("deny", owner, t) for t in lex.terms)
            entries.extend(Pattern("allow", owner, t) for t in lex.allow)
            for rule in lex.rules:
                entries.extend(Pattern("combo", owner, t) for t in (*rule.left, *rule.right))
        entries.extend(Pattern("roster", ri, n) for ri, n in enumerate(roster_names))
        for pat in dict.fromkeys(entries):
            keys = term_keys(pat.term)
            if keys is None:
                continue
            ckey, skey, skel_ok, pkey, ikey = keys
            canon.setdefault(ckey, []).append(pat)
            if skey is None:  # Latin/digit terms also match spaced out (x j p) in squeezed
                for k in dict.fromkeys((ckey, ckey.replace(" ", ""))):
                    latin.setdefault(k, []).append(pat)
                continue
            skel_key[pat] = skey
            if skel_ok:
                skel.setdefault(skey, []).append(pat)
            if pat.kind == "deny" and pkey is not None and ikey is not None:
                py.setdefault(pkey, []).append(pat)
                ini.setdefault(ikey, []).append(pat)
                for k in reading_keys(skey):  # other readings of polyphonic characters
                    py.setdefault(k, []).append(pat)
                for k, need in text_reading_keys(skey):  # 虫草会 written 重草会
                    if pat not in py.get(k, ()):
                        py.setdefault(k, []).append(pat)
                        requires.setdefault(k, {})[pat] = need
            if pat.kind == "deny" and skel_ok:
                for k in split_keys(skey):
                    split.setdefault(k, []).append(pat)
        self._skel_key = skel_key
        # canon and skeleton keys are mostly the same strings: one automaton over both serves
        # the canon, skeleton and reversed scans (a third of the memory, and the second and
        # third scans find it in the CPU caches)
        both = _Automaton(dict.fromkeys((*canon, *skel, *split), ()))
        self._canon = _Automaton(canon, shared=both)
        self._skel = _Automaton(skel, shared=both)
        self._py = _Automaton(py, skel_key)
        self._py.requires = requires
        self._latin = _Automaton(latin)
        self._split = _Automaton(split, shared=both)  # found by the skeleton scan
        # initials are scanned in windows of the key length around Latin/hanzi edges: short
        # keys (most random hits) get narrow windows, the few long keys their own automaton
        self._ini = _Automaton(
            {k: v for k, v in ini.items() if len(k) <= _SHORT_INITIALS}, skel_key, initials=True
        )
        self._ini_long = _Automaton(
            {k: v for k, v in ini.items() if len(k) > _SHORT_INITIALS}, skel_key, initials=True
        )
        self.term_count = len(entries)
        logger.debug(
            "matcher built: %d canon, %d skeleton, %d pinyin keys", len(canon), len(skel), len(py)
        )

    def match(
        self, views: Views, hits: dict[tuple[Pattern, int, int], Hit] | None = None
    ) -> list[Hit]:
        """All hits in all views, deduplicated by (pattern, original span), earliest view wins.
        Pass ``hits`` to accumulate the hits of several matchers."""
        if hits is None:
            hits = {}
        found = hits

        def add(hit: Hit) -> None:
            found.setdefault((hit.pattern, hit.start, hit.end), hit)

        # A skeleton hit of a term found in canon at the same span is dropped by ``add``; at
        # another span (a doubled character collapsed at its edge: 傻傻逼逼) it is a hit of its
        # own. Reversed and pinyin matches of terms found in canon are skipped before their spans
        # are made (each costs Python work, and they would only repeat the literal hit).
        direct: collections.Counter[Pattern] = collections.Counter()
        self._plain(views.canon, "canon", self._canon, add, direct)
        literal = {pat.term for pat in direct} | {self._skel_key.get(p, "") for p in direct}
        skel_found = self._skel.find(views.skeleton.text)
        self._plain(views.skeleton, "skeleton", self._skel, add, found=skel_found)
        self._plain(views.reversed, "reversed", self._skel, add, literal=literal)
        self._phonetic(views.pinyin, self._py, add, literal, direct)
        self._initials(views.initials, self._ini, add, windowed=True)
        self._initials(views.initials, self._ini_long, add, windowed=False)
        if views.squeezed is not None:
            confusable = lookalike_table()

            def add_latin(hit: Hit) -> None:
                typed = [c for c in views.original[hit.start : hit.end] if c.isalnum()]
                if not all(c in confusable for c in typed):  # not a word of another script
                    add(hit)

            self._plain(views.squeezed, "squeezed", self._latin, add_latin)
        radicals = radical_forms()

        def add_split(hit: Hit) -> None:
            if radicals.isdisjoint(views.original[hit.start : hit.end]):
                hit = hit._replace(cap=CAP_SPLIT)
            add(hit)

        self._plain(views.skeleton, "split", self._split, add_split, found=skel_found)
        if views.shape is not None:
            self._plain(views.shape, "shape", self._skel, add, cap_of=_shape_cap)
        return list(hits.values())

    @staticmethod
    def _plain(
        view: View,
        name: ViewName,
        auto: _Automaton,
        add: Callable[[Hit], None],
        direct: collections.Counter[Pattern] | None = None,
        literal: set[str] | None = None,
        cap_of: Callable[[str], str] | None = None,
        found: list[tuple[int, int, int]] | None = None,
    ) -> None:
        """Plain-view hits; ``direct`` (canon) counts each pattern's occurrences, ``literal``
        (reversed) holds the terms found in canon, whose reversals are not hits; ``cap_of`` says
        why a key's hits are capped at review ("" when they are not); ``found``: the matches of
        ``auto``'s (shared) automaton in ``view``, when already scanned."""
        text = view.text
        raw: list[tuple[Pattern, int, int, str]] = []
        for idx, a, b in auto.find(text) if found is None else found:
            if not auto.patterns[idx]:
                continue
            if not _word_ok(text, a, b):
                continue
            key = auto.keys[idx]
            for pat in auto.patterns[idx]:
                if name == "reversed" and (
                    pat.kind != "deny"
                    or b - a < _MIN_REVERSED_CHARS
                    or key == key[::-1]
                    or (literal is not None and key[::-1] in literal)
                ):
                    continue  # too short, a palindrome, or the reverse of a term found in canon
                raw.append((pat, a, b, key))
        if direct is not None:
            direct.update(r[0] for r in raw)
        for pat, a, b, key in raw:
            start, end = view.span(a, b)
            cap = cap_of(key) if cap_of is not None else ""
            add(Hit(pat, name, start, end, a, b, key, cap=cap))

    @staticmethod
    def _phonetic(
        uview: UnitView,
        auto: _Automaton,
        add: Callable[[Hit], None],
        literal: set[str],
        direct: collections.Counter[Pattern],
    ) -> None:
        """Pinyin hits; ``vstart``/``vend`` of these hits index the skeleton (units).

        A term found literally in canon is also found here, at the same place: when a key's
        patterns occur here no more often than in canon, every match is such a literal one and
        is dropped before its units are located."""
        skel = uview.source
        table = pinyin_table()
        found = auto.find(uview.text)
        seen = collections.Counter(p for idx, _, _ in found for p in auto.patterns[idx])
        for idx, a, b in found:
            if all(seen[p] <= direct[p] for p in auto.patterns[idx]):
                continue
            ua = uview.unit_at(a, syllables=True)
            ub = uview.unit_at(b, syllables=True)
            if ua is None or ub is None or ub <= ua:
                continue
            # cut out of a longer run of Latin letters at a syllable boundary (woai|xianmihui)
            cut = (
                CAP_CUT
                if inside_latin_run(skel.text, ua) or inside_latin_run(skel.text, ub)
                else ""
            )
            n_latin = uview.latin_count(ua, ub)
            has_latin = n_latin > 0
            has_hanzi = n_latin < ub - ua
            if not has_latin:
                covered = skel.text[ua:ub]
                if covered in literal or any(covered in t for t in literal):
                    continue  # the term itself (or a piece of it), already found in canon
            key = auto.keys[idx]
            span: tuple[int, int] | None = None
            needs = auto.requires.get(key)
            for pat in auto.patterns[idx]:
                need = needs.get(pat) if needs else None
                if need is not None:  # a syllable the text writes with a polyphonic character
                    u = uview.unit_at(a + need[0])
                    if u is None or skel.text[u] not in need[1]:
                        continue
                if has_latin and has_hanzi:
                    # mixed Latin/hanzi: the hanzi typed must be the term's own (法lun功, fl功),
                    # otherwise an acronym next to any word would match (LTS 发 ≠ 裸体少妇)
                    want = auto.want(pat, key)
                    starts = uview.unit_starts(ua, ub)
                    if any(
                        want.get(starts[u - ua] - a) != skel.text[u]
                        for u in range(ua, ub)
                        if skel.text[u] in table
                    ):
                        continue
                if span is None:  # one span per match, shared by its patterns
                    span = skel.span(ua, ub)
                add(Hit(pat, "pinyin", span[0], span[1], ua, ub, key, has_latin, has_hanzi, cut))

    @staticmethod
    def _initials(
        uview: UnitView, auto: _Automaton, add: Callable[[Hit], None], *, windowed: bool
    ) -> None:
        """Initials hits: only matches mixing typed Latin letters and the term's own hanzi are
        accepted, and every such match contains the edge of a Latin run next to a hanzi.

        Short keys (``windowed``) match pure hanzi initials everywhere (~1,000 times in a Chinese
        article, all rejected): only the windows of :meth:`UnitView.mixed_windows` (around short
        Latin runs next to hanzi) are scanned, and the ~80 matches there are filtered as arrays.
        Long keys match a handful of times in a whole article: one scan, and the matches are
        checked one by one. Initials pieces are one letter, so view positions are skeleton
        positions."""
        skel = uview.source
        src = skel.text
        n = len(src)
        if auto.ac is None:
            return
        edges = uview.edges()
        if not len(edges):
            return
        if not windowed:
            found = [
                m
                for m in auto.find(uview.text)
                if 0 < uview.latin_count(m[1], m[2]) < m[2] - m[1]  # mixed: an edge inside
                and not inside_latin_run(src, m[1])
                and not inside_latin_run(src, m[2])
            ]
        else:
            # one scan of the initials string with every position outside the windows blanked
            # out (keys are a-z only, so no match crosses a blank), then whole-array filtering
            found = auto.ac.find_matches_as_indexes(
                uview.masked_text(auto.max_len), overlapping=True
            )
            if not found:
                return
            match = np.fromiter(chain.from_iterable(found), np.int64, 3 * len(found))
            match = match.reshape(-1, 3)
            first, stop = match[:, 1], match[:, 2]
            # an edge strictly inside: no pure hanzi or pure Latin initials
            nxt = np.searchsorted(edges, first, side="right")
            ok = nxt < len(edges)
            ok[ok] &= edges[nxt[ok]] < stop[ok]
            # a match may neither start nor end inside a run of Latin letters
            latin = uview.latin()
            inside = np.zeros(n + 1, dtype=bool)
            inside[1:n] = latin[1:] & latin[:-1]
            ok &= ~inside[first] & ~inside[stop]
            found = [(int(i), int(x), int(y)) for i, x, y in match[ok]]
        table = pinyin_table()
        for idx, a, b in auto.cap(found):
            key = auto.keys[idx]
            span: tuple[int, int] | None = None
            for pat in auto.patterns[idx]:
                # the hanzi typed must be the term's own (fl功), otherwise an acronym next to any
                # word would match (LTS 发 ≠ 裸体少妇)
                want = auto.want(pat, key)
                if any(
                    want.get(p - a) != src[p]
                    for p in range(a, b)
                    if src[p] not in _LATIN_CHARS and src[p] in table
                ):
                    continue
                if span is None:  # one span per match, shared by its patterns
                    span = skel.span(a, b)
                add(Hit(pat, "initials", span[0], span[1], a, b, key, True, True))


def _shape_cap(key: str) -> str:
    return CAP_SHAPE


def view_of(views: Views, name: ViewName) -> View:
    """The :class:`View` a hit's ``vstart``/``vend`` index (phonetic, split and shape hits index
    the skeleton)."""
    if name in ("pinyin", "initials", "skeleton", "split", "shape"):
        return views.skeleton
    if name == "squeezed" and views.squeezed is not None:
        return views.squeezed
    return views.reversed if name == "reversed" else views.canon
