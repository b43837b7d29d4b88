"""Lexicons: term lists with category, action, severity, source and version.

File format (UTF-8, one entry a line)::

    # category: state_secret          (required)
    # action: block                   (required: block | review | warn)
    # severity: critical              (low | medium | high | critical; default medium)
    # source: hand-curated            (free text; where the list came from)
    # version: 2026-11-26.1           (free text)
    # licence: CC0-1.0                (optional)
    # evasion_category: political_evasion  (optional: a disguised hit blocks in this category)
    # scope: marking                  (optional: block only as a marking, review in prose)
    绝密                               a deny term
    !绝密期限已解除                     an allow phrase: overrides deny terms it contains
    @near 20: 大麻 | 吸食, 种植         combination: a left term within 20 chars of a right one
    @andnot: 内部资料 | 公开发布, 已解密   combination: left term present, none of the right ones

Other ``#`` lines are comments. Header lines must come before the first entry. Any malformed
line raises :class:`LexiconError` naming the file and line; a file is never half-loaded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, cast

from screening.findings import SEVERITY_ORDER, Action, Severity

logger = logging.getLogger(__name__)

MAX_TERM_CHARS = 64
_HEADER_RE = re.compile(r"^#\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_HEADER_KEYS = {
    "category",
    "action",
    "severity",
    "source",
    "version",
    "licence",
    "license",
    "description",
    "evasion_category",
    "scope",
}
_SCOPES = ("anywhere", "marking")
_ACTIONS = ("block", "review", "warn")
_CATEGORY_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_NEAR_RE = re.compile(r"^@near\s+(\d{1,4})\s*:\s*(.+?)\s*\|\s*(.+?)\s*$")
_ANDNOT_RE = re.compile(r"^@andnot\s*:\s*(.+?)\s*\|\s*(.+?)\s*$")
_BAD_CHARS_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\t]")


class LexiconError(ValueError):
    """A lexicon file or term list is malformed; ``where`` is ``file:line`` (or ``name:index``)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CombinationRule:
    """``near``: a left term within ``window_chars`` of a right term. ``andnot``: a left term and
    none of the right terms anywhere in the field."""

    kind: Literal["near", "andnot"]
    left: tuple[str, ...]
    right: tuple[str, ...]
    window_chars: int = 0

    @property
    def rule_id(self) -> str:
        """A stable id, e.g. ``near20:大麻|吸食,种植``."""
        prefix = f"near{self.window_chars}" if self.kind == "near" else "andnot"
        return f"{prefix}:{','.join(self.left)}|{','.join(self.right)}"


@dataclass(frozen=True, slots=True)
class Lexicon:
    """One term list: every term in it shares category, action and severity."""

    name: str
    category: str
    action: Action
    severity: Severity = "medium"
    source: str = "unknown"
    version: str = "0"
    terms: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    rules: tuple[CombinationRule, ...] = ()
    licence: str = ""
    description: str = field(default="", compare=False)
    #: category (action block) of a hit that disguises the term (pinyin mixed with hanzi,
    #: reversal, inserted symbols, look-alikes): official prose never does that
    evasion_category: str = ""
    #: ``marking``: a term blocks only where it stands as a marking (line start, brackets, ★,
    #: after 属/系/为 at a clause end); in running prose (保守国家秘密) it is reviewed
    scope: str = "anywhere"

    @classmethod
    def from_terms(
        cls,
        name: str,
        category: str,
        terms: Iterable[str],
        *,
        action: Action = "review",
        severity: Severity = "medium",
        source: str = "admin",
        version: str = "0",
        allow: Iterable[str] = (),
    ) -> Lexicon:
        """Build a lexicon from an admin term list, validating every term like the file parser."""
        _check_category(category, name)
        _check_action(action, name)
        _check_severity(severity, name)
        checked = tuple(_check_term(t, f"{name}:{i + 1}") for i, t in enumerate(terms))
        allowed = tuple(_check_term(t, f"{name}:allow{i + 1}") for i, t in enumerate(allow))
        return cls(
            name, category, action, severity, source, version, _dedupe(checked), _dedupe(allowed)
        )


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _check_category(value: str, where: str) -> str:
    if not _CATEGORY_RE.match(value):
        raise LexiconError(where, f"bad category {value!r} (lower-case identifier expected)")
    return value


def _check_action(value: str, where: str) -> Action:
    if value not in _ACTIONS:
        raise LexiconError(where, f"bad action {value!r} (one of {', '.join(_ACTIONS)})")
    return cast(Action, value)


def _check_severity(value: str, where: str) -> Severity:
    if value not in SEVERITY_ORDER:
        raise LexiconError(where, f"bad severity {value!r} (one of {', '.join(SEVERITY_ORDER)})")
    return cast(Severity, value)


def _check_term(raw: str, where: str) -> str:
    if not isinstance(raw, str):
        raise LexiconError(where, "term is not a string")
    term = raw.strip()
    if not term:
        raise LexiconError(where, "empty term")
    if _BAD_CHARS_RE.search(term):
        raise LexiconError(where, "term contains control characters or tabs")
    if len(term) > MAX_TERM_CHARS:
        raise LexiconError(where, f"term longer than {MAX_TERM_CHARS} characters")
    from screening.views import canonical

    if len(canonical(term).text.strip()) < 2:
        raise LexiconError(where, f"single-character term {term!r} (too many false positives)")
    return term


def _split_list(text: str, where: str) -> tuple[str, ...]:
    items = tuple(_check_term(t, where) for t in re.split(r"[,，]", text) if t.strip())
    if not items:
        raise LexiconError(where, "empty term list in combination rule")
    return items


def parse_lexicon(text: str, *, name: str) -> Lexicon:
    """Parse lexicon file content; ``name`` (usually the path) appears in error messages."""
    header: dict[str, tuple[str, int]] = {}
    terms: list[str] = []
    allow: list[str] = []
    rules: list[CombinationRule] = []
    seen_entry = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        where = f"{name}:{lineno}"
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        if line.startswith("#"):
            m = _HEADER_RE.match(line)
            if m and m.group(1) in _HEADER_KEYS:
                key = "licence" if m.group(1) == "license" else m.group(1)
                if seen_entry:
                    raise LexiconError(where, f"header {key!r} after the first term")
                if key in header:
                    raise LexiconError(where, f"duplicate header {key!r}")
                header[key] = (m.group(2), lineno)
            continue
        seen_entry = True
        if line.startswith("!"):
            allow.append(_check_term(line[1:], where))
        elif line.startswith("@"):
            rules.append(_parse_rule(line, where))
        else:
            terms.append(_check_term(line, where))
    for key in ("category", "action"):
        if key not in header:
            raise LexiconError(f"{name}:1", f"missing header '# {key}: ...'")
    cat, cat_line = header["category"]
    act, act_line = header["action"]
    sev, sev_line = header.get("severity", ("medium", 1))
    return Lexicon(
        name=name,
        category=_check_category(cat, f"{name}:{cat_line}"),
        action=_check_action(act, f"{name}:{act_line}"),
        severity=_check_severity(sev, f"{name}:{sev_line}"),
        source=header.get("source", ("unknown", 0))[0],
        version=header.get("version", ("0", 0))[0],
        terms=_dedupe(terms),
        allow=_dedupe(allow),
        rules=tuple(rules),
        licence=header.get("licence", ("", 0))[0],
        description=header.get("description", ("", 0))[0],
        evasion_category=_optional_category(header.get("evasion_category"), name),
        scope=_check_scope(header.get("scope"), name),
    )


def _check_scope(value: tuple[str, int] | None, name: str) -> str:
    if value is None:
        return "anywhere"
    if value[0] not in _SCOPES:
        raise LexiconError(f"{name}:{value[1]}", f"bad scope {value[0]!r} (one of {_SCOPES})")
    return value[0]


def _optional_category(value: tuple[str, int] | None, name: str) -> str:
    if value is None or not value[0]:
        return ""
    return _check_category(value[0], f"{name}:{value[1]}")


def _parse_rule(line: str, where: str) -> CombinationRule:
    m = _NEAR_RE.match(line)
    if m:
        window = int(m.group(1))
        if not 1 <= window <= 500:
            raise LexiconError(where, "near window must be 1..500 characters")
        return CombinationRule(
            "near", _split_list(m.group(2), where), _split_list(m.group(3), where), window
        )
    m = _ANDNOT_RE.match(line)
    if m:
        return CombinationRule(
            "andnot", _split_list(m.group(1), where), _split_list(m.group(2), where)
        )
    raise LexiconError(
        where, "malformed rule (expected '@near N: a, b | c, d' or '@andnot: a | c, d')"
    )


def load_lexicon(path: Path) -> Lexicon:
    """Read and parse one lexicon file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LexiconError(f"{path}:1", f"not UTF-8 ({exc.reason})") from exc
    lexicon = parse_lexicon(text, name=str(path))
    return replace(lexicon, name=path.stem)


def load_directory(directory: Path) -> list[Lexicon]:
    """Every ``*.txt`` lexicon in ``directory`` (sorted by name); all or nothing."""
    lexicons = [load_lexicon(p) for p in sorted(Path(directory).glob("*.txt"))]
    logger.info(
        "loaded %d lexicons (%d terms) from %s",
        len(lexicons),
        sum(len(lx.terms) for lx in lexicons),
        directory,
    )
    return lexicons


def merge_terms(lexicons: Sequence[Lexicon]) -> int:
    """Total number of deny terms across ``lexicons`` (for logs and benchmarks)."""
    return sum(len(lx.terms) for lx in lexicons)
