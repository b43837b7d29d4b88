"""The classifier alone on clean prose: review findings per 100,000 CJK characters, per corpus.

Each line of each `/work/shared/data/clean/*/text.txt` is one document, scanned as one field
(`TextClassifier.scan_many`, 500-character windows as in the gateway). Every flagged window of this
harmless prose is a false review request. `--every N --offset K` scans lines K, K+N, K+2N, ...
(`--every 10 --offset 9`: the lines `screening.train --clean-holdout-every 10` never pre-trained
on). Target: at most 10 per 100,000 CJK characters on every corpus.

`--choose` chooses the gateway's operating threshold on a held-out split instead: every corpus is
scored once; the threshold is the lowest on a 0.01 grid (from the model's decision threshold up)
whose review rate on the odd lines (0-based odd indices of the non-empty lines: the selection
half) stays at or under `--target` per 100k on every corpus; then the rates on the even lines
(the report half, never used to choose) and the offensive class's recall, precision and F1 on
COLD dev are printed at that threshold and at the decision threshold, with the
`operating_threshold` entry for calibration.json. `--holdout-every N` leaves the lines a training
run kept out of pre-training (`screening.train --clean-holdout-every N`: lines N-1, 2N-1, ...,
all odd when N is even) out of the selection half, so that `--every N --offset N-1` then measures
lines that neither the model nor the choice of threshold has seen.

Run: ``.venv/bin/python bench/classifier_clean.py [--model DIR] [--every 10 --offset 9]``
or ``.venv/bin/python bench/classifier_clean.py --choose [--target 7]``
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screening.classifier import TextClassifier, _is_han  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLEAN = Path("/work/shared/data/clean")
COLD_DEV = Path("/work/shared/data/datasets/COLD/dev.csv")
LIMIT_PER_100K = 10.0
# Chosen at 7 per 100k on the selection half: 30 % under the limit, for text it never saw.
TARGET_PER_100K = 7.0
GRID_STEP = 0.01


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _window_scores(clf: TextClassifier, lines: list[str]) -> list[tuple[int, float, int]]:
    """(line index, score, Han characters in the window) of every window scoring at or over
    `clf.threshold` (exact there; see `TextClassifier.score_windows`)."""
    out: list[tuple[int, float, int]] = []
    for k in range(0, len(lines), 32):
        batch = lines[k : k + 32]
        for i, (text, windows) in enumerate(zip(batch, clf.score_many(batch), strict=True)):
            out += [
                (k + i, p, sum(map(_is_han, text[s:e])))
                for s, e, p in windows
                if p >= clf.threshold
            ]
    return out


def _cold_dev(clf: TextClassifier) -> tuple[list[int], list[float]]:
    with COLD_DEV.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [int(r["label"]) for r in rows], clf.predict_proba([r["TEXT"] for r in rows])


def _offensive_prf(labels: list[int], probs: list[float], t: float) -> tuple[float, float, float]:
    tp = sum(p >= t and y == 1 for y, p in zip(labels, probs, strict=True))
    fp = sum(p >= t and y == 0 for y, p in zip(labels, probs, strict=True))
    fn = sum(p < t and y == 1 for y, p in zip(labels, probs, strict=True))
    recall, precision = tp / max(1, tp + fn), tp / max(1, tp + fp)
    return recall, precision, 2 * tp / max(1, 2 * tp + fp + fn)


def choose(args: argparse.Namespace) -> int:
    """Choose the operating threshold on the odd lines, report it on the even lines."""
    decision = args.decision
    if decision is None:
        decision = TextClassifier.load(args.model).decision_threshold
    # Loaded at the decision threshold: every window scoring at or over it is scored exactly.
    clf = TextClassifier.load(args.model, threshold=decision)
    print(f"model {clf.name} {clf.version}, decision threshold {decision}")
    cjk: dict[str, list[int]] = {}
    skip = args.holdout_every

    def in_half(i: int, half: int) -> bool:
        # The selection half leaves out the lines `--clean-holdout-every` kept out of training.
        return i % 2 == half and not (half == 1 and skip > 0 and i % skip == skip - 1)

    scored: dict[str, list[tuple[int, float, int]]] = {}
    for path in sorted(args.clean.glob("*/text.txt")):
        lines = _lines(path)
        name = path.parent.name
        cjk[name] = [
            sum(_is_han(ch) for i, ln in enumerate(lines) if in_half(i, half) for ch in ln)
            for half in (0, 1)
        ]
        started = time.process_time()
        scored[name] = _window_scores(clf, lines)
        print(
            f"  scored {name}: {len(lines)} lines, {len(scored[name])} windows >= {decision} "
            f"({time.process_time() - started:.0f} s CPU)",
            flush=True,
        )

    def rate(name: str, half: int, t: float, min_han: int = 0) -> float:
        n = sum(1 for i, p, h in scored[name] if in_half(i, half) and p >= t and h >= min_han)
        return n * 100_000 / max(1, cjk[name][half])

    grid = [round(decision + GRID_STEP * k, 2) for k in range(int((1 - decision) / GRID_STEP))]
    chosen = next((t for t in grid if max(rate(n, 1, t) for n in scored) <= args.target), None)
    if chosen is None:
        print(f"no threshold under 1 keeps every corpus at or under {args.target} per 100k")
        return 1
    names = list(scored)
    print(f"\nselection half (odd lines), worst corpus per threshold (target {args.target}):")
    for t in grid:
        worst = max(rate(n, 1, t) for n in names)
        print(f"  {t:.2f}  worst {worst:6.1f}")
        if t >= chosen:
            break
    labels, probs = _cold_dev(clf)
    print(f"\noperating threshold {chosen} (decision threshold {decision})")
    header = " | ".join(names)
    print(
        f"| threshold | {header} (report half, even lines; per 100k CJK) | worst | "
        "COLD dev recall | precision | F1 (offensive) |"
    )
    print("|---" * (len(names) + 5) + "|")
    for t in (decision, chosen):
        rates = [rate(n, 0, t) for n in names]
        r, p, f = _offensive_prf(labels, probs, t)
        print(
            f"| {t:.2f} | "
            + " | ".join(f"{x:.1f}" for x in rates)
            + f" | {max(rates):.1f} | {r:.3f} | {p:.3f} | {f:.3f} |"
        )
    print(
        "\nselection half (odd lines) at the operating threshold: "
        + ", ".join(f"{n} {rate(n, 1, chosen):.1f}" for n in names)
    )
    positives = sum(labels)
    lost = sum(1 for y, q in zip(labels, probs, strict=True) if y and decision <= q < chosen)
    print(
        f"COLD dev: {lost} of {positives} offensive texts flagged at {decision} are not at {chosen}"
    )
    for min_han in args.min_han:
        rates = [rate(n, 0, chosen, min_han) for n in names]
        print(
            f"length rule >= {min_han} Han chars per window, report half at {chosen}: "
            + ", ".join(f"{n} {x:.1f}" for n, x in zip(names, rates, strict=True))
        )
    entry = {
        "operating_threshold": chosen,
        "operating_threshold_chosen": (
            f"lowest threshold on a {GRID_STEP} grid from {decision} whose classifier review rate "
            f"on the odd lines of every clean corpus is <= {args.target} per 100k CJK characters "
            f"(limit {LIMIT_PER_100K}); reported on the even lines (bench/classifier_clean.py "
            "--choose"
            + (
                f" --holdout-every {skip}: lines i % {skip} == {skip - 1}, never trained on, "
                "left out of the selection"
                if skip > 0
                else ""
            )
            + ")"
        ),
    }
    print(json.dumps(entry, ensure_ascii=False, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "screening" / "models" / "cold-mini")
    parser.add_argument("--clean", type=Path, default=CLEAN)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--show", type=int, default=0, help="print this many flagged windows")
    parser.add_argument("--choose", action="store_true", help="choose the operating threshold")
    parser.add_argument("--target", type=float, default=TARGET_PER_100K)
    parser.add_argument(
        "--decision",
        type=float,
        default=None,
        help="--choose: decision threshold (default calibration.json's)",
    )
    parser.add_argument(
        "--holdout-every",
        type=int,
        default=0,
        help="--choose: leave lines i %% N == N-1 (the training run's --clean-holdout-every N "
        "lines) out of the selection half, so --every N --offset N-1 measures unseen lines",
    )
    parser.add_argument(
        "--min-han",
        type=int,
        action="append",
        default=[],
        help="--choose: also measure a length rule (repeatable)",
    )
    args = parser.parse_args()
    if args.choose:
        return choose(args)
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
