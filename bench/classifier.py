"""Classifier speed: p50/p99 milliseconds to score one 500-character text (one window).

Texts are consecutive 500-character slices of the clean prose (LCTT/TranslateProject,
Apache-2.0), scored one at a time through `TextClassifier.score_windows`, the call the screening
pipeline makes; normalisation and chunking are included. Target: p50 <= 30 ms. Wall
time and process CPU time are both printed: on a busy shared machine the first includes waiting for
a core.

Run: ``.venv/bin/python bench/classifier.py [--texts 200] [--threads 1] [--precision auto]``

Before/after on a noisy machine: ``--baseline-rev REV`` also loads `screening/classifier.py` and
the model directory as they were at git revision REV and alternates the two, text by text, in this
one process, so both see the same load; the baseline's figures are printed first.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

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


def _model_dir_at(rev: str, model_dir: Path, into: Path) -> Path:
    """A copy of `model_dir` as committed at git revision `rev` (the baseline's own model)."""
    rel = model_dir.resolve().relative_to(ROOT).as_posix()
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{rev}:{rel}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in names:
        blob = subprocess.run(
            ["git", "show", f"{rev}:{rel}/{name}"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        (into / name).write_bytes(blob)
    return into


def _module_at(rev: str) -> ModuleType:
    """`screening/classifier.py` as it was at git revision `rev`, as a separate module."""
    source = subprocess.run(
        ["git", "show", f"{rev}:screening/classifier.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False, encoding="utf-8") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location("classifier_at_" + rev.replace("~", "_"), fh.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    os.unlink(fh.name)
    return module


def _report(label: str, clf: Any, wall_ms: list[float], cpu_ms: list[float], flagged: int) -> None:
    n = len(wall_ms)
    print(
        f"{label}: per {WINDOW_CHARS} chars: p50 {statistics.median(wall_ms):.1f} ms, "
        f"p99 {_pct(wall_ms, 0.99):.1f} ms, mean {statistics.fmean(wall_ms):.1f} ms (wall)"
    )
    # On a shared machine wall time includes waiting for a core; CPU time is what one call costs.
    print(
        f"{label}: per {WINDOW_CHARS} chars: p50 {statistics.median(cpu_ms):.1f} ms, "
        f"p99 {_pct(cpu_ms, 0.99):.1f} ms (process CPU time)"
    )
    # The prose is neutral tech news, so every flagged window is a false review request.
    print(f"{label}: clean-prose windows at or above threshold {clf.threshold}: {flagged}/{n}")


def main() -> int:
    """Load, warm up, measure, print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=ROOT / "screening" / "models" / "cold-mini")
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--precision", default="auto", help="auto, float32 or bfloat16")
    parser.add_argument("--baseline-rev", default=None, help="git revision to compare with")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    clf = TextClassifier.load(args.model, precision=args.precision)
    load_s = time.perf_counter() - t0
    scorers: list[tuple[str, Any]] = [("this tree", clf)]
    if args.baseline_rev:
        with tempfile.TemporaryDirectory() as tmp:
            old_dir = _model_dir_at(args.baseline_rev, args.model, Path(tmp))
            baseline = _module_at(args.baseline_rev).TextClassifier.load(old_dir)
        scorers.insert(0, (f"at {args.baseline_rev} (its code and model)", baseline))
    prose = CLEAN.read_text(encoding="utf-8")
    texts = [prose[i : i + WINDOW_CHARS] for i in range(0, len(prose), WINDOW_CHARS)]
    texts = [t for t in texts if len(t) == WINDOW_CHARS][: args.texts]
    for t in texts[:10]:
        for _, scorer in scorers:
            scorer.score_windows(t)  # warm-up
    wall_ms: dict[str, list[float]] = {label: [] for label, _ in scorers}
    cpu_ms: dict[str, list[float]] = {label: [] for label, _ in scorers}
    flagged = dict.fromkeys(wall_ms, 0)
    for t in texts:
        for label, scorer in scorers:  # alternated: both see the same machine load
            started, cpu_started = time.perf_counter(), time.process_time()
            windows = scorer.score_windows(t)
            wall_ms[label].append((time.perf_counter() - started) * 1000)
            cpu_ms[label].append((time.process_time() - cpu_started) * 1000)
            flagged[label] += windows[0][2] >= scorer.threshold
            if len(windows) != 1:
                raise SystemExit(f"expected one window per {WINDOW_CHARS} characters: {windows}")
    print(f"model {clf.name} {clf.version} from {args.model} (load {load_s:.2f} s)")
    print(
        f"torch threads {args.threads}, precision {clf.precision}, "
        f"{len(texts)} texts of {WINDOW_CHARS} characters"
    )
    for label, scorer in scorers:
        _report(label, scorer, wall_ms[label], cpu_ms[label], flagged[label])
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
