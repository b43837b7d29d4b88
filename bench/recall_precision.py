"""Precision guard for the evasion (recall) views: findings on clean prose, split by view.

Every evasion view adds ways for ordinary text to match a term. This screens every line of each
clean corpus in ``../shared/data/clean/*/text.txt`` with the default screener and counts the
findings by action and by the view or detector that produced them (``lexicon/skeleton``,
``lexicon/pinyin``, ``contact``, …), per 100,000 CJK characters. Run it before and after a view
is added: the rows of the new view are what it costs. ``--json FILE`` writes the counts.

Run: ``nice -n 10 .venv/bin/python bench/recall_precision.py [--limit N] [CORPUS_DIR ...]``
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/screening.py would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from screening.decision import DEFAULT_RULES  # noqa: E402
from screening.pipeline import Screener  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLEAN = ROOT.parent / "shared" / "data" / "clean"


def _cjk(text: str) -> int:
    return sum(1 for c in text if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf")


def _source(evidence: dict[str, object], detector: str) -> str:
    view = evidence.get("view")
    return f"{detector}/{view}" if view else detector


def measure(screener: Screener, path: Path, limit: int | None) -> dict[str, object]:
    """Counts of findings by action and source for one corpus file."""
    lines = path.read_text(encoding="utf-8").splitlines()[:limit]
    cjk = sum(map(_cjk, lines))
    counts: collections.Counter[str] = collections.Counter()
    examples: dict[str, list[str]] = {}
    for line in lines:
        for f in screener.screen({"content": line}).findings:
            if f.action == "warn":
                continue
            key = f"{f.action} {_source(dict(f.evidence), f.detector)}"
            counts[key] += 1
            examples.setdefault(key, [])
            if len(examples[key]) < 5:
                examples[key].append(f"{f.rule} [{f.text}]")
    return {"cjk_chars": cjk, "counts": dict(counts), "examples": examples}


def main(argv: list[str]) -> int:
    """Measure every corpus and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpora", nargs="*", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="lines per corpus")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    dirs = args.corpora or sorted(p for p in CLEAN.iterdir() if (p / "text.txt").is_file())
    screener = Screener.from_directory(ROOT / "config/lexicons", rules=DEFAULT_RULES)
    report: dict[str, object] = {}
    for d in dirs:
        t0 = time.perf_counter()
        result = measure(screener, d / "text.txt", args.limit)
        report[d.name] = result
        per = 100_000 / max(1, int(str(result["cjk_chars"])))
        counts = result["counts"]
        assert isinstance(counts, dict)
        print(f"{d.name}: {result['cjk_chars']} CJK chars, {time.perf_counter() - t0:.0f} s")
        for key in sorted(counts):
            print(f"  {key:40s} {counts[key]:6d}  {counts[key] * per:7.2f}/100k")
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
