"""jieba word segmentation, used only on small windows around hits (segmenting a whole 5,000
character article costs ~15 ms with jieba, a window ~45 µs; :func:`token_ends` ~20 µs).

Short CJK terms often occur by accident across a word boundary (路口交通 → 口交, 大麻烦 → 大麻);
such hits are downgraded, not dropped, because segmentation of obfuscated text is unreliable.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import cache
from math import log

import jieba
import jieba.posseg

logger = logging.getLogger(__name__)

WINDOW_CHARS = 8
_lock = threading.Lock()
# jieba's own block and single-letter patterns (``jieba.re_han_default``, ``jieba.re_eng``)
_HAN_BLOCK_RE = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)")
_ENG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


@cache
def _tokenizer() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    with _lock:
        jieba.initialize()
    return jieba.dt


def warm_up() -> None:
    """Load jieba's dictionary now (0.6 s) instead of on the first request."""
    _tokenizer()
    jieba.posseg.dt.word_tag_tab  # noqa: B018 - touch to load the POS table


def token_ends(text: str, a: int = 0, b: int | None = None) -> list[int]:
    """End offsets of the tokens of ``jieba.cut(text, HMM=False)``, computed the same way (the
    same blocks, word graph, maximum-probability route, ties to the longer word, and runs of
    single letters and digits joined) without jieba's generator layers: twice as fast, and the
    tests compare both on thousands of windows.

    Tokens never cross a block (a run of hanzi, letters, digits and ``+#&._%-``). With ``[a, b)``
    given, a block that does not overlap it is returned as one token instead of segmented."""
    if b is None:
        b = len(text)
    tok = _tokenizer()
    freq = tok.FREQ.get
    logtotal = log(tok.total)
    ends: list[int] = []
    pos = 0
    for block in _HAN_BLOCK_RE.split(text):
        n = len(block)
        if not n:
            continue
        if not _HAN_BLOCK_RE.match(block):
            # outside a block every character is a token, except a CRLF pair
            i = 0
            while i < n:
                i += 2 if block.startswith("\r\n", i) else 1
                ends.append(pos + i)
            pos += n
            continue
        if pos >= b or pos + n <= a:
            pos += n
            ends.append(pos)
            continue
        # right to left: the best log probability of block[k:] and where its first word ends
        score = [0.0] * (n + 1)
        step = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            best = 0.0
            end = 0
            i = k + 1
            f = freq(block[k])
            while f is not None:
                if f:
                    s = log(f) - logtotal + score[i]
                    if not end or s >= best:
                        best, end = s, i
                if i == n:
                    break
                i += 1
                f = freq(block[k:i])
            if not end:  # no dictionary word starts here: the character alone
                best, end = score[k + 1] - logtotal, k + 1
            score[k], step[k] = best, end
        x = 0
        letters = False
        while x < n:
            y = step[x]
            if y == x + 1 and block[x] in _ENG_CHARS:
                letters = True  # jieba joins single letters and digits into one token
            else:
                if letters:
                    ends.append(pos + x)
                    letters = False
                ends.append(pos + y)
            x = y
        if letters:
            ends.append(pos + n)
        pos += n
    return ends


def crosses_boundary(text: str, a: int, b: int) -> bool:
    """Whether ``text[a:b]`` straddles jieba tokens (路口|交通 → 口交) or sits in the middle of one
    token (共产党员 → 产党). A term at the start or end of a longer token (绝密文件) does not."""
    lo = max(0, a - WINDOW_CHARS)
    hi = min(len(text), b + WINDOW_CHARS)
    pos = lo
    overlapping: list[tuple[int, int]] = []
    for offset in token_ends(text[lo:hi], a - lo, b - lo):
        end = lo + offset
        if end > a and pos < b:
            overlapping.append((pos, end))
        pos = end
    if len(overlapping) == 1:
        # inside one token: fine at its start or end (绝密|文件), not in its middle (共[产党]员)
        tok_a, tok_b = overlapping[0]
        return tok_a != a and tok_b != b
    return overlapping[0][0] != a or overlapping[-1][1] != b


def is_word(text: str) -> bool:
    """Whether ``text`` is an entry of jieba's dictionary (an ordinary word such as 人大代表)."""
    return _tokenizer().FREQ.get(text, 0) > 0


def word_freq(text: str) -> int:
    """jieba's dictionary frequency of ``text`` (0 when it is not an entry)."""
    return int(_tokenizer().FREQ.get(text, 0) or 0)


def all_words(text: str) -> bool:
    """Whether jieba splits ``text`` into dictionary words of two or more characters only
    (技术|总监): ordinary prose, not a homophone spelling of a term (发|轮|功)."""
    pos = 0
    for end in token_ends(text):
        if end - pos < 2:
            return False
        pos = end
    return True


def person_names(text: str, ending_after: int = 0) -> list[tuple[int, int, str]]:
    """``(start, end, name)`` of jieba ``nr`` (person name) tokens in ``text`` that could end
    after ``ending_after``: jieba tags each block (a run of hanzi, letters, digits and ``+#&._``)
    on its own, so blocks ending at or before it are not tagged (the POS tagger costs ~0.1 ms
    per 10 characters)."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    for block in jieba.posseg.re_han_internal.finditer(text):
        if block.end() > ending_after:
            pos = block.start()
            break
    else:
        return out
    for pair in jieba.posseg.dt.cut(text[pos:], HMM=True):
        word, flag = pair.word, pair.flag
        if flag == "nr" and len(word) >= 2:
            out.append((pos, pos + len(word), word))
        pos += len(word)
    return out
