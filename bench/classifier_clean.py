"""The classifier alone on clean prose: review findings per 100,000 CJK characters, per corpus.

Each line of each `/work/shared/data/clean/*/text.txt` is one document, scanned as one field
(`TextClassifier.scan_many`, 500-character windows as in the gateway). Every flagged window of this
harmless prose is a false review request. `--every N --offset K` scans lines K, K+N, K+2N, ...
(`--every 10 --offset 9`: the lines `screening.train --clean-holdout-every 10` never pre-trained
on). Target: at most 10 per 100,000 CJK characters on every corpus.

Run: ``.venv/bin/python bench/classifier_clean.py [--model DIR] [--every 10 --offset 9]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screening.classifier import TextClassifier, _is_han  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLEAN = Path("/work/shared/data/clean")
LIMIT_PER_100K = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "screening" / "models" / "cold-mini")
    parser.add_argument("--clean", type=Path, default=CLEAN)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--show", type=int, default=0, help="print this many flagged windows")
    args = parser.parse_args()
    clf = TextClassifier.load(args.model, threshold=args.threshold)
    print(f"model {clf.name} {clf.version}, threshold {clf.threshold}")
    print(f"lines {args.offset}::{args.every} of each corpus, one document per line")
    worst = 0.0
    for path in sorted(args.clean.glob("*/text.txt")):
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        lines = lines[args.offset :: args.every]
        cjk = sum(_is_han(ch) for ln in lines for ch in ln)
        started = time.process_time()
        flagged = []
        for k in range(0, len(lines), 32):
            batch = lines[k : k + 32]
            for found in clf.scan_many([("content", t) for t in batch]):
                flagged += [(f.evidence["score"], f.text) for f in found]
        rate = len(flagged) / max(1, cjk) * 100_000
        worst = max(worst, rate)
        print(
            f"{path.parent.name:<20} lines {len(lines):>6} CJK {cjk:>9,} flagged {len(flagged):>4} "
            f"= {rate:5.1f} per 100k CJK ({time.process_time() - started:.0f} s CPU)"
        )
        for score, text in sorted(flagged, reverse=True)[: args.show]:
            print(f"    {score:.3f} {text[:80]}")
    print(f"worst corpus: {worst:.1f} per 100k CJK (limit {LIMIT_PER_100K})")
    return 0 if worst <= LIMIT_PER_100K else 1


if __name__ == "__main__":
    raise SystemExit(main())
