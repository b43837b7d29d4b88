"""Train the classifier stage's model on COLD, reproducibly, and write its model directory.

    python -m screening.train --data /work/shared/data/datasets/COLD \
        --clean /work/shared/data/clean/TranslateProject/text.txt --out screening/models/cold-mini

Recipe: a small char-level BERT (from scratch, no hub download), optionally pre-trained with
masked-language modelling on COLD train texts plus unlabelled clean Chinese prose for a fixed number
of steps, then fine-tuned on the COLD train split with symbol-insertion augmentation; the epoch is
selected and the review threshold calibrated on the dev split. In the same run the dev split is
scored for a char n-gram TF-IDF + logistic-regression baseline, for the model without
normalisation and for an adversarial copy of dev with symbols inserted between characters.
`--distill W` (off by default) mixes the TF-IDF model's out-of-fold probabilities into the targets.

The shipped model is an ensemble (unless `--no-ngram`): the BERT's probability averaged, with equal
weights, with a char 1-3-gram TF-IDF logistic regression trained on the normalised train texts and
written to the model directory as a plain n-gram table (run time needs no scikit-learn).
`--reuse-bert DIR` takes the BERT (weights, vocabulary, training history) from an existing model
directory instead of pre-training and fine-tuning one (~20 minutes); everything else is redone.

Training-only dependencies: the `[train]` extra (torch, transformers, safetensors, scikit-learn).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screening.classifier import (
    CALIBRATION_FILE,
    MASK_ID,
    NGRAM_FILE,
    PAD_ID,
    SPECIAL_TOKENS,
    VOCAB_FILE,
    CharVocab,
    NgramLinear,
    TextClassifier,
    _logit,
    _prepare,
    char_ngrams,
)

logger = logging.getLogger(__name__)

PUBLISHED_ROBERTA = {"accuracy": 0.8275, "macro_f1": 0.8239, "split": "test"}
MAX_MODEL_DIR_BYTES = 20_000_000  # the model directory ships inside the package
# Inserted between characters in the adversarial dev copy and in training augmentation.
NOISE_CHARS = [*"*.·_-|/\\~ ，。！？…❤★☆♥♡✿※#@&%+=^", "😀", "😂", "🙏", "🔥", "\u200b", "\u3000"]
# Safe (label 0) dev texts with these cues are mostly texts *about* prejudice; COLD dev has no
# fine-grained "anti-bias" label (only its test split does), so this subset is a proxy for it.
ANTI_BIAS_CUES = ("歧视", "偏见", "刻板印象", "地域黑", "一竿子", "以偏概全", "平等", "尊重")


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: int
    topic: str


def read_split(data_dir: Path, split: str) -> list[Example]:
    with (data_dir / f"{split}.csv").open(encoding="utf-8-sig", newline="") as fh:
        return [Example(r["TEXT"], int(r["label"]), r["topic"]) for r in csv.DictReader(fh)]


def insert_noise(text: str, rng: random.Random, rate: float) -> str:
    """Insert a random symbol/emoji/space after each character with probability `rate`."""
    out: list[str] = []
    for ch in text:
        out.append(ch)
        if rng.random() < rate:
            out.append(rng.choice(NOISE_CHARS))
    return "".join(out)


def clean_lines(path: Path, holdout_every: int) -> tuple[list[str], list[str]]:
    """A clean-prose file's lines (one document each) split into (training, held out).

    Every `holdout_every`-th line (0: none) is held out: it is never pre-trained on, so the
    review rate measured on it is measured on unseen prose.
    """
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if holdout_every <= 0:
        return lines, []
    keep = [ln for i, ln in enumerate(lines) if i % holdout_every != holdout_every - 1]
    held = [ln for i, ln in enumerate(lines) if i % holdout_every == holdout_every - 1]
    return keep, held


def clean_chunks(
    paths: Sequence[Path], size: int, limit_chars: int, holdout_every: int = 0
) -> list[str]:
    """Pieces of `size` normalised characters of each file's training lines (at most
    `limit_chars` characters of each file; 0: all)."""
    out: list[str] = []
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"--clean {path}: no such file")
        keep, _ = clean_lines(path, holdout_every)
        text = "\n".join(keep)
        if limit_chars > 0:
            text = text[:limit_chars]
        text = _prepare(text)
        out += [text[i : i + size] for i in range(0, len(text) - size // 2, size)]
    return out


def clean_negatives(
    paths: Sequence[Path], n: int, size: int, holdout_every: int, seed: int
) -> list[Example]:
    """`n` pieces of clean prose (training lines only) as safe examples for fine-tuning.

    Company prose is far from COLD's comments; without examples of it the model reads some
    ordinary news wording as offensive. Pieces are `size` normalised characters, the length the
    run time scores, drawn evenly from the files with a fixed seed.
    """
    if n <= 0 or not paths:
        return []
    rng = random.Random(seed)
    per_file = math.ceil(n / len(paths))
    out: list[Example] = []
    for path in paths:
        keep, _ = clean_lines(path, holdout_every)
        text = _prepare("\n".join(keep))
        starts = list(range(0, max(1, len(text) - size), size))
        for s in sorted(rng.sample(starts, min(per_file, len(starts)))):
            out.append(Example(text[s : s + size], 0, "clean:" + path.parent.name))
    rng.shuffle(out)
    return out[:n]


def spliced_positives(
    negatives: Sequence[Example], offensive: Sequence[Example], size: int, seed: int
) -> list[Example]:
    """For each clean piece, an offensive COLD train text set inside it (label 1), cut to `size`
    characters around it: clean-prose negatives alone taught the model that company wording
    makes a text safe, and an offensive sentence inside a press release then scored under the
    threshold. One positive per negative keeps the prose itself label-neutral."""
    rng = random.Random(seed + 5)
    out: list[Example] = []
    for neg in negatives:
        bad = _prepare(rng.choice(offensive).text)[: size - 8]
        at = rng.randint(0, len(neg.text))
        joined = neg.text[:at] + bad + neg.text[at:]
        start = max(0, min(at - rng.randint(0, size - len(bad)), len(joined) - size))
        out.append(Example(joined[start : start + size], 1, "spliced:" + neg.topic))
    return out


def build_vocab(texts: Sequence[str], min_freq: int) -> CharVocab:
    counts = Counter(ch for t in texts for ch in t)
    chars = sorted((c for c, n in counts.items() if n >= min_freq), key=lambda c: (-counts[c], c))
    return CharVocab.from_chars(chars)


def metrics(labels: Sequence[int], probs: Sequence[float], threshold: float) -> dict[str, float]:
    tp = fp = tn = fn = 0
    for y, p in zip(labels, probs, strict=True):
        pred = int(p >= threshold)
        tp += pred and y
        fp += pred and not y
        tn += (not pred) and (not y)
        fn += (not pred) and y

    def f1(a: int, b: int, c: int) -> float:  # a = true hits, b = false alarms, c = misses
        return 2 * a / (2 * a + b + c) if a else 0.0

    n = max(1, tp + fp + tn + fn)
    return {
        "accuracy": round((tp + tn) / n, 4),
        "macro_f1": round((f1(tp, fp, fn) + f1(tn, fn, fp)) / 2, 4),
        "precision": round(tp / max(1, tp + fp), 4),
        "recall": round(tp / max(1, tp + fn), 4),
        "fpr": round(fp / max(1, fp + tn), 4),
        "n": tp + fp + tn + fn,
    }


def calibrate(labels: Sequence[int], probs: Sequence[float]) -> float:
    """Threshold maximising macro-F1 (ties: the one closest to 0.5)."""
    grid = [i / 100 for i in range(5, 96)]
    return max(grid, key=lambda t: (metrics(labels, probs, t)["macro_f1"], -abs(t - 0.5)))


# --- torch parts ---------------------------------------------------------------------------------


def _seed_everything(seed: int) -> Any:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    return torch


def _batches(
    encoded: Sequence[list[int]], batch_size: int, rng: random.Random, shuffle: bool
) -> Iterator[list[int]]:
    """Index batches of similar length (less padding); batch order shuffled."""
    order = list(range(len(encoded)))
    if shuffle:
        rng.shuffle(order)
        pool = batch_size * 50
        order = [
            i
            for k in range(0, len(order), pool)
            for i in sorted(order[k : k + pool], key=lambda j: len(encoded[j]))
        ]
    else:
        order.sort(key=lambda j: len(encoded[j]))
    batches = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    if shuffle:
        rng.shuffle(batches)
    yield from batches


def _pad(torch: Any, rows: Sequence[list[int]]) -> tuple[Any, Any]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def _schedule(torch: Any, optimizer: Any, total_steps: int, warmup: float) -> Any:
    warm = max(1, int(total_steps * warmup))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def pretrain_mlm(
    torch: Any, config: Any, encoded: list[list[int]], args: argparse.Namespace, vocab_size: int
) -> dict[str, Any]:
    """Masked-LM pre-training for a fixed number of steps; returns the encoder's state dict.

    The LM head runs on the masked positions only, which keeps a step close to the cost of a
    classification step on the same batch.
    """
    from transformers import BertForMaskedLM

    model = BertForMaskedLM(config)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.mlm_lr, weight_decay=0.01)
    sched = _schedule(torch, optimizer, args.mlm_steps, 0.06)
    gen = torch.Generator().manual_seed(args.seed)
    rng = random.Random(args.seed)
    step, running, started = 0, 0.0, time.monotonic()
    while step < args.mlm_steps:
        for batch in _batches(encoded, args.batch_size, rng, shuffle=True):
            ids, mask = _pad(torch, [encoded[i] for i in batch])
            special = ids < len(SPECIAL_TOKENS)
            chosen = (torch.rand(ids.shape, generator=gen) < 0.15) & ~special
            if not bool(chosen.any()):
                continue
            roll = torch.rand(ids.shape, generator=gen)
            inputs = ids.clone()
            inputs[chosen & (roll < 0.8)] = MASK_ID
            rand_pos = chosen & (roll >= 0.8) & (roll < 0.9)
            random_ids = torch.randint(len(SPECIAL_TOKENS), vocab_size, ids.shape, generator=gen)
            inputs[rand_pos] = random_ids[rand_pos]
            hidden = model.bert(input_ids=inputs, attention_mask=mask).last_hidden_state
            logits = model.cls(hidden[chosen])
            loss = torch.nn.functional.cross_entropy(logits, ids[chosen])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            sched.step()
            optimizer.zero_grad()
            value = float(loss.detach())
            running = 0.98 * running + 0.02 * value if step else value
            step += 1
            if step % 100 == 0:
                logger.info(
                    "mlm step %d/%d loss %.3f (%.0f s)",
                    step,
                    args.mlm_steps,
                    running,
                    time.monotonic() - started,
                )
            if step >= args.mlm_steps:
                break
    return {k: v for k, v in model.bert.state_dict().items() if not k.startswith("pooler.")}


def predict(torch: Any, model: Any, encoded: Sequence[list[int]], batch_size: int) -> list[float]:
    model.eval()
    probs = [0.0] * len(encoded)
    with torch.inference_mode():
        for batch in _batches(encoded, batch_size * 4, random.Random(0), shuffle=False):
            ids, mask = _pad(torch, [encoded[i] for i in batch])
            p = torch.softmax(model(input_ids=ids, attention_mask=mask).logits, dim=-1)[:, 1]
            for i, v in zip(batch, p.tolist(), strict=True):
                probs[i] = v
    return probs


def finetune(
    torch: Any,
    config: Any,
    encoder_state: dict[str, Any] | None,
    train: Sequence[Example],
    dev_encoded: Sequence[list[int]],
    dev_labels: Sequence[int],
    vocab: CharVocab,
    args: argparse.Namespace,
    teacher: Sequence[float] | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification(config)
    if encoder_state is not None:
        missing, unexpected = model.bert.load_state_dict(encoder_state, strict=False)
        logger.info("encoder initialised from MLM (missing %s, unexpected %s)", missing, unexpected)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    sched = _schedule(torch, optimizer, steps_per_epoch * args.epochs, 0.1)
    rng = random.Random(args.seed + 1)
    history: list[dict[str, Any]] = []
    best_f1, best_state = -1.0, None
    for epoch in range(args.epochs):
        # Fresh augmentation each epoch: a share of texts gets symbols inserted, then prepared,
        # so the model also sees whatever residue the normaliser leaves.
        texts = [
            insert_noise(ex.text, rng, rng.uniform(0.1, 0.5))
            if rng.random() < args.augment
            else ex.text
            for ex in train
        ]
        encoded = [vocab.encode(_prepare(t), args.max_chars) for t in texts]
        model.train()
        started, running = time.monotonic(), 0.0
        for step, batch in enumerate(_batches(encoded, args.batch_size, rng, shuffle=True)):
            ids, mask = _pad(torch, [encoded[i] for i in batch])
            logits = model(input_ids=ids, attention_mask=mask).logits
            if teacher is None:
                labels = torch.tensor([train[i].label for i in batch])
                loss = torch.nn.functional.cross_entropy(logits, labels)
            else:
                # Soft targets: gold label mixed with the TF-IDF teacher's out-of-fold opinion.
                q = torch.tensor(
                    [(1 - args.distill) * train[i].label + args.distill * teacher[i] for i in batch]
                )
                target = torch.stack([1 - q, q], dim=1)
                loss = -(target * torch.log_softmax(logits, dim=-1)).sum(dim=1).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            sched.step()
            optimizer.zero_grad()
            running = 0.98 * running + 0.02 * float(loss.detach()) if step else float(loss.detach())
        probs = predict(torch, model, dev_encoded, args.batch_size)
        m = metrics(dev_labels, probs, 0.5)
        m.update(
            epoch=epoch + 1, train_loss=round(running, 4), seconds=round(time.monotonic() - started)
        )
        history.append(m)
        logger.info("epoch %d: %s", epoch + 1, m)
        if m["macro_f1"] > best_f1:
            best_f1 = m["macro_f1"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    return model, history


def _tfidf_model() -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    return vec, LogisticRegression(C=4.0, max_iter=2000)


def tfidf_out_of_fold(train: Sequence[Example], folds: int, seed: int) -> list[float]:
    """P(offensive) for each train text from a TF-IDF model that did not see it (the teacher)."""
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    probs = [0.0] * len(train)
    for k in range(folds):
        held = set(order[k::folds])
        vec, clf = _tfidf_model()
        fit = [ex for i, ex in enumerate(train) if i not in held]
        clf.fit(vec.fit_transform([ex.text for ex in fit]), [ex.label for ex in fit])
        idx = sorted(held)
        p = clf.predict_proba(vec.transform([train[i].text for i in idx]))[:, 1]
        for i, v in zip(idx, p.tolist(), strict=True):
            probs[i] = v
    return probs


def tfidf_baseline(
    train: Sequence[Example], dev_views: dict[str, Sequence[str]], dev_labels: Sequence[int]
) -> tuple[dict[str, dict[str, float]], dict[str, list[float]]]:
    vec, clf = _tfidf_model()
    x = vec.fit_transform([ex.text for ex in train])
    clf.fit(x, [ex.label for ex in train])
    out: dict[str, dict[str, float]] = {}
    probs: dict[str, list[float]] = {}
    for name, texts in dev_views.items():
        probs[name] = clf.predict_proba(vec.transform(list(texts)))[:, 1].tolist()
        out[name] = metrics(dev_labels, probs[name], 0.5)
    return out, probs


def train_ngram(
    texts: Sequence[str], labels: Sequence[int], min_df: int, c: float, out: Path | None
) -> tuple[Any, Any]:
    """Fit the ensemble's n-gram part on prepared texts; write its table to `out`/NGRAM_FILE.

    Same features and C as the TF-IDF baseline, but on normalised text and through
    `char_ngrams`, the analyzer the run time uses. Returns (vectoriser, model) for checks.
    """
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(
        analyzer=char_ngrams, sublinear_tf=True, min_df=min_df, lowercase=False, token_pattern=None
    )
    x = vec.fit_transform(list(texts))
    clf = LogisticRegression(C=c, max_iter=2000).fit(x, list(labels))
    df = np.bincount(x.indices, minlength=x.shape[1])  # documents containing each n-gram
    idf = np.log((1 + len(texts)) / (1 + df)) + 1
    if not np.allclose(idf, vec.idf_):
        raise SystemExit("n-gram table: document frequencies do not reproduce the idf")
    if out is None:
        return vec, clf
    names = vec.get_feature_names_out()
    coef = clf.coef_[0]
    rows = [(str(names[j]), int(df[j]), float(coef[j])) for j in range(len(names))]
    NgramLinear.write(
        out / NGRAM_FILE,
        rows,
        documents=len(texts),
        intercept=float(clf.intercept_[0]),
        ngram_range=(1, 3),
    )
    return vec, clf


def held_out_parts(
    torch: Any,
    config: Any,
    encoder_state: dict[str, Any] | None,
    train: Sequence[Example],
    train_prepared: Sequence[str],
    dev_encoded: Sequence[list[int]],
    dev_labels: Sequence[int],
    vocab: CharVocab,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Both parts' probabilities on a held-out share of train, from parts trained on the rest.

    The same recipe as the shipped parts (the BERT from the same MLM encoder, its epoch chosen on
    dev as usual), so the stacking weights fitted on these see how the parts err on unseen text.
    """
    order = list(range(len(train)))
    random.Random(args.seed + 4).shuffle(order)
    n_held = int(len(train) * args.stack_holdout)
    held, fit = sorted(order[:n_held]), sorted(order[n_held:])
    torch.manual_seed(args.seed + 3)
    started = time.monotonic()
    model, history = finetune(
        torch, config, encoder_state, [train[i] for i in fit], dev_encoded, dev_labels, vocab, args
    )
    cut = [train_prepared[i][: args.max_chars] for i in held]
    bert = predict(torch, model, [vocab.encode(t, args.max_chars) for t in cut], args.batch_size)
    vec, clf = train_ngram(
        [train_prepared[i] for i in fit],
        [train[i].label for i in fit],
        args.ngram_min_df,
        4.0,
        None,
    )
    ngram = clf.predict_proba(vec.transform(cut))[:, 1].tolist()
    return {
        "labels": [train[i].label for i in held],
        "bert": bert,
        "ngram_lr": ngram,
        "history": history,
        "seconds": round(time.monotonic() - started),
    }


def fit_stack(held: dict[str, Any]) -> dict[str, Any]:
    """Logistic regression on the parts' log-odds (scikit-learn defaults, C = 1)."""
    from sklearn.linear_model import LogisticRegression

    names = ("bert", "ngram_lr")
    x = [[_logit(p) for p in ps] for ps in zip(*(held[n] for n in names), strict=True)]
    lr = LogisticRegression().fit(x, held["labels"])
    return {
        "method": "logistic regression on the parts' log-odds",
        "intercept": float(lr.intercept_[0]),
        "weights": {n: float(w) for n, w in zip(names, lr.coef_[0], strict=True)},
        "fitted_on": f"{len(held['labels'])} held-out COLD train texts",
    }


def save_model(model: Any, vocab: CharVocab, out: Path) -> None:
    import torch
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(out)
    # fp16 halves the file; the loader upcasts to fp32 (measured: no change in dev metrics).
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    vocab.save(out / VOCAB_FILE)


def _share_flagged(probs: Sequence[float], rows: Sequence[int], threshold: float) -> float:
    return round(sum(probs[i] >= threshold for i in rows) / max(1, len(rows)), 4)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="dir with COLD train/dev.csv")
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument(
        "--clean",
        type=Path,
        nargs="*",
        default=[],
        help="unlabelled clean Chinese text files (one document per line) for MLM",
    )
    parser.add_argument(
        "--clean-chars", type=int, default=600_000, help="characters of each file (0: all)"
    )
    parser.add_argument(
        "--clean-holdout-every",
        type=int,
        default=0,
        help="hold every Nth clean line out of pre-training (0: none)",
    )
    parser.add_argument(
        "--clean-negatives",
        type=int,
        default=0,
        help="pieces of the clean prose's training lines added to train as safe examples",
    )
    parser.add_argument(
        "--splice-positives",
        action="store_true",
        help="also one positive per clean negative: an offensive train text set inside it",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--mlm-steps", type=int, default=600, help="0 disables MLM")
    parser.add_argument("--mlm-chunk-chars", type=int, default=64, help="clean-text pieces")
    parser.add_argument("--mlm-lr", type=float, default=5e-4)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--augment", type=float, default=0.3, help="share of noisy copies")
    parser.add_argument("--distill", type=float, default=0.0, help="weight of TF-IDF teacher")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--max-chars", type=int, default=126)
    parser.add_argument("--min-freq", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit-train", type=int, default=0, help="smoke tests only")
    parser.add_argument("--threads", type=int, default=1, help="1 is faster on a busy 2-core box")
    parser.add_argument("--version", default=time.strftime("%Y-%m-%d"))
    parser.add_argument(
        "--reuse-bert",
        type=Path,
        default=None,
        help="model dir whose BERT (weights, vocab, history) to reuse instead of training one",
    )
    parser.add_argument(
        "--ngram",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ship the BERT + char n-gram logistic regression ensemble (default) or BERT alone",
    )
    parser.add_argument("--ngram-min-df", type=int, default=2)
    parser.add_argument(
        "--stack-holdout",
        type=float,
        default=0.2,
        help="share of train held out (parts retrained on the rest) to fit the ensemble's "
        "weights; 0: plain mean of the parts",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t0 = time.monotonic()

    torch = _seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    from transformers import BertConfig, BertForSequenceClassification

    train, dev = read_split(args.data, "train"), read_split(args.data, "dev")
    if args.limit_train:
        train, dev = train[: args.limit_train], dev[: args.limit_train // 4]
    negatives = clean_negatives(
        args.clean, args.clean_negatives, args.mlm_chunk_chars, args.clean_holdout_every, args.seed
    )
    cold_train = train  # the TF-IDF baseline stays the COLD-only reference
    positives = (
        spliced_positives(
            negatives, [ex for ex in train if ex.label == 1], args.mlm_chunk_chars, args.seed
        )
        if args.splice_positives
        else []
    )
    train = train + negatives + positives
    dev_labels = [ex.label for ex in dev]
    chunks = clean_chunks(
        args.clean, args.mlm_chunk_chars, args.clean_chars, args.clean_holdout_every
    )
    train_prepared = [_prepare(ex.text) for ex in train]
    rng = random.Random(args.seed + 2)
    adversarial = [insert_noise(ex.text, rng, 0.5) for ex in dev]
    mlm_s = finetune_s = 0.0
    reused: dict[str, Any] | None = None
    previous: dict[str, Any] = {}
    previous_calibration: dict[str, Any] = {}
    encoder_state: dict[str, Any] | None = None

    def run_mlm() -> dict[str, Any] | None:
        nonlocal mlm_s
        if args.mlm_steps <= 0:
            return None
        # The generator as right after seeding (the reuse path has loaded a model since).
        torch.manual_seed(args.seed)
        started = time.monotonic()
        mlm_texts = [vocab.encode(t, args.max_chars) for t in train_prepared + chunks]
        state = pretrain_mlm(torch, config, mlm_texts, args, len(vocab))
        mlm_s += time.monotonic() - started
        return state

    if args.reuse_bert is not None:
        # Read everything from the reused directory before anything is written (it may be --out).
        previous_path = args.reuse_bert / "metrics.json"
        if previous_path.is_file():
            previous = json.loads(previous_path.read_text(encoding="utf-8"))
        previous_calibration = json.loads(
            (args.reuse_bert / CALIBRATION_FILE).read_text(encoding="utf-8")
        )
        vocab = CharVocab.load(args.reuse_bert / VOCAB_FILE)
        model = BertForSequenceClassification.from_pretrained(
            args.reuse_bert, local_files_only=True, dtype=torch.float32
        )
        model.eval()
        model.config.dtype = None  # as a freshly built config: config.json stays byte-identical
        args.max_chars = model.config.max_position_embeddings - 2
        config = model.config
        dev_encoded = [vocab.encode(_prepare(ex.text), args.max_chars) for ex in dev]
        history = previous.get("history", [])
        # A reused BERT's own origin is carried along: the run that actually trained it.
        reused = previous.get("bert_reused") or {
            "from": str(args.reuse_bert),
            "command": previous.get("command"),
            "seconds": previous.get("seconds"),
        }
        logger.info("BERT reused from %s (vocab %d)", args.reuse_bert, len(vocab))
    else:
        vocab = build_vocab(train_prepared + chunks, args.min_freq)
        logger.info(
            "train %d, dev %d, clean chunks %d, vocab %d",
            len(train),
            len(dev),
            len(chunks),
            len(vocab),
        )
        config = BertConfig(
            vocab_size=len(vocab),
            hidden_size=args.hidden,
            num_hidden_layers=args.layers,
            num_attention_heads=max(1, args.hidden // 64),
            intermediate_size=args.hidden * 4,
            max_position_embeddings=args.max_chars + 2,
            type_vocab_size=1,
            pad_token_id=PAD_ID,
        )
        # Set after construction: label kwargs are not in BertConfig's typed signature.
        config.id2label = {0: "safe", 1: "offensive"}
        config.label2id = {"safe": 0, "offensive": 1}
        config.problem_type = "single_label_classification"
        encoder_state = run_mlm()
        dev_encoded = [vocab.encode(_prepare(ex.text), args.max_chars) for ex in dev]
        teacher = None
        if args.distill > 0:
            started = time.monotonic()
            teacher = tfidf_out_of_fold(train, 5, args.seed)
            logger.info("teacher (5-fold TF-IDF) in %.0f s", time.monotonic() - started)
        started = time.monotonic()
        model, history = finetune(
            torch, config, encoder_state, train, dev_encoded, dev_labels, vocab, args, teacher
        )
        finetune_s = time.monotonic() - started

    stack: dict[str, Any] | None = None
    stack_report: dict[str, Any] | None = None
    if args.ngram and args.stack_holdout > 0:
        if reused is not None and "stack" in previous_calibration:
            stack, stack_report = previous_calibration["stack"], previous.get("stack")
            logger.info("stacking weights reused from %s", args.reuse_bert)
        else:
            if reused is not None:
                encoder_state = run_mlm()
            held = held_out_parts(
                torch,
                config,
                encoder_state,
                train,
                train_prepared,
                dev_encoded,
                dev_labels,
                vocab,
                args,
            )
            stack = fit_stack(held)
            y = held["labels"]
            stacked = [
                1 / (1 + math.exp(-z))
                for z in (
                    stack["intercept"]
                    + stack["weights"]["bert"] * _logit(b)
                    + stack["weights"]["ngram_lr"] * _logit(n)
                    for b, n in zip(held["bert"], held["ngram_lr"], strict=True)
                )
            ]
            mean_held = [(b + n) / 2 for b, n in zip(held["bert"], held["ngram_lr"], strict=True)]
            stack_report = {
                **stack,
                "held_out_metrics_at_0.5": {
                    "bert": metrics(y, held["bert"], 0.5),
                    "ngram_lr": metrics(y, held["ngram_lr"], 0.5),
                    "mean": metrics(y, mean_held, 0.5),
                    "stacked_in_sample": metrics(y, stacked, 0.5),
                },
                "held_out_bert_history": held["history"],
                "seconds": held["seconds"],
            }
            logger.info("stack: %s", stack_report)

    save_model(model, vocab, args.out)
    ngram_s = 0.0
    ngram_fit: tuple[Any, Any] | None = None
    (args.out / NGRAM_FILE).unlink(missing_ok=True)
    if args.ngram:
        started = time.monotonic()
        ngram_fit = train_ngram(
            train_prepared, [ex.label for ex in train], args.ngram_min_df, 4.0, args.out
        )
        ngram_s = time.monotonic() - started
    parts = ["bert", "ngram_lr"] if args.ngram else ["bert"]

    def write_calibration(threshold: float) -> None:
        calibration = {
            "name": args.out.name,
            "version": args.version,
            "threshold": threshold,
            "max_chars": args.max_chars,
            "parts": parts,
            **({"stack": stack} if stack is not None else {}),
            "calibrated_on": "COLD dev, threshold maximising macro-F1",
            "labels": {"0": "safe", "1": "offensive"},
        }
        (args.out / CALIBRATION_FILE).write_text(
            json.dumps(calibration, indent=2) + "\n", encoding="utf-8"
        )

    # Everything below is measured on the directory as shipped, through the run-time code
    # (numpy, float32; its threshold is only needed for loading and is replaced after calibration).
    write_calibration(0.5)
    shipped = TextClassifier.load(args.out, backend="numpy")
    lowered = [ex.text.lower() for ex in dev]
    views = {
        "dev": shipped.part_probas([ex.text for ex in dev]),
        "dev_no_normalisation": shipped.part_probas(lowered, prepare=False),
        "adversarial_dev": shipped.part_probas(adversarial),
        "adversarial_dev_no_normalisation": shipped.part_probas(
            [t.lower() for t in adversarial], prepare=False
        ),
    }

    probs = shipped.combine(views["dev"])
    threshold = calibrate(dev_labels, probs)
    write_calibration(threshold)
    model_metrics = {
        name: metrics(dev_labels, shipped.combine(v), 0.5) for name, v in views.items()
    }
    model_metrics["dev_calibrated"] = metrics(dev_labels, probs, threshold)
    if len(parts) > 1:  # the unweighted alternative, for comparison
        plain = [sum(ps) / len(ps) for ps in zip(*views["dev"].values(), strict=True)]
        model_metrics["dev_mean_of_parts"] = metrics(dev_labels, plain, 0.5)
    bert_probs = views["dev"]["bert"]
    bert_threshold = calibrate(dev_labels, bert_probs)
    bert_metrics = {name: metrics(dev_labels, v["bert"], 0.5) for name, v in views.items()}
    bert_metrics["dev_calibrated"] = metrics(dev_labels, bert_probs, bert_threshold)

    ngram_report: dict[str, Any] | None = None
    if ngram_fit is not None:
        vec, clf = ngram_fit
        cut = [_prepare(ex.text)[: args.max_chars] for ex in dev]
        reference = clf.predict_proba(vec.transform(cut))[:, 1].tolist()
        ours = views["dev"]["ngram_lr"]
        diff = max(abs(a - b) for a, b in zip(reference, ours, strict=True))
        if diff > 1e-4:
            raise SystemExit(f"n-gram part: run time differs from scikit-learn by {diff}")
        ngram_report = {
            "features": len(vec.idf_),
            "min_df": args.ngram_min_df,
            "C": 4.0,
            "text": "normalised (_prepare), cut to max_chars like the BERT input",
            "runtime_vs_sklearn_max_abs_diff": diff,
            "dev": metrics(dev_labels, ours, 0.5),
            "adversarial_dev": metrics(dev_labels, views["adversarial_dev"]["ngram_lr"], 0.5),
        }

    proxy = [
        i for i, ex in enumerate(dev) if ex.label == 0 and any(c in ex.text for c in ANTI_BIAS_CUES)
    ]
    anti_bias: dict[str, Any] = {
        "definition": "dev texts labelled safe containing one of " + "/".join(ANTI_BIAS_CUES),
        "n": len(proxy),
        "fpr_at_0.5": _share_flagged(probs, proxy, 0.5),
        "fpr_at_threshold": _share_flagged(probs, proxy, threshold),
        "bert_alone_fpr_at_0.5": _share_flagged(bert_probs, proxy, 0.5),
        "bert_alone_fpr_at_its_threshold": _share_flagged(bert_probs, proxy, bert_threshold),
    }
    if args.ngram:
        anti_bias["ngram_lr_alone_fpr_at_0.5"] = _share_flagged(
            views["dev"]["ngram_lr"], proxy, 0.5
        )

    started = time.monotonic()
    baseline, baseline_probs = tfidf_baseline(
        cold_train, {"dev": [ex.text for ex in dev], "adversarial_dev": adversarial}, dev_labels
    )
    baseline_s = time.monotonic() - started
    anti_bias["tfidf_fpr_at_0.5"] = _share_flagged(baseline_probs["dev"], proxy, 0.5)

    size_bytes = sum(f.stat().st_size for f in args.out.iterdir() if f.is_file())
    if size_bytes > MAX_MODEL_DIR_BYTES:
        raise SystemExit(f"{args.out}: {size_bytes} bytes, over {MAX_MODEL_DIR_BYTES}")
    report = {
        "command": "python -m screening.train " + " ".join(argv or sys.argv[1:]),
        "args": {
            k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if k == "clean" else v)
            for k, v in vars(args).items()
        },
        "data": {
            "train": len(train),
            "dev": len(dev),
            "clean_chunks": len(chunks),
            "clean_negatives": len(negatives),
            "spliced_positives": len(positives),
            "vocab": len(vocab),
        },
        "shipped": " + ".join(parts)
        + (" (stacked)" if stack else " (mean of probabilities)" if len(parts) > 1 else ""),
        "tuned_on_dev": "the BERT's epoch (also the held-out copy's) and the review threshold "
        "only; the stacking weights are fitted on held-out train texts, the n-gram part's "
        "settings are the baseline's, fixed beforehand",
        "stack": stack_report,
        "model": model_metrics,
        "threshold": threshold,
        "bert_alone": bert_metrics,
        "bert_alone_threshold": bert_threshold,
        "bert_reused": reused,
        "ngram_lr": ngram_report,
        "tfidf_logreg": baseline,
        "published_roberta_base_cold_test": PUBLISHED_ROBERTA,
        "anti_bias_proxy": anti_bias,
        "history": history,
        "seconds": {
            "mlm": round(mlm_s),
            "finetune": round(finetune_s),
            "ngram_lr": round(ngram_s),
            "tfidf": round(baseline_s),
            "total": round(time.monotonic() - t0),
        },
        "size_bytes_before_metadata": size_bytes,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    (args.out / "metrics.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    logger.info("metrics: %s", json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
