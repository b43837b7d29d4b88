"""False-positive measurement on clean Chinese prose.

Text: LCTT/TranslateProject news translations (Apache-2.0), one article a line, in
``/work/shared/data/clean/TranslateProject/text.txt``. The first half of the articles was used by
``screening/curate.py`` to drop terms; this script measures on the *second* half only.

Reports, per 100,000 characters: block-level findings of the default screener (all views), all
findings by action, and — for comparison — raw hits of the uncurated public lists (the "before").

Run: ``.venv/bin/python bench/false_positives.py [TEXT]``
"""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

import ahocorasick_rs

# Run as a script, bench/ comes first on sys.path and bench/screening.py would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from screening.curate import PRIORITY, SHARED, collect  # noqa: E402
from screening.decision import DEFAULT_RULES  # noqa: E402
from screening.pipeline import Screener  # noqa: E402
from screening.views import canonical  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    """Measure and print the figures."""
    path = Path(argv[0]) if argv else SHARED / "clean/TranslateProject/text.txt"
    docs = path.read_text(encoding="utf-8").splitlines()
    held_out = docs[len(docs) // 2 :]
    chars = sum(len(d) for d in held_out)
    screener = Screener.from_directory(ROOT / "config/lexicons", rules=DEFAULT_RULES)
    by_action: collections.Counter[str] = collections.Counter()
    blocks: collections.Counter[str] = collections.Counter()
    reviews: collections.Counter[str] = collections.Counter()
    t0 = time.perf_counter()
    for doc in held_out:
        for f in screener.screen({"content": doc}).findings:
            by_action[f.action] += 1
            if f.action == "block":
                blocks[f"{f.rule} [{f.text}]"] += 1
            elif f.action == "review":
                reviews[f.category] += 1
    elapsed = time.perf_counter() - t0
    per100k = 100_000 / chars
    print(f"text: {path} (second half: {len(held_out)} articles, {chars} chars)")
    print(f"screened in {elapsed:.1f} s")
    print(
        f"block-level findings: {sum(blocks.values())} = "
        f"{sum(blocks.values()) * per100k:.2f} per 100k chars"
    )
    for action in ("block", "review", "warn"):
        print(f"  {action}: {by_action[action]} ({by_action[action] * per100k:.2f} per 100k)")
    print("  block hits:", blocks.most_common(20))
    print("  review findings by category:", reviews.most_common())
    raw_terms = sorted(
        {canonical(t).text for cat in PRIORITY for t in collect(SHARED)[cat] if canonical(t).text}
    )
    ac = ahocorasick_rs.AhoCorasick(raw_terms)
    raw_hits = sum(
        len(ac.find_matches_as_indexes(canonical(d).text, overlapping=True)) for d in held_out
    )
    print(
        f"before curation (raw public lists, {len(raw_terms)} terms, substring hits): "
        f"{raw_hits} = {raw_hits * per100k:.1f} per 100k chars"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
