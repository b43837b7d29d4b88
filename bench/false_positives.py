"""False positives of the screener on clean Chinese prose, per corpus.

Every folder of the clean data (default ``<repo>/../shared/data/clean``, override with
``--data DIR``) holds ``text.txt``, one document (article, paragraph or sentence) a line. Each
line is screened as the ``content`` of a post by the default screener (every view, the default
lexicons, the company from ``config/policy.toml`` for Art. 14 attribution) and, unless
``--no-classifier``, the classifier model in ``screening/models/cold-mini``.

Printed per corpus and in total, per 100,000 CJK characters: block-level and review-level
findings (after the category rules, as the decision sees them), split by detector and category;
review-level without the financial and person detectors (the figure issue #12 bounds at 30); the
most frequent blocked and reviewed texts, so a class of false positives is visible at once.

Run: ``.venv/bin/python bench/false_positives.py [--data DIR] [--no-classifier] [--only NAME]
[--limit N] [--top N] [--json OUT]``
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import time
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/screening.py would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from screening.decision import DEFAULT_RULES  # noqa: E402
from screening.pipeline import Screener  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "clean"
MODEL_DIR = ROOT / "screening" / "models" / "cold-mini"
#: detectors whose reviews issue #12 leaves out of the 30-per-100k bound (Art. 14, Art. 17(2))
UNBOUNDED_REVIEW_DETECTORS = frozenset({"financial", "person"})
# The FinRE sentences have every number anonymised as ``N`` (SOURCE.txt there); a standalone N
# becomes a digit again, or the financial detector would see no amounts at all.
_PLACEHOLDER_RE = re.compile(r"(?<![A-Za-z])N(?![A-Za-z])")


def cjk_chars(text: str) -> int:
    """Number of CJK ideographs (basic block, extension A, compatibility, extensions B+)."""
    return sum(
        1
        for c in text
        if "\u4e00" <= c <= "\u9fff"
        or "\u3400" <= c <= "\u4dbf"
        or "\uf900" <= c <= "\ufaff"
        or "\U00020000" <= c <= "\U0003134f"
    )


def corpora(data: Path, only: list[str]) -> list[Path]:
    """Corpus folders holding a ``text.txt``, sorted by name (``only`` narrows them)."""
    found = sorted(p for p in data.iterdir() if (p / "text.txt").is_file())
    if only:
        found = [p for p in found if p.name in only]
    if not found:
        raise SystemExit(f"no corpus folder with a text.txt under {data}")
    return found


def build_screener(
    with_classifier: bool,
    lexicons: Path = ROOT / "config" / "lexicons",
    classifier_threshold: float | None = None,
) -> Screener:
    """The default screener, as the gateway builds it from the repo's config (the classifier at
    its operating threshold unless ``classifier_threshold`` is given)."""
    classifier = None
    if with_classifier:
        from screening.classifier import TextClassifier

        classifier = TextClassifier.load(MODEL_DIR, threshold=classifier_threshold)
        print(
            f"classifier review threshold {classifier.threshold} (operating threshold by "
            f"default; the model's decision threshold on COLD dev is "
            f"{classifier.decision_threshold})"
        )
    kwargs: dict[str, object] = {}
    try:  # the company of config/policy.toml, for Art. 14 attribution (newer trees only)
        from screening.attribution import Company

        kwargs["company"] = Company.from_policy(ROOT / "config" / "policy.toml")
    except ImportError:
        pass
    return Screener.from_directory(
        lexicons,
        rules=DEFAULT_RULES,
        classifier=classifier,
        **kwargs,  # type: ignore[arg-type]
    )


def measure(
    screener: Screener,
    path: Path,
    limit: int,
    fill_placeholders: bool = True,
    half: str = "all",
) -> dict[str, object]:
    """Screen every line of ``path`` (or one half of them: ``first``/``second``); counts of
    effective block/review findings."""
    docs = [d for d in path.read_text(encoding="utf-8").splitlines() if d.strip()]
    if half != "all":
        docs = docs[: len(docs) // 2] if half == "first" else docs[len(docs) // 2 :]
    if fill_placeholders:
        docs = [_PLACEHOLDER_RE.sub("5", d) for d in docs]
    if limit:
        docs = docs[:limit]
    chars = sum(cjk_chars(d) for d in docs)
    counts: dict[str, collections.Counter[str]] = {
        "block": collections.Counter(),
        "review": collections.Counter(),
    }
    texts: dict[str, collections.Counter[str]] = {
        "block": collections.Counter(),
        "review": collections.Counter(),
    }
    examples: dict[str, str] = {}
    docs_blocked = docs_financial = 0
    t0 = time.perf_counter()
    for doc in docs:
        result = screener.screen({"content": doc})
        docs_blocked += result.decision == "block"
        docs_financial += any(
            f.detector == "financial" and f.action == "review" for f in result.findings
        )
        for f in result.findings:
            if f.action not in counts:
                continue
            counts[f.action][f"{f.detector}/{f.category}"] += 1
            shown = f.text if f.detector != "classifier" else "(window)"
            key = f"{f.detector}/{f.category} {shown}"
            texts[f.action][key] += 1
            if key not in examples:
                lo = max(0, f.start - 15)
                examples[key] = doc[lo : f.end + 15].replace("\n", " ")
    return {
        "docs": len(docs),
        "docs_blocked": docs_blocked,
        "docs_financial_review": docs_financial,
        "cjk_chars": chars,
        "seconds": round(time.perf_counter() - t0, 1),
        "counts": {k: dict(v) for k, v in counts.items()},
        "texts": {k: dict(v) for k, v in texts.items()},
        "examples": examples,
    }


def _per100k(n: int, chars: int) -> float:
    return n * 100_000 / chars if chars else 0.0


def summary(counts: dict[str, dict[str, int]], chars: int) -> dict[str, float]:
    """Block, review and bounded-review rates per 100k CJK characters."""
    block = sum(counts["block"].values())
    review = sum(counts["review"].values())
    bounded = sum(
        n
        for k, n in counts["review"].items()
        if k.split("/", 1)[0] not in UNBOUNDED_REVIEW_DETECTORS
    )
    financial = sum(n for k, n in counts["review"].items() if k.startswith("financial/"))
    return {
        "block_per_100k": round(_per100k(block, chars), 2),
        "review_per_100k": round(_per100k(review, chars), 2),
        "review_bounded_per_100k": round(_per100k(bounded, chars), 2),
        "financial_review_per_100k": round(_per100k(financial, chars), 2),
    }


def report(name: str, res: dict[str, object], top: int) -> None:
    """Print one corpus's figures."""
    chars = int(res["cjk_chars"])  # type: ignore[call-overload]
    counts: dict[str, dict[str, int]] = res["counts"]  # type: ignore[assignment]
    texts: dict[str, dict[str, int]] = res["texts"]  # type: ignore[assignment]
    examples: dict[str, str] = res.get("examples", {})  # type: ignore[assignment]
    s = summary(counts, chars)
    print(
        f"== {name}: {res['docs']} docs, {chars} CJK chars, {res.get('seconds', '-')} s; "
        f"docs blocked {res['docs_blocked']}, "
        f"docs with a financial review {res.get('docs_financial_review', '-')}"
    )
    print(
        f"   block {s['block_per_100k']:.2f} | review {s['review_per_100k']:.2f} | review without "
        f"financial/person {s['review_bounded_per_100k']:.2f} | financial review "
        f"{s['financial_review_per_100k']:.2f}   (per 100k CJK chars)"
    )
    for action in ("block", "review"):
        for key, n in sorted(counts[action].items(), key=lambda kv: -kv[1]):
            print(f"   {action:6} {key:40} {n:6} {_per100k(n, chars):8.2f}")
    if top:
        for action in ("block", "review"):
            common = sorted(texts[action].items(), key=lambda kv: (-kv[1], kv[0]))[:top]
            for key, n in common:
                print(f"   top {action:6} {n:5}  {key}   …{examples.get(key, '')}…")


def main(argv: list[str] | None = None) -> int:
    """Measure every corpus and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of corpus folders")
    ap.add_argument("--no-classifier", action="store_true", help="skip the classifier stage")
    ap.add_argument("--only", action="append", default=[], help="corpus folder name (repeatable)")
    ap.add_argument("--limit", type=int, default=0, help="first N documents of each corpus")
    ap.add_argument("--top", type=int, default=0, help="show the N most frequent texts")
    ap.add_argument(
        "--keep-n", action="store_true", help="leave the anonymised numbers (N) as they are"
    )
    ap.add_argument(
        "--classifier-threshold",
        type=float,
        default=None,
        help="classifier review threshold (default: calibration.json's operating_threshold)",
    )
    ap.add_argument("--lexicons", type=Path, default=ROOT / "config" / "lexicons")
    ap.add_argument(
        "--half",
        choices=("all", "first", "second"),
        default="all",
        help="screen only this half of each corpus (curate --half first, then measure second)",
    )
    ap.add_argument("--json", type=Path, help="also write the raw counts to this file")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    screener = build_screener(not args.no_classifier, args.lexicons, args.classifier_threshold)
    print(
        f"screener built in {time.perf_counter() - t0:.1f} s; classifier "
        f"{'off' if args.no_classifier else 'on'}; data {args.data}"
    )
    results: dict[str, dict[str, object]] = {}
    total_counts: dict[str, collections.Counter[str]] = {
        "block": collections.Counter(),
        "review": collections.Counter(),
    }
    total_texts: dict[str, collections.Counter[str]] = {
        "block": collections.Counter(),
        "review": collections.Counter(),
    }
    total_chars = total_docs = total_blocked = 0
    for folder in corpora(args.data, args.only):
        res = measure(screener, folder / "text.txt", args.limit, not args.keep_n, args.half)
        results[folder.name] = res
        report(folder.name, res, args.top)
        for action in ("block", "review"):
            total_counts[action].update(res["counts"][action])  # type: ignore[index]
            total_texts[action].update(res["texts"][action])  # type: ignore[index]
        total_chars += int(res["cjk_chars"])  # type: ignore[call-overload]
        total_docs += int(res["docs"])  # type: ignore[call-overload]
        total_blocked += int(res["docs_blocked"])  # type: ignore[call-overload]
    total = {
        "docs": total_docs,
        "docs_blocked": total_blocked,
        "cjk_chars": total_chars,
        "counts": {k: dict(v) for k, v in total_counts.items()},
        "texts": {k: dict(v) for k, v in total_texts.items()},
    }
    report("total", total, 0)
    print(
        "\n| corpus | CJK chars | block /100k | review /100k | review w/o financial+person "
        "/100k | financial review /100k |"
    )
    print("|---|---|---|---|---|---|")
    for name, res in [*results.items(), ("total", total)]:
        s = summary(res["counts"], int(res["cjk_chars"]))  # type: ignore[arg-type, call-overload]
        print(
            f"| {name} | {res['cjk_chars']} | {s['block_per_100k']:.2f} | "
            f"{s['review_per_100k']:.2f} | {s['review_bounded_per_100k']:.2f} | "
            f"{s['financial_review_per_100k']:.2f} |"
        )
    if args.json:
        results["total"] = total
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
