"""Two or more classifier model directories side by side, in one run, on the run-time code.

For each `--model DIR` (numpy backend, float32, as the gateway loads it), on COLD dev:
accuracy and macro-F1 at 0.5 and at the model's decision threshold (calibration.json's
`threshold`), the adversarial copy of dev (a random symbol, emoji, space or zero-width character
after each character with probability 0.5, built exactly as `screening.train` builds it: same
seed, same characters), each part alone at 0.5, the anti-bias proxy (`screening.train`'s
definition: safe dev texts containing 歧视/偏见/..., share flagged), the offensive class's recall,
precision and F1 at the operating threshold, and the test sentence of
`tests/screening/test_classifier.py` (an offensive sentence inside 500 characters of company
prose; alone; after one sentence of prose). Then an exact McNemar test between the first two
models' decisions at their decision thresholds.

Run: ``.venv/bin/python bench/classifier_compare.py --model screening/models/cold-mini
--model build/cold-mlm6`` (the clean-prose review rates are `bench/classifier_clean.py`'s).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from screening.classifier import TextClassifier  # noqa: E402
from screening.train import ANTI_BIAS_CUES, insert_noise, metrics, read_split  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
COLD = Path("/work/shared/data/datasets/COLD")
SEED = 13  # screening.train's default; its adversarial dev copy uses Random(seed + 2)
# The sentences of tests/screening/test_classifier.py.
OFFENSIVE = "黑人都是垃圾，又懒又蠢，全部滚出中国"
BENIGN = "公司今天发布了第三季度的产品更新，新版本修复了若干问题，欢迎大家下载试用。"


def inside_prose() -> str:
    """The test's 500-character window: the offensive sentence after 240 characters of prose."""
    prose = (BENIGN * 12)[:240]
    return prose + OFFENSIVE + (BENIGN * 12)[: 500 - 240 - len(OFFENSIVE)]


def mcnemar_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b against c discordant pairs."""
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, action="append", required=True)
    parser.add_argument("--data", type=Path, default=COLD)
    args = parser.parse_args()
    dev = read_split(args.data, "dev")
    labels = [ex.label for ex in dev]
    texts = [ex.text for ex in dev]
    rng = random.Random(SEED + 2)
    adversarial = [insert_noise(t, rng, 0.5) for t in texts]
    proxy = [
        i for i, ex in enumerate(dev) if ex.label == 0 and any(c in ex.text for c in ANTI_BIAS_CUES)
    ]
    decisions: list[list[bool]] = []
    for model_dir in args.model:
        clf = TextClassifier.load(model_dir, backend="numpy")
        exact = TextClassifier.load(model_dir, backend="numpy", threshold=0.0)
        started = time.process_time()
        parts = clf.part_probas(texts)
        probs = clf.combine(parts)
        adv = clf.predict_proba(adversarial)
        seconds = time.process_time() - started
        d, op = clf.decision_threshold, clf.threshold
        decisions.append([(p >= d) == bool(y) for p, y in zip(probs, labels, strict=True)])
        print(f"\n== {model_dir}: {clf.name} {clf.version}, decision {d}, operating {op}")
        print(f"   COLD dev scored in {seconds:.1f} s CPU ({len(texts)} texts + adversarial copy)")
        rows = [
            ("dev at 0.5", metrics(labels, probs, 0.5)),
            (f"dev at decision {d}", metrics(labels, probs, d)),
            (f"dev at operating {op}", metrics(labels, probs, op)),
            ("adversarial dev at 0.5", metrics(labels, adv, 0.5)),
            (f"adversarial dev at {d}", metrics(labels, adv, d)),
            *((f"{n} alone, dev at 0.5", metrics(labels, ps, 0.5)) for n, ps in parts.items()),
        ]
        print("   | view | accuracy | macro-F1 | precision | recall | FPR |")
        for name, m in rows:
            print(
                f"   | {name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | "
                f"{m['precision']:.4f} | {m['recall']:.4f} | {m['fpr']:.4f} |"
            )
        share = {t: sum(probs[i] >= t for i in proxy) / max(1, len(proxy)) for t in (0.5, d, op)}
        print(
            f"   anti-bias proxy ({len(proxy)} safe dev texts): flagged "
            + ", ".join(f"{v:.2f} at {t}" for t, v in share.items())
        )
        window = inside_prose()
        ((_, _, p_inside),) = exact.score_windows(window)
        ((_, _, p_alone),) = exact.score_windows(OFFENSIVE)
        ((_, _, p_after),) = exact.score_windows(BENIGN + OFFENSIVE)
        ((_, _, p_prose),) = exact.score_windows((BENIGN * 12)[:500])
        print(
            f"   test sentence inside 500 chars of company prose {p_inside:.3f} "
            f"({'flagged' if p_inside >= op else 'missed'} at {op}, "
            f"{'flagged' if p_inside >= d else 'missed'} at {d}); alone {p_alone:.3f}; "
            f"after one sentence of prose {p_after:.3f}; the prose alone {p_prose:.3f}"
        )
    if len(decisions) >= 2:
        a, b = decisions[0], decisions[1]
        only_a = sum(x and not y for x, y in zip(a, b, strict=True))
        only_b = sum(y and not x for x, y in zip(a, b, strict=True))
        print(
            f"\nMcNemar, dev at each model's decision threshold: right only with "
            f"{args.model[0]} {only_a}, only with {args.model[1]} {only_b}, "
            f"exact p = {mcnemar_p(only_a, only_b):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
