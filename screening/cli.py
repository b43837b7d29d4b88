"""``run.py screen FILE``: screen a file and print highlighted findings.

A ``.json`` file is read as a post (``{"title", "digest", "content", "author", "source"}``, or
``{"post": {...}}``); anything else is screened as the ``content`` field.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from screening.decision import DEFAULT_RULES
from screening.pipeline import Screener, ScreenResult, TextTooLong

logger = logging.getLogger(__name__)

DEFAULT_LEXICONS = Path(__file__).resolve().parent.parent / "config" / "lexicons"
CONTEXT_CHARS = 20
_COLOURS = {"block": "\033[1;41;97m", "review": "\033[1;43;30m", "warn": "\033[4;33m"}
_RESET = "\033[0m"


def read_fields(path: Path) -> dict[str, str]:
    """The text fields to screen from ``path``: a ``.json`` post's string members (its
    ``category`` is a label, not text), else the whole file as ``content``. Raises ``ValueError``
    saying why the file cannot be read (missing, not UTF-8, not a JSON object)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if path.suffix != ".json":
        return {"content": text}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    post = data.get("post", data) if isinstance(data, dict) else None
    if not isinstance(post, dict):
        raise ValueError(f'{path}: expected a JSON object (a post, or {{"post": {{...}}}})')
    return {k: v for k, v in post.items() if isinstance(v, str) and k != "category"}


def render(fields: dict[str, str], result: ScreenResult, *, colour: bool = True) -> str:
    """Human-readable report: decision, then each finding with highlighted context."""
    lines = [
        f"decision: {result.decision}"
        + (f" (requires {', '.join(result.required_roles)})" if result.required_roles else "")
    ]
    for f in result.findings:
        src = fields[f.field]
        before = src[max(0, f.start - CONTEXT_CHARS) : f.start].replace("\n", " ")
        after = src[f.end : f.end + CONTEXT_CHARS].replace("\n", " ")
        hit = src[f.start : f.end]
        if colour:
            hit = f"{_COLOURS[f.action]}{hit}{_RESET}"
        why = ", ".join(f"{k}={v}" for k, v in f.evidence.items() if k not in ("source",))
        lines.append(f"  [{f.action:6}] {f.field}:{f.start}-{f.end} {f.category} ({f.rule})")
        lines.append(f"           …{before}{hit}{after}…")
        if why:
            lines.append(f"           {why}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status: 0 pass, 1 review, 2 block, 3 bad input."""
    parser = argparse.ArgumentParser(prog="run.py screen", description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--lexicons", type=Path, default=DEFAULT_LEXICONS)
    parser.add_argument("--json", action="store_true", help="print the POST /v1/screen answer")
    parser.add_argument("--no-colour", action="store_true")
    args = parser.parse_args(argv)
    try:
        fields = read_fields(args.file)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    screener = Screener.from_directory(args.lexicons, rules=DEFAULT_RULES)
    return report(screener, fields, as_json=args.json, colour=not args.no_colour)


def report(screener: Screener, fields: dict[str, str], *, as_json: bool, colour: bool) -> int:
    """Screen ``fields``, print the answer (JSON or highlighted; colour only on a terminal) and
    return the exit status: 0 pass, 1 review, 2 block, 3 too long."""
    try:
        result = screener.screen(fields)
    except TextTooLong as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        print(render(fields, result, colour=colour and sys.stdout.isatty()))
    return {"pass": 0, "review": 1, "block": 2}[result.decision]


if __name__ == "__main__":
    sys.exit(main())
