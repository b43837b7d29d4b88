"""Screening CPU per publish post: ``Screener.screen`` on the publish bench's posts.

The posts are those of ``bench/publish_gate.py`` (five fields, a 2,000-character Chinese HTML news
item naming the chairman; ``--posts`` distinct ones), screened by the gateway's screener
(``gateway.screening_service.base_screener``: shipped lexicons, policy rules, roster, company)
with the shipped classifier and without it. CPU time (``time.process_time``) per ``screen`` call;
printed per round: the median over the posts; at the end: the median of the round medians, and
the median over the posts of each post's fastest round (the figure least moved by a busy host).

Before/after on a noisy machine: ``--baseline-rev REV`` imports the ``screening`` package as it
was at git revision REV under another name (as ``bench/screening.py`` does), builds the same
screener and classifier with it, and times the old and the new screener in this one process,
alternating every round (the order swapped each round); it also reports how many of the posts'
results (findings, spans, scores, decision) are identical.

Run: ``.venv/bin/python bench/screen_post.py [--posts 200] [--rounds 7] [--baseline-rev REV]``
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as a script, bench/ comes first on sys.path and bench/screening.py would shadow the package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from gateway.screening_service import base_screener, policy_rules, roster  # noqa: E402
from gateway.settings import Settings, load_settings  # noqa: E402
from screening.classifier import TextClassifier  # noqa: E402

FIELDS = ("title", "digest", "author", "content", "source")


def _bench_module(name: str) -> Any:
    """A module of bench/ loaded from its file (bench/ is not on sys.path, see above)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _posts(count: int) -> list[dict[str, str]]:
    post = _bench_module("publish_gate")._post
    return [{k: post(i)[k] for k in FIELDS} for i in range(count)]


def _baseline(rev: str, settings: Settings, into: Path) -> tuple[Any, Any]:
    """The screener with and without the classifier, built by ``screening`` as it was at
    ``rev`` from the same settings as :func:`base_screener` builds them."""
    package = _bench_module("screening")._package_at(rev, into)
    sys.path.insert(0, str(into))
    pipeline, decision, persons, attribution, classifier = (
        importlib.import_module(f"{package}.{m}")
        for m in ("pipeline", "decision", "persons", "attribution", "classifier")
    )
    sc = settings.screening
    clf = classifier.TextClassifier.load(sc.classifier_model_dir, threshold=sc.classifier_threshold)
    rules = {
        k: decision.CategoryRule(r.action, r.require) for k, r in policy_rules(settings).items()
    }
    entries = tuple(persons.RosterEntry(r.name, r.role, r.aliases) for r in roster(settings))
    company = attribution.Company(**dataclasses.asdict(settings.policy.company))

    def build(model: Any) -> Any:
        kwargs: dict[str, Any] = {"rules": rules, "roster": entries, "company": company}
        if sc.detectors:
            kwargs["detectors"] = sc.detectors
        return pipeline.Screener.from_directory(sc.lexicon_dir, classifier=model, **kwargs)

    return build(clf), build(None)


def _times(screener: Any, posts: list[dict[str, str]]) -> list[float]:
    out = []
    for post in posts:
        t = time.process_time()
        screener.screen(post)
        out.append((time.process_time() - t) * 1000.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline-rev", default=None, help="git revision to compare with")
    args = parser.parse_args()
    settings = load_settings(environ={})
    sc = settings.screening
    clf = TextClassifier.load(sc.classifier_model_dir, threshold=sc.classifier_threshold)
    variants: dict[str, Any] = {
        "this tree, classifier": base_screener(settings, clf),
        "this tree, no classifier": base_screener(settings, None),
    }
    posts = _posts(args.posts)
    tmp = tempfile.TemporaryDirectory()
    if args.baseline_rev:
        with_clf, without = _baseline(args.baseline_rev, settings, Path(tmp.name))
        new_with, new_without = variants.values()
        same = sum(
            with_clf.screen(p).to_json() == new_with.screen(p).to_json()
            and without.screen(p).to_json() == new_without.screen(p).to_json()
            for p in posts
        )
        print(f"identical results (both screeners) for {same}/{len(posts)} posts")
        variants = {
            f"{args.baseline_rev[:10]}, classifier": with_clf,
            **dict(list(variants.items())[:1]),
            f"{args.baseline_rev[:10]}, no classifier": without,
            **dict(list(variants.items())[1:]),
        }
    for screener in variants.values():  # warm: tables, caches, lazily built parts
        _times(screener, posts[:20])
    runs: dict[str, list[list[float]]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            runs[name].append(_times(variants[name], posts))
        print(
            f"round {r + 1}: "
            + "   ".join(f"{n} {statistics.median(runs[n][-1]):.3f} ms" for n in names)
        )
    print(f"CPU ms per post ({len(posts)} posts, {args.rounds} rounds):")
    for name in names:
        medians = statistics.median(statistics.median(t) for t in runs[name])
        fastest = statistics.median(min(t) for t in zip(*runs[name], strict=True))
        print(
            f"  {name:38s} median of round medians {medians:.3f}   "
            f"median of each post's fastest round {fastest:.3f}"
        )


if __name__ == "__main__":
    main()
