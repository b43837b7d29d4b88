"""Lexicon hits → findings: allow-list overrides, token-boundary downgrade, view-based caps,
and roster (executive) mentions."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from screening.attribution import NO_COMPANY, Company, subject
from screening.findings import Finding
from screening.lexicon import Lexicon
from screening.matcher import Hit, term_keys
from screening.persons import RosterEntry, owner_of
from screening.segment import all_words, crosses_boundary, is_word, token_ends, word_freq
from screening.views import Views

logger = logging.getLogger(__name__)

#: canon terms up to this long must be words of the sentence (jieba); longer ones are not checked
SHORT_TERM_CHARS = 4
_SINGLES = "two one-character words of the sentence, one a pronoun or particle"
_PRONOUNS = frozenset("他她它我你您的了是在和就都也")
# a number's unit: a term starting with one right after a number is a date or measure (17日|他)
_UNITS = frozenset("日号月年时点分秒岁元个")
_NUMERALS = frozenset("0123456789〇零一二三四五六七八九十百千两")
#: categories whose terms concern the company's own plans (Art. 14): attributed like figures
ART14_CATEGORIES = frozenset({"strategy", "reform", "sensitive"})
_FUNCTION_CHARS = frozenset("的了是在和与及或也都就而之其把被让给着过吗呢吧啊个")
# What may stand before / after a secrecy marking (【内部资料】, 绝密★, 此件属内部资料。)
_MARK_BEFORE = frozenset("【[(（「『<《〈\"“'‘ \u3000\t\r\n:：★☆*#")
_MARK_AFTER = frozenset("】])）」』>》〉\"”'’★☆*:：，。；、,;.!！?？ \u3000\t\r\n")
# after these a secrecy noun classifies the text (本文件属于绝密级别, 列为机密); not after a bare
# 为 (转为内部资料性出版物 is ordinary prose)
_MARK_VERBS = ("属于", "属", "系", "定为", "列为", "标为", "标注为", "确定为", "划为", "定密为")
# An official notice asks people to provide or present papers (请提供证件, 需提供学历证书); an
# advertisement offers them (提供证件, 办理证书). A contraband term that starts with such a verb
# right after a request word is a request: reviewed, not blocked.
_REQUEST_VERBS = ("提供", "办理", "出示")
_REQUEST_WORDS = ("请", "需", "须", "需要", "必须", "务必", "应", "应当", "要求", "凭")
_REQUEST_FILLERS = frozenset("您均都先并亦")
# Punctuation that separates words of a sentence: one such mark inside a match ends it.
_WORD_BREAKS = frozenset("，。、；：！？,.;:!?\n\r\t \u3000“”‘’\"'《》〈〉（）()「」『』【】[]")
MAX_BOUNDARY_CHECKS = 500


def scan(
    field: str,
    views: Views,
    lexicons: Sequence[Lexicon],
    roster: Sequence[RosterEntry],
    hits: Sequence[Hit],
    company: Company = NO_COMPANY,
) -> list[Finding]:
    """Findings for deny-term and roster hits in one field. Art. 14 terms (strategy, reform,
    sensitive) in a sentence about another named company or the market only warn."""
    allow = [(h.start, h.end) for h in hits if h.pattern.kind == "allow"]
    direct = [
        (h.start, h.end)
        for h in hits
        if h.pattern.kind == "deny" and h.view in ("canon", "skeleton")
    ]
    out: list[Finding] = []
    checks = 0
    for h in hits:
        kind = h.pattern.kind
        if kind == "roster":
            out.append(_roster_finding(field, views, roster, h))
            continue
        if kind != "deny":
            continue
        if any(a <= h.start and h.end <= b for a, b in allow):
            continue
        if h.view not in ("canon", "skeleton") and any(
            a <= h.start and h.end <= b for a, b in direct
        ):
            continue  # the text literally holds a deny term here; the variant view adds nothing
        lex = lexicons[h.pattern.owner]
        evidence: dict[str, object] = {
            "lexicon": lex.name,
            "version": lex.version,
            "source": lex.source,
            "term": h.pattern.term,
            "view": h.view,
        }
        if h.view != "canon":
            evidence["normalised"] = h.key
        category, action = lex.category, lex.action
        canon_span = _canon_span(views, h) if h.view == "skeleton" else ""
        if h.view == "skeleton" and h.key in canon_span:
            # the text holds the skeleton key as typed: either the term itself (its canon hit
            # judges it) or a term whose own doubled characters the skeleton collapsed
            # (色色社区 is not in 绿色社区, 他奶奶 is not in 维他奶)
            continue
        gaps = _gaps(canon_span) if h.view == "skeleton" else []
        if (
            h.view == "canon"
            and not h.key.isascii()
            and len(h.key) <= SHORT_TERM_CHARS
            and checks < MAX_BOUNDARY_CHECKS
        ):
            checks += 1
            why = _boundary_problem(views.canon.text, h.vstart, h.vend)
            if why == _SINGLES:
                evidence["capped_at_review"] = why
            elif why:
                evidence["downgraded"] = why
        if h.view == "reversed" and len(_canon_span(views, h)) != len(h.key):
            continue  # a reversal read across punctuation or collapsed repeats (妈妈。她) is prose
        if h.view in ("pinyin", "reversed") and not h.latin and is_word(_covered_text(views, h)):
            continue  # the text is an ordinary word (人大代表 ≠ 人大代婊, 共产党 ≠ 党产共)
        if h.view == "pinyin" and not h.latin and _ordinary_homophone(views, h):
            continue
        if h.view == "pinyin" and not h.latin:
            evidence["capped_at_review"] = "homophone (same pinyin, different characters)"
        elif h.view == "pinyin" and not h.hanzi and _spaced_words(views.original, h):
            # Falun Gong, Li Hongzhi: the transliteration an English text writes, not a disguise
            evidence["capped_at_review"] = "pinyin written as separate words (a transliteration)"
        elif h.view == "initials":
            if all(
                c in _FUNCTION_CHARS for c in views.original[h.start : h.end] if ord(c) > 0x2E80
            ):
                continue  # "MB的": an acronym next to a particle is not 麻痹的
            evidence["capped_at_review"] = "initials mixed with hanzi"
        elif h.view == "skeleton" and len(gaps) == 1 and set(gaps[0]) <= _WORD_BREAKS:
            # one punctuation mark between the pieces: two words of a sentence (2月7日，他 ≠ 日他)
            evidence["downgraded"] = "punctuation between two words ends a match"
        elif h.view == "skeleton" and not gaps and _doubled_in_prose(views, h):
            # ordinary prose (域名认证证书 → 认证书, 其他妈妈的 → 他妈的) or a doubling typed to
            # look like prose: either way a human decides, the post is not blocked outright
            evidence["capped_at_review"] = "doubled characters that read as words of the text"
        if "downgraded" not in evidence and lex.category in ART14_CATEGORIES:
            about, named = subject(views.canon.text, *_canon_range(views, h), company)
            if about == "other":
                evidence["downgraded"] = f"about someone else ({named}), not the company"
        if (
            lex.scope == "marking"
            and "downgraded" not in evidence
            and not _as_marking(views.canon.text, *_canon_range(views, h))
        ):
            # 泄露国家秘密, 侵犯商业秘密, 转为内部资料性出版物: the word, not a marking
            evidence["capped_at_review"] = "a secrecy word in running prose, not a marking"
        if (
            lex.action == "block"
            and h.view == "canon"
            and h.pattern.term.startswith(_REQUEST_VERBS)
            and _requested(views.canon.text, h.vstart)
        ):
            evidence["capped_at_review"] = "a request for papers (请提供证件), not an offer"
        if "downgraded" not in evidence and lex.evasion_category:
            how = _evasion(views, h, canon_span, gaps)
            if how:
                # official prose never disguises a word: a disguised one was meant to slip past
                category, action = lex.evasion_category, "block"
                evidence["evasion"] = how
        out.append(
            Finding(
                detector="lexicon",
                rule=f"lexicon:{category}:{h.pattern.term}",
                category=category,
                severity="low" if "downgraded" in evidence else lex.severity,
                action="warn" if "downgraded" in evidence else action,
                field=field,
                start=h.start,
                end=h.end,
                text=views.original[h.start : h.end],
                evidence=evidence,
            )
        )
    return out


def _roster_finding(field: str, views: Views, roster: Sequence[RosterEntry], h: Hit) -> Finding:
    entry = owner_of(roster, h.pattern.owner)
    return Finding(
        detector="person",
        rule=f"executive:{entry.name}",
        category="executive",
        severity="medium",
        action="review",
        field=field,
        start=h.start,
        end=h.end,
        text=views.original[h.start : h.end],
        evidence={
            "name": entry.name,
            "role": entry.role,
            "matched_alias": h.pattern.term,
            "view": h.view,
        },
    )


def _covered_text(views: Views, h: Hit) -> str:
    """The skeleton characters a pinyin or reversed hit covers, in reading order."""
    if h.view == "reversed":
        return views.reversed.text[h.vstart : h.vend][::-1]
    return views.skeleton.text[h.vstart : h.vend]


def _ordinary_homophone(views: Views, h: Hit) -> bool:
    """A same-pinyin match in hanzi that reads as ordinary prose: it skips punctuation or spaces,
    straddles jieba words (例|远远|超 ≠ 李源潮), or is made only of dictionary words (技术总监)."""
    covered = views.skeleton.text[h.vstart : h.vend]
    if h.end - h.start != len(covered):
        return True
    return crosses_boundary(views.skeleton.text, h.vstart, h.vend) or all_words(covered)


def _doubled_in_prose(views: Views, h: Hit) -> bool:
    """Whether a skeleton hit exists only because the skeleton collapsed doubled characters that
    the text uses as words: a reduplicated word (其他|妈妈|的 is not 他妈的), or the end of one
    dictionary word and the start of the next (域名认证|证书 is not 认证书); not a repeat typed to
    break up a term (法法轮轮功 keeps its finding)."""
    canon = views.canon
    text = canon.text
    starts = canon.arrays()[1]
    a = int(starts.searchsorted(h.start))
    b = int(starts.searchsorted(h.end))
    keys = term_keys(h.pattern.term)
    if keys is not None and keys[0] in text[a:b]:
        return False  # the term is there as typed; doubled characters around it change nothing
    pairs = [k for k in range(a, b - 1) if text[k] == text[k + 1] and not text[k].isdigit()]
    return bool(pairs) and all(
        is_word(text[k : k + 2])
        or (
            any(is_word(text[j : k + 1]) for j in range(max(0, k - 3), k))
            and any(is_word(text[k + 1 : e]) for e in range(k + 3, min(len(text), k + 5) + 1))
        )
        for k in pairs
    )


def _canon_range(views: Views, h: Hit) -> tuple[int, int]:
    """The canon view's character range under a hit's original span."""
    starts = views.canon.arrays()[1]
    return int(starts.searchsorted(h.start)), int(starts.searchsorted(h.end))


def _canon_span(views: Views, h: Hit) -> str:
    """The canonical text under a hit's original span (what was typed, invisible marks gone)."""
    a, b = _canon_range(views, h)
    return views.canon.text[a:b]


def _gaps(typed: str) -> list[str]:
    """Runs of characters the skeleton dropped (punctuation, spaces, symbols) inside a match."""
    return [g for g in re.split(r"[^\W_]+", typed) if g]


def _evasion(views: Views, h: Hit, canon_span: str, gaps: list[str]) -> str:
    """How a hit was disguised, or ``""`` when the term is typed as it is written. Official
    prose never disguises a word, so a disguised political term is blocked, not reviewed."""
    if h.view in ("reversed", "initials"):
        return f"{h.view} spelling"
    if h.view == "pinyin":
        if not h.latin:
            return ""  # a homophone: capped at review, ordinary words dropped above
        if h.hanzi:
            return "pinyin mixed with hanzi"
        typed = views.original[h.start : h.end]
        return "" if any(c.isspace() for c in typed) else "run-together pinyin"
    if h.view == "canon":
        typed = views.original[h.start : h.end]
        return "invisible characters inside" if len(typed) > len(h.key) else ""
    if gaps:
        return "symbols or spaces inserted"
    if canon_span != h.key:
        return "look-alike, split or repeated characters"
    return ""


def _boundary_problem(text: str, a: int, b: int) -> str:
    """Why a short canon hit ``text[a:b]`` is not a word of the sentence, or ``""``.

    * it straddles jieba tokens or sits inside one (路口|交通 → 口交, 中国共产党 → 产党,
      玻色子 → 色子), unless it starts or ends a compound whose other part is a word too
      (绝密|文件);
    * a dictionary word of the sentence reaches into it from outside while the rest of it is a
      word too (同性|伴侣 → 性伴侣, 他|妈妈 → 他妈), which jieba's one best route can miss.
    """
    if a > 0 and b < len(text) and text[a - 1] == text[a] and text[b] == text[b - 1]:
        return ""  # stuttered on both sides (傻傻逼逼): a repetition typed to hide the term
    lo = max(0, a - 8)
    hi = min(len(text), b + 8)
    pos = lo
    overlapping: list[tuple[int, int]] = []
    for offset in token_ends(text[lo:hi], a - lo, b - lo):
        end = lo + offset
        if end > a and pos < b:
            overlapping.append((pos, end))
        pos = end
    if len(overlapping) == 1 and overlapping[0] != (a, b):
        tok_a, tok_b = overlapping[0]
        rest = text[b:tok_b] if tok_a == a else text[tok_a:a] if tok_b == b else ""
        if len(rest) < 2 or not is_word(rest):
            return "inside a longer word (jieba)"
    elif overlapping and (overlapping[0][0] != a or overlapping[-1][1] != b):
        return "crosses a word boundary (jieba)"
    # two one-character words, one of them a pronoun or particle (维他|奶, 要干|我的): the
    # characters may just sit next to each other; 傻|逼 (no pronoun) keeps its action
    singles = len(overlapping) == b - a == 2 and not _PRONOUNS.isdisjoint(text[a:b])
    # a word reaching in from outside counts when it is commoner than the term itself (同性 vs
    # 性伴侣); a term that is the commoner word keeps it (属于|绝密|级别: 绝密 over 密级)
    own = word_freq(text[a:b])
    for k in range(a + 1, b):
        for j in range(max(0, a - 3), a):
            if word_freq(text[j:k]) > own and is_word(text[k:b]):
                return "a word of the sentence reaches into it"
        for e in range(b + 1, min(len(text), b + 3) + 1):
            if word_freq(text[k:e]) > own and is_word(text[a:k]):
                return "a word of the sentence reaches out of it"
    return _SINGLES if singles else ""


def _spaced_words(original: str, h: Hit) -> bool:
    """Whether a pure-Latin pinyin hit is written as separate words (Falun Gong)."""
    return any(c.isspace() for c in original[h.start : h.end].strip())


def _requested(text: str, a: int) -> bool:
    """Whether the verb at ``text[a]`` follows a request word (请, 需, 须, 要求 …), allowing one
    word between from :data:`_REQUEST_FILLERS` (请您提供, 须另行提供 is not one)."""
    before = text[max(0, a - 4) : a]
    if before[-1:] in _REQUEST_FILLERS:
        before = before[:-1]
    return before.endswith(_REQUEST_WORDS)


def _as_marking(text: str, a: int, b: int) -> bool:
    """Whether ``text[a:b]`` stands as a secrecy marking: at the start of the text or a line
    (a heading: 绝密通知), after 【, enclosed in brackets or quotes, next to ★, or after a
    classifying verb (此件属内部资料, 本文件属于绝密级别, 列为机密)."""
    before = text[a - 1] if a > 0 else "\n"
    after = text[b] if b < len(text) else "\n"
    if after in "★☆" or before in "\n【[" or (before in _MARK_BEFORE and after in _MARK_AFTER):
        return True  # 绝密★, a heading (绝密通知), 【内部资料】, （内部资料）
    return any(text.endswith(v, 0, a) for v in _MARK_VERBS)
