"""Classifier speed: p50/p99 milliseconds to score one 500-character text (one window).

Texts are consecutive 500-character slices of the clean prose (LCTT/TranslateProject,
Apache-2.0), scored one at a time through `TextClassifier.score_windows`, the call the screening
pipeline makes; normalisation and chunking are included. Target: p50 <= 30 ms. Wall
time and process CPU time are both printed: on a busy shared machine the first includes waiting for
a core.

Run: ``.venv/bin/python bench/classifier.py [--texts 200] [--threads 1]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path and bench/screening.py would
# shadow the ``screening`` package: drop it before importing the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from screening.classifier import TextClassifier  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLEAN = Path("/work/shared/data/clean/TranslateProject/text.txt")
WINDOW_CHARS = 500


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    """Load, warm up, measure, print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=ROOT / "screening" / "models" / "cold-mini")
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    clf = TextClassifier.load(args.model)
    load_s = time.perf_counter() - t0
    prose = CLEAN.read_text(encoding="utf-8")
    texts = [prose[i : i + WINDOW_CHARS] for i in range(0, len(prose), WINDOW_CHARS)]
    texts = [t for t in texts if len(t) == WINDOW_CHARS][: args.texts]
    for t in texts[:10]:
        clf.score_windows(t)  # warm-up
    timings_ms: list[float] = []
    cpu_ms: list[float] = []
    flagged = 0
    for t in texts:
        started, cpu_started = time.perf_counter(), time.process_time()
        windows = clf.score_windows(t)
        timings_ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu_started) * 1000)
        flagged += windows[0][2] >= clf.threshold
        if len(windows) != 1:
            raise SystemExit(f"expected one window per {WINDOW_CHARS} characters: {windows}")
    print(f"model {clf.name} {clf.version} from {args.model} (load {load_s:.2f} s)")
    print(f"torch threads {args.threads}, {len(texts)} texts of {WINDOW_CHARS} characters")
    print(
        f"per {WINDOW_CHARS} chars: p50 {statistics.median(timings_ms):.1f} ms, "
        f"p99 {_pct(timings_ms, 0.99):.1f} ms, mean {statistics.fmean(timings_ms):.1f} ms (wall)"
    )
    # On a shared machine wall time includes waiting for a core; CPU time is what one call costs.
    print(
        f"per {WINDOW_CHARS} chars: p50 {statistics.median(cpu_ms):.1f} ms, "
        f"p99 {_pct(cpu_ms, 0.99):.1f} ms (process CPU time; with {args.threads} thread(s))"
    )
    # The prose is neutral tech news, so every flagged window is a false review request.
    print(f"clean-prose windows at or above threshold {clf.threshold}: {flagged}/{len(texts)}")
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
