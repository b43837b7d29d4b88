"""Screening speed: p50/p99 to screen one 5,000-character article, all views on, classifier off,
with at least 50,000 lexicon terms; and the ratio to a bare Aho-Corasick scan of the same text.

The default lexicons hold ~45k terms; the rest up to ``--terms`` is synthesised (random 3-6 hanzi
strings from the clean text's own characters, so they match about as rarely as real terms) and
compiled with them, as one more file lexicon would be. On top, ``--admin`` terms (default 200,
a unit's codenames) come in through the admin path (:meth:`Screener.with_lexicons`, a second,
small automaton set, as hot reload builds it), and the screener timed is the compacted one the
gateway swaps in a second later (one automaton set for all terms). Articles are consecutive
5,000-character slices of the clean prose (LCTT/TranslateProject, Apache-2.0) with one lexicon
term spliced in every 500 characters (``--splice-every``; 0 leaves the prose as it is).

Run: ``.venv/bin/python bench/screening.py [--terms 50000] [--rounds 3] [--runs 3]``. Each run
times ``screen()`` on every article twice over: back to back (as a gateway screening one post after
another runs it: the automata and tables stay in the CPU caches between articles) and with the
caches flushed before each article (64 MB written, more than this machine's L3: the cost of the
first post after the process did something else). The bare ahocorasick-rs scan is timed the same
two ways, in its own loops, and each ratio compares figures taken the same way; the optional
pyahocorasick scan, only back to back and also in its own loop (interleaved, its 8 MB automaton
pushed the screener's data out of the caches before every article, which is how earlier versions of
this bench measured). With several runs the medians of the
per-run figures are printed last. As the gateway does after start-up, the heap built so far is
frozen for the cyclic collector before timing.

Before/after on a noisy machine: ``--baseline-rev REV`` imports the ``screening`` package as it was
at git revision REV under another name, builds the same screener with it from the same terms, and
screens all articles with the old and then the new screener (the order swapped every round), back
to back, in this one process; each run prints both p50s, their ratio, and how many of the results
are identical.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import random
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ahocorasick_rs
import numpy as np

try:  # the comparison library is optional: pip install pyahocorasick
    import ahocorasick
except ImportError:
    ahocorasick = None

# Run as a script, this file's directory comes first on sys.path and its name would shadow the
# ``screening`` package: drop it before importing the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from screening.lexicon import load_directory  # noqa: E402
from screening.views import canonical  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLEAN = Path("/work/shared/data/clean/TranslateProject/text.txt")
ARTICLE_CHARS = 5_000


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _package_at(rev: str, into: Path) -> str:
    """Extract ``screening/`` as it was at git revision ``rev`` into ``into`` as a package of
    another name (its own imports rewritten to it); that name, importable once ``into`` is on
    ``sys.path``."""
    name = "screening_at_" + re.sub(r"\W", "_", rev)
    archive = subprocess.run(
        ["git", "archive", rev, "screening"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "screening").rename(into / name)
    for path in (into / name).rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        source = re.sub(r"\b(from|import) screening\b", rf"\1 {name}", source)
        path.write_text(source, encoding="utf-8")
    return name


def _build(
    package: str, extra: list[str], codenames: list[str]
) -> tuple[Any, float, float, float, float]:
    """The benched screener built with ``package`` (``screening`` or a baseline's copy): the
    default lexicons, ``extra`` terms as one more file lexicon, ``codenames`` through the admin
    path, then compacted; and the seconds each step took."""
    pipeline, lexicon, decision = (
        importlib.import_module(f"{package}.{m}") for m in ("pipeline", "lexicon", "decision")
    )
    t0 = time.perf_counter()
    base = pipeline.Screener.from_directory(ROOT / "config/lexicons", rules=decision.DEFAULT_RULES)
    t1 = time.perf_counter()
    synthetic = lexicon.Lexicon.from_terms("synthetic", "synthetic", extra, action="review")
    big = pipeline.Screener((*base.lexicons, synthetic), base.rules)
    t2 = time.perf_counter()
    admin = lexicon.Lexicon.from_terms("admin", "unit_codes", codenames, action="block")
    reloaded = big.with_lexicons([admin])
    t3 = time.perf_counter()
    # what a gateway runs once its background build is done (revisions before compaction: as is)
    screener = getattr(reloaded, "compacted", lambda: reloaded)()
    t4 = time.perf_counter()
    return screener, t1 - t0, t2 - t1, t3 - t2, t4 - t3


def _result_key(result: Any) -> tuple[object, ...]:
    return result.decision, tuple(
        (f.rule, f.start, f.end, f.action, f.severity) for f in result.findings
    )


def _compare(baseline: Any, screener: Any, articles: list[str], rounds: int, runs: int) -> None:
    """Old and new screener on all articles, one after the other (which goes first alternates
    from round to round), in this one process."""
    for run in range(runs):
        times: dict[str, list[float]] = {"old": [], "new": []}
        keys: dict[str, list[tuple[object, ...]]] = {"old": [], "new": []}
        for rnd in range(rounds):
            order = [("old", baseline), ("new", screener)]
            for label, which in order[:: 1 if (run + rnd) % 2 == 0 else -1]:
                for art in articles:
                    t = time.perf_counter()
                    result = which.screen({"content": art})
                    times[label].append(time.perf_counter() - t)
                    keys[label].append(_result_key(result))
        same = sum(a == b for a, b in zip(keys["old"], keys["new"], strict=True))
        p_old, p_new = (statistics.median(times[k]) * 1000 for k in ("old", "new"))
        print(
            f"run {run + 1}: baseline p50 {p_old:.2f} ms   this tree p50 {p_new:.2f} ms   "
            f"ratio {p_new / p_old:.3f}   identical results {same}/{len(keys['new'])}"
        )


_FLUSH_BYTES = 64 << 20


def _timed(
    work: Callable[[str], object], articles: list[str], rounds: int, flush: np.ndarray | None
) -> list[float]:
    """Seconds ``work`` took on each article, ``rounds`` times over; with ``flush``, that buffer
    is rewritten before each article (the CPU caches then hold none of ``work``'s data); without,
    a few untimed articles first bring ``work``'s data back into the caches."""
    out: list[float] = []
    if flush is None:
        for art in articles[:5]:
            work(art)
    for _ in range(rounds):
        for art in articles:
            if flush is not None:
                flush += 1
            t = time.perf_counter()
            work(art)
            out.append(time.perf_counter() - t)
    return out


def main(argv: list[str]) -> int:
    """Build, measure, print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--terms", type=int, default=50_000)
    parser.add_argument("--admin", type=int, default=200, help="admin-path terms on top")
    parser.add_argument(
        "--splice-every",
        type=int,
        default=500,
        help="splice a lexicon term in every N characters (0: the clean prose as it is)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--runs", type=int, default=1, help="repeat the timing; medians printed")
    parser.add_argument("--baseline-rev", default=None, help="git revision to compare with")
    args = parser.parse_args(argv)
    rng = random.Random(42)
    text = CLEAN.read_text(encoding="utf-8").replace("\n", " ")
    real_terms = [t for lx in load_directory(ROOT / "config/lexicons") for t in lx.terms]
    alphabet = sorted({c for c in text[:200_000] if "\u4e00" <= c <= "\u9fff"})
    synth: set[str] = set()
    while len(real_terms) + len(synth) < args.terms:
        synth.add("".join(rng.choice(alphabet) for _ in range(rng.randint(3, 6))))
    codenames: set[str] = set()
    while len(codenames) < args.admin:
        codenames.add("".join(rng.choice(alphabet) for _ in range(rng.randint(2, 4))) + "项目")
    screener, build_s, big_s, reload_s, compact_s = _build(
        "screening", sorted(synth), sorted(codenames)
    )
    all_terms = real_terms + sorted(synth)
    articles = []
    for i in range(args.articles):
        chunk = list(text[i * ARTICLE_CHARS : (i + 1) * ARTICLE_CHARS])
        if args.splice_every:
            for pos in range(args.splice_every // 2, ARTICLE_CHARS, args.splice_every):
                chunk[pos] = rng.choice(real_terms)
        articles.append("".join(chunk)[:ARTICLE_CHARS])
    keys = sorted({canonical(t).text for t in all_terms + sorted(codenames) if canonical(t).text})
    rs = ahocorasick_rs.AhoCorasick(keys)
    py = None
    if ahocorasick is not None:
        py = ahocorasick.Automaton()
        for k in keys:
            py.add_word(k, k)
        py.make_automaton()
    # as `run.py serve` does once started: move the long-lived heap (automata, patterns) out of
    # the cyclic collector's sight, whose full passes over it would otherwise show up as 15-25 ms
    # outliers in the first run
    baseline: Any = None
    if args.baseline_rev:
        tmp = tempfile.TemporaryDirectory()
        sys.path.insert(0, tmp.name)
        package = _package_at(args.baseline_rev, Path(tmp.name))
        baseline = _build(package, sorted(synth), sorted(codenames))[0]
    gc.collect()
    gc.freeze()
    for art in articles[:5]:  # warm-up
        screener.screen({"content": art})
        if baseline is not None:
            baseline.screen({"content": art})
    if baseline is not None:
        print(
            f"terms: {len(all_terms)} + {len(codenames)} admin; {len(articles)} articles x "
            f"{args.rounds} rounds per run; baseline {args.baseline_rev} vs this tree, "
            "all articles with one, then with the other, back to back"
        )
        _compare(baseline, screener, articles, args.rounds, args.runs)
        return 0
    ms = 1000.0
    print(
        f"terms: {len(all_terms)} ({len(real_terms)} curated + {len(synth)} synthetic) + "
        f"{len(codenames)} admin; default screener build {build_s:.1f} s, with the synthetic "
        f"terms {big_s:.1f} s; with_lexicons(+{len(codenames)} admin terms) "
        f"{reload_s * ms:.0f} ms, then compacted() {compact_s:.2f} s"
    )
    print(
        f"articles: {len(articles)} x {ARTICLE_CHARS} chars, a lexicon term spliced in every "
        f"{args.splice_every or 'no'} chars, {args.rounds} rounds per run, "
        f"{args.runs} run(s), all views on, classifier off"
    )
    flush = np.zeros(_FLUSH_BYTES, dtype=np.uint8)

    def screen(art: str) -> object:
        return screener.screen({"content": art})

    def bare(art: str) -> object:
        return rs.find_matches_as_indexes(art, overlapping=True)

    summary: list[tuple[float, ...]] = []
    for run in range(args.runs):
        print(f"run {run + 1}:")
        row: list[float] = []
        for label, buf in (("back to back", None), ("caches flushed", flush)):
            full = _timed(screen, articles, args.rounds, buf)
            bare_rs = _timed(bare, articles, args.rounds, buf)
            p50, p99, r50 = _pct(full, 0.5) * ms, _pct(full, 0.99) * ms, _pct(bare_rs, 0.5) * ms
            row += [p50, p99, p50 / r50]
            print(
                f"  {label + ':':16s} screen() p50 {p50:.2f} ms  p99 {p99:.2f} ms  "
                f"mean {statistics.fmean(full) * ms:.2f} ms | bare ahocorasick-rs p50 "
                f"{r50:.3f} ms | ratio {p50 / r50:.1f}x"
            )
        if py is not None:
            bare_py = _timed(lambda art: list(py.iter(art)), articles, args.rounds, None)
            print(
                f"  bare pyahocorasick, back to back: p50 {_pct(bare_py, 0.5) * ms:.3f} ms   "
                f"p99 {_pct(bare_py, 0.99) * ms:.3f} ms"
            )
        summary.append(tuple(row))
    if args.runs > 1:

        def med(i: int) -> float:
            return statistics.median(row[i] for row in summary)

        print(
            f"median of {args.runs} runs: back to back: screen() p50 {med(0):.2f} ms, p99 "
            f"{med(1):.2f} ms, ratio {med(2):.1f}x; caches flushed: screen() p50 {med(3):.2f} ms, "
            f"p99 {med(4):.2f} ms, ratio {med(5):.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
