"""jieba word segmentation, used only on small windows around hits (segmenting a whole 5,000
character article costs ~15 ms with jieba, a window ~50 µs).

Short CJK terms often occur by accident across a word boundary (路口交通 → 口交, 大麻烦 → 大麻);
such hits are downgraded, not dropped, because segmentation of obfuscated text is unreliable.
"""

from __future__ import annotations

import logging
import threading
from functools import cache

import jieba
import jieba.posseg

logger = logging.getLogger(__name__)

WINDOW_CHARS = 8
_lock = threading.Lock()


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


def crosses_boundary(text: str, a: int, b: int) -> bool:
    """Whether ``text[a:b]`` straddles jieba tokens (路口|交通 → 口交) or sits in the middle of one
    token (共产党员 → 产党). A term at the start or end of a longer token (绝密文件) does not."""
    lo = max(0, a - WINDOW_CHARS)
    hi = min(len(text), b + WINDOW_CHARS)
    pos = lo
    overlapping: list[tuple[int, int]] = []
    for tok in _tokenizer().cut(text[lo:hi], HMM=False):
        end = pos + len(tok)
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


def all_words(text: str) -> bool:
    """Whether jieba splits ``text`` into dictionary words of two or more characters only
    (技术|总监): ordinary prose, not a homophone spelling of a term (发|轮|功)."""
    return all(len(tok) >= 2 for tok in _tokenizer().cut(text, HMM=False))


def person_names(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, name)`` of jieba ``nr`` (person name) tokens in ``text``."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    for pair in jieba.posseg.dt.cut(text, HMM=True):
        word, flag = pair.word, pair.flag
        if flag == "nr" and len(word) >= 2:
            out.append((pos, pos + len(word), word))
        pos += len(word)
    return out
