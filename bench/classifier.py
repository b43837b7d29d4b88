"""Classifier speed and agreement: the old torch path and the numpy run time, in one run.

Speed: p50/p99 milliseconds to score one 500-character text (one window) of clean prose
(LCTT/TranslateProject, Apache-2.0) through `score_windows`, the call the screening pipeline makes
(normalisation and chunking included), text by text, alternating the paths so that all see the
same machine load. Wall time and process CPU time are both printed: on a busy shared machine the
first includes waiting for a core. Paths:

* ``torch (REV)``: `screening/classifier.py` as it was at git revision REV (default a3f64ad, the
  last commit before the numpy run time: transformers loads the weights, its own torch forward
  pass, bfloat16 where the CPU has it natively), loading **this tree's** model directory, so that
  both paths run the same weights. Only when torch and transformers are installed.
* ``numpy, exact``: the numpy forward pass on every chunk.
* ``numpy``: what the gateway runs: the BERT skipped on chunks that cannot reach the threshold.

Agreement on COLD dev (6,431 texts, `predict_proba`, i.e. the model on each text): decisions at
the model's decision threshold, accuracy and macro-F1 of each path, largest probability
difference; the offensive class's recall, precision and F1 at the decision threshold and at the
gateway's operating threshold (the one that raises review findings; calibration.json).
Batching: the forward pass's cost per chunk for one request's chunks and for eight requests'.

Run: ``.venv/bin/python bench/classifier.py [--texts 200] [--torch-rev a3f64ad]``
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

# Run as a script, this file's directory comes first on sys.path and bench/screening.py would
# shadow the ``screening`` package: drop it before importing the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screening.classifier import CHUNK_CHARS, TextClassifier, _prepare  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLEAN = Path("/work/shared/data/clean/TranslateProject/text.txt")
COLD_DEV = Path("/work/shared/data/datasets/COLD/dev.csv")
WINDOW_CHARS = 500
TORCH_REV = "a3f64ad"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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


def _metrics(labels: list[int], probs: list[float], threshold: float) -> tuple[float, float]:
    tp = sum(p >= threshold and y for y, p in zip(labels, probs, strict=True))
    fp = sum(p >= threshold and not y for y, p in zip(labels, probs, strict=True))
    fn = sum(p < threshold and y for y, p in zip(labels, probs, strict=True))
    tn = len(labels) - tp - fp - fn
    f1_pos = 2 * tp / max(1, 2 * tp + fp + fn)
    f1_neg = 2 * tn / max(1, 2 * tn + fn + fp)
    return (tp + tn) / len(labels), (f1_pos + f1_neg) / 2


def _speed(
    paths: list[tuple[str, Callable[[str], list[tuple[int, int, float]]], float]],
    texts: list[str],
) -> None:
    for t in texts[:10]:
        for _, score, _ in paths:
            score(t)  # warm-up
    wall: dict[str, list[float]] = {label: [] for label, _, _ in paths}
    cpu: dict[str, list[float]] = {label: [] for label, _, _ in paths}
    flagged = dict.fromkeys(wall, 0)
    for t in texts:
        for label, score, threshold in paths:  # alternated: all see the same machine load
            started, cpu_started = time.perf_counter(), time.process_time()
            windows = score(t)
            wall[label].append((time.perf_counter() - started) * 1000)
            cpu[label].append((time.process_time() - cpu_started) * 1000)
            if len(windows) != 1:
                raise SystemExit(f"expected one window per {WINDOW_CHARS} characters: {windows}")
            flagged[label] += windows[0][2] >= threshold
    print(f"speed, {len(texts)} texts of {WINDOW_CHARS} characters (ms per text):")
    print(f"  {'path':<22} {'CPU p50':>8} {'CPU p99':>8} {'wall p50':>9} {'wall p99':>9}  flagged")
    for label, _, _ in paths:
        print(
            f"  {label:<22} {statistics.median(cpu[label]):>8.2f} {_pct(cpu[label], 0.99):>8.2f} "
            f"{statistics.median(wall[label]):>9.2f} {_pct(wall[label], 0.99):>9.2f}  "
            f"{flagged[label]}/{len(texts)}"
        )


def _offensive_prf(labels: list[int], probs: list[float], t: float) -> str:
    tp = sum(p >= t and y == 1 for y, p in zip(labels, probs, strict=True))
    fp = sum(p >= t and y == 0 for y, p in zip(labels, probs, strict=True))
    fn = sum(p < t and y == 1 for y, p in zip(labels, probs, strict=True))
    return (
        f"offensive recall {tp / max(1, tp + fn):.4f}, precision {tp / max(1, tp + fp):.4f}, "
        f"F1 {2 * tp / max(1, 2 * tp + fp + fn):.4f}"
    )


def _agreement(paths: list[tuple[str, Any]], threshold: float, operating: float) -> None:
    with COLD_DEV.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    texts, labels = [r["TEXT"] for r in rows], [int(r["label"]) for r in rows]
    probs: dict[str, list[float]] = {}
    for label, clf in paths:
        started = time.process_time()
        probs[label] = clf.predict_proba(texts)
        accuracy, macro_f1 = _metrics(labels, probs[label], threshold)
        print(
            f"  {label:<22} accuracy {accuracy:.4f}, macro-F1 {macro_f1:.4f} at {threshold} "
            f"({time.process_time() - started:.1f} s CPU for {len(texts)} texts)"
        )
        for t in sorted({threshold, operating}):
            print(f"  {'':<22} at {t}: {_offensive_prf(labels, probs[label], t)}")
    reference = probs[paths[0][0]]
    for label, _ in paths[1:]:
        differ = sum(
            (a >= threshold) != (b >= threshold)
            for a, b in zip(reference, probs[label], strict=True)
        )
        largest = max(abs(a - b) for a, b in zip(reference, probs[label], strict=True))
        print(
            f"  {label} against {paths[0][0]}: {differ} of {len(texts)} decisions differ, "
            f"largest probability difference {largest:.2e}"
        )


def _batching(clf: TextClassifier, texts: list[str]) -> None:
    """Forward-pass CPU per chunk with one request's chunks in a call, and with eight requests'."""
    chunks = [c for t in texts for c in _chunks_of(clf, t)]
    bert = clf._bert
    for per_call in (len(_chunks_of(clf, texts[0])), 8 * len(_chunks_of(clf, texts[0]))):
        bert.probas(chunks[:per_call])
        started = time.process_time()
        done = 0
        for k in range(0, len(chunks) - per_call + 1, per_call):
            bert.probas(chunks[k : k + per_call])
            done += per_call
        ms = (time.process_time() - started) * 1000 / max(1, done)
        print(f"  {per_call:>3} chunks per call: {ms:.3f} ms CPU per chunk")


def _chunks_of(clf: TextClassifier, text: str) -> list[str]:
    prepared = _prepare(text)
    size = min(CHUNK_CHARS, clf.max_chars)
    return [prepared[s : s + size] for s in range(0, max(1, len(prepared) - 16), 48)]


def main() -> int:
    """Load, warm up, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "screening" / "models" / "cold-mini")
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--torch-rev", default=TORCH_REV, help="revision of the torch path")
    parser.add_argument("--no-dev", action="store_true", help="skip the COLD dev agreement")
    args = parser.parse_args()

    started = time.perf_counter()
    clf = TextClassifier.load(args.model)
    print(
        f"model {clf.name} {clf.version} from {args.model}: {clf.backend}, {clf.precision}, "
        f"review (operating) threshold {clf.threshold}, decision threshold "
        f"{clf.decision_threshold} (load {time.perf_counter() - started:.2f} s)"
    )
    paths: list[tuple[str, Callable[[str], list[tuple[int, int, float]]], float]] = [
        ("numpy", clf.score_windows, clf.threshold),
        ("numpy, exact", lambda t: clf.score_windows(t, exact=True), clf.threshold),
    ]
    models: list[tuple[str, Any]] = [("numpy", clf)]
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError:
        print("torch path: not measured (torch/transformers not installed; pip install '.[train]')")
    else:
        torch.set_num_threads(1)
        started = time.perf_counter()
        old = _module_at(args.torch_rev).TextClassifier.load(args.model)
        label = f"torch ({args.torch_rev})"
        print(
            f"{label}: {old.precision}, 1 torch thread, same model directory "
            f"(load {time.perf_counter() - started:.2f} s)"
        )
        paths.insert(0, (label, old.score_windows, old.threshold))
        models.insert(0, (label, old))
    prose = CLEAN.read_text(encoding="utf-8")
    texts = [prose[i : i + WINDOW_CHARS] for i in range(0, len(prose), WINDOW_CHARS)]
    texts = [t for t in texts if len(t) == WINDOW_CHARS][: args.texts]
    _speed(paths, texts)
    print("batching (numpy forward pass only):")
    _batching(clf, texts[:80])
    if not args.no_dev:
        print(f"COLD dev ({COLD_DEV}):")
        _agreement(models, clf.decision_threshold, clf.threshold)
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
