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

Run: ``.venv/bin/python bench/screening.py [--terms 50000] [--rounds 3] [--runs 3]`` (each run
reports p50/p99 and the ratio to a bare ahocorasick-rs scan timed alongside; with several runs
the medians of the per-run figures are printed last). As the gateway does after start-up, the
heap built so far is frozen for the cyclic collector before timing.

Before/after on a noisy machine: ``--baseline-rev REV`` imports the ``screening`` package as it was
at git revision REV under another name, builds the same screener with it from the same terms, and
screens every article with the old and the new screener back to back in this one process; each
run prints both p50s, their ratio, and how many of the results are identical.
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
from pathlib import Path
from typing import Any

import ahocorasick_rs

try:  # the comparison library is optional: pip install pyahocorasick
    import ahocorasick
except ImportError:
    ahocorasick = None

# Run as a script, this file's directory comes first on sys.path and its name would shadow the
# ``screening`` package: drop it before importing the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from screening.lexicon import load_directory  # noqa: E402
from screening.normalize import canonical  # noqa: E402

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
    """Old and new screener back to back on every article, in this one process."""
    for run in range(runs):
        old: list[float] = []
        new: list[float] = []
        same = 0
        for _ in range(rounds):
            for art in articles:
                t = time.perf_counter()
                before = baseline.screen({"content": art})
                old.append(time.perf_counter() - t)
                t = time.perf_counter()
                after = screener.screen({"content": art})
                new.append(time.perf_counter() - t)
                same += _result_key(before) == _result_key(after)
        p_old, p_new = statistics.median(old) * 1000, statistics.median(new) * 1000
        print(
            f"run {run + 1}: baseline p50 {p_old:.2f} ms   this tree p50 {p_new:.2f} ms   "
            f"ratio {p_new / p_old:.3f}   identical results {same}/{len(new)}"
        )


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
            "alternating article by article"
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
    summary: list[tuple[float, float, float]] = []
    for run in range(args.runs):
        full: list[float] = []
        bare_rs: list[float] = []
        bare_py: list[float] = []
        for _ in range(args.rounds):
            for art in articles:
                t = time.perf_counter()
                screener.screen({"content": art})
                full.append(time.perf_counter() - t)
                t = time.perf_counter()
                rs.find_matches_as_indexes(art, overlapping=True)
                bare_rs.append(time.perf_counter() - t)
                if py is not None:
                    t = time.perf_counter()
                    list(py.iter(art))
                    bare_py.append(time.perf_counter() - t)
        p50, p99 = _pct(full, 0.5) * ms, _pct(full, 0.99) * ms
        r50 = _pct(bare_rs, 0.5) * ms
        summary.append((p50, p99, p50 / r50))
        print(f"run {run + 1}:")
        print(
            f"  screen():          p50 {p50:.2f} ms   p99 {p99:.2f} ms   "
            f"mean {statistics.fmean(full) * ms:.2f} ms"
        )
        print(f"  bare ahocorasick-rs: p50 {r50:.3f} ms   p99 {_pct(bare_rs, 0.99) * ms:.3f} ms")
        if bare_py:
            print(
                f"  bare pyahocorasick:  p50 {_pct(bare_py, 0.5) * ms:.3f} ms   "
                f"p99 {_pct(bare_py, 0.99) * ms:.3f} ms"
            )
        print(f"  ratio screen()/bare ahocorasick-rs (p50): {p50 / r50:.1f}x")
    if args.runs > 1:
        print(
            f"median of {args.runs} runs: screen() p50 "
            f"{statistics.median(s[0] for s in summary):.2f} ms, p99 "
            f"{statistics.median(s[1] for s in summary):.2f} ms, ratio to bare "
            f"ahocorasick-rs {statistics.median(s[2] for s in summary):.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
