"""Classifier stage: a small char-level BERT that flags offensive Chinese text for human review.

The model is trained by `screening.train` on COLD and loaded from a local directory only (never
from a hub). Long texts are scored in overlapping character windows; a window whose offensive
probability reaches the operating threshold (calibration.json's `operating_threshold`, chosen on
held-out clean prose; the model's own decision threshold on COLD dev is `threshold`) becomes a
`review` finding. The score is a reason for a human to look, never an automatic block.

A model directory may hold a second part, a char n-gram logistic regression (`ngram_lr.tsv`); the
score then combines the two probabilities (stacked log-odds, or their mean). The shipped BERT runs
on numpy alone (`screening.encoder.NumpyBert`, float32); a larger local transformers checkpoint
can be configured instead and runs through transformers + torch (`pip install
'mediagate[classifier]'`, imported lazily, only for that backend).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import sys
import unicodedata
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screening.encoder import EncoderError, NumpyBert
from screening.findings import Finding

logger = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'mediagate[classifier]'"  # the transformers backend only
CALIBRATION_FILE = "calibration.json"
VOCAB_FILE = "vocab.txt"
NGRAM_FILE = "ngram_lr.tsv"  # the char n-gram linear part of the ensemble, when there is one
NGRAM_FORMAT = "mediagate-ngram-lr/1"
PARTS = ("bert", "ngram_lr")
# Probabilities are clipped to [EPS, 1 - EPS] before a stacked ensemble takes their log-odds.
LOGIT_EPS = 1e-6
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))
RULE = "classifier:cold"
# Inside a window the model reads chunks about as long as the comments it was trained on (COLD
# median 40 characters): one offensive sentence in 126 characters of neutral prose scored 0.17,
# in 64 characters 0.85-0.93.
CHUNK_CHARS = 64
CHUNK_STRIDE_CHARS = 48  # any phrase of up to 16 characters lies whole inside one chunk
# Rows per forward pass: bounds the activations' memory on long texts (500 characters are ~10).
MAX_BATCH_ROWS = 64
BACKENDS = ("auto", "numpy", "transformers")
# Added to the BERT's logit bound before a chunk is skipped: covers float32 rounding many times.
BOUND_MARGIN = 1e-3


class ClassifierUnavailable(RuntimeError):
    """The classifier cannot run: the extra is not installed or the model dir is unusable."""


# --- normalisation before the model ---------------------------------------------------------

# Categories of characters that carry no meaning between two Han characters: punctuation (P*),
# symbols and emoji (S*), separators (Z*), controls/format (C*) and combining marks (M*, e.g.
# the emoji variation selector U+FE0F). "Symbols inserted between characters" is the evasion that
# halves a plain model's recall, so these runs are deleted when both neighbours are Han.
_NOISE_PREFIXES = ("P", "S", "Z", "C", "M")


def _is_han(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3FFFF
        or ch == "〇"
    )


def _is_invisible(ch: str) -> bool:
    # Format characters (zero-width, bidi controls, BOM, soft hyphen), and controls except
    # line breaks and tabs, which are treated as spaces below.
    cat = unicodedata.category(ch)
    return cat == "Cf" or (cat == "Cc" and ch not in "\t\n\r")


def _is_noise(ch: str) -> bool:
    return unicodedata.category(ch).startswith(_NOISE_PREFIXES)


# Runs of noise characters: `[\W_]` is exactly the categories above (P*, S*, Z*, C*, M*: not a
# letter, not a number), which the tests check over every code point.
_NOISE_RUN = re.compile(r"[\W_]+")
# Where _is_han is true: the Han blocks and 〇.
_HAN_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3FFFF),
    (0x3007, 0x3007),
)
# A whole noise run made of whitespace only: neither neighbour is noise. It starts with the
# whitespace character itself (so the regex engine skips ahead to the next one in C), then looks
# behind it: no noise character before (or the start of the text).
_SPACE_RUN = re.compile(r"\s(?<![\W_]\s)\s*+(?![\W_])")
# Whitespace other than a plain space (left inside mixed runs such as " * ").
_OTHER_SPACE = re.compile(r"[^\S ]")


@functools.cache
def _invisible_table() -> dict[int, None]:
    """str.translate table deleting every invisible character (built once, ~0.2 s)."""
    return {cp: None for cp in range(sys.maxunicode + 1) if _is_invisible(chr(cp))}


@functools.cache
def _han_gap() -> re.Pattern[str]:
    """A whole noise run between two Han characters. The match starts with the run's first
    character (so the regex engine skips ahead to the next noise character in C) and looks
    behind it for a Han character; the class is the Han characters that are not noise (the
    blocks hold unassigned code points, which are), so the match starts where a run starts. The
    possessive `*+` takes the run to its end (no backtracking into a shorter run), and the
    character after it is Han. Built once (~0.05 s)."""
    ranges: list[tuple[int, int]] = []
    for low, high in _HAN_RANGES:
        for cp in range(low, high + 1):
            if _NOISE_RUN.match(chr(cp)) is None:
                if ranges and ranges[-1][1] == cp - 1:
                    ranges[-1] = (ranges[-1][0], cp)
                else:
                    ranges.append((cp, cp))
    han = "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)
    return re.compile(rf"[\W_](?<=[{han}][\W_])[\W_]*+(?=[{han}])")


@functools.cache
def _invisible_pattern() -> re.Pattern[str]:
    """A character class of the invisible characters: searching for one is ~20x faster than
    translating text that holds none (nearly all text)."""
    points = sorted(_invisible_table())
    ranges: list[tuple[int, int]] = []
    for cp in points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]")


def _has_invisible(text: str) -> bool:
    """Whether ``text`` holds an invisible character. Printable text (once tabs and line breaks,
    which are not invisible, count as spaces) holds none: no control or format character can
    be printable. That test runs in C, ~5x faster than the search, which settles the rest."""
    if text.isprintable():
        return False
    if text.replace("\n", " ").replace("\t", " ").replace("\r", " ").isprintable():
        return False
    return _invisible_pattern().search(text) is not None


def _prepare(text: str, *, visible: bool = False) -> str:
    """Normalise text for the model: what it sees at training time and at screening time.

    Drops invisible characters, folds width/compatibility forms (NFKC) and case, deletes runs of
    punctuation, symbols, spaces and emoji between two Han characters, and squeezes other
    whitespace to one space. Offsets are not kept: findings report the original window spans.

    Three substitutions without a Python callback, each over whole noise runs (a run is never
    split or joined by the one before: the characters between runs are never removed): runs
    between two Han characters go, whitespace-only runs become one space (at the very start
    too; the final strip removes it, and no character outside a run is whitespace), and any
    other whitespace, inside mixed runs, becomes a space. `_prepare_by_runs` is the same
    normalisation run by run (the reference in the tests). `visible`: the caller knows that `text`
    holds no invisible character (a window of a text searched once).
    """
    if not visible and _has_invisible(text):
        text = text.translate(_invisible_table())
    text = unicodedata.normalize("NFKC", text).lower()
    text = _SPACE_RUN.sub(" ", _han_gap().sub("", text))
    return _OTHER_SPACE.sub(" ", text).strip()


# --- char vocabulary -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CharVocab:
    """One id per character; the first ids are the BERT special tokens."""

    ids: dict[str, int]

    @classmethod
    def from_chars(cls, chars: Sequence[str]) -> CharVocab:
        tokens = list(SPECIAL_TOKENS) + [c for c in chars if c not in SPECIAL_TOKENS]
        return cls({tok: i for i, tok in enumerate(tokens)})

    @classmethod
    def load(cls, path: Path) -> CharVocab:
        lines = path.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if tuple(lines[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ClassifierUnavailable(f"{path}: does not start with {SPECIAL_TOKENS}")
        return cls({tok: i for i, tok in enumerate(lines)})

    def save(self, path: Path) -> None:
        ordered = sorted(self.ids, key=self.ids.__getitem__)
        path.write_text("".join(tok + "\n" for tok in ordered), encoding="utf-8")

    def __len__(self) -> int:
        return len(self.ids)

    def encode(self, text: str, max_chars: int) -> list[int]:
        """[CLS] + one id per character (at most `max_chars`) + [SEP]."""
        get = self.ids.get
        return [CLS_ID, *(get(ch, UNK_ID) for ch in text[:max_chars]), SEP_ID]


# --- char n-gram linear part -----------------------------------------------------------------


def char_ngrams(text: str, lowest: int = 1, highest: int = 3) -> list[str]:
    """Every character n-gram of `text` with `lowest` <= n <= `highest` (one per position).

    The analyzer the linear part is trained with (scikit-learn's `TfidfVectorizer(analyzer=...)`)
    and scored with here, so training and run time cut text identically.
    """
    return [text[i : i + n] for n in range(lowest, highest + 1) for i in range(len(text) - n + 1)]


class NgramLinear:
    """Logistic regression on char n-gram TF-IDF, computed in plain Python (no scikit-learn).

    Features as scikit-learn's `TfidfVectorizer(sublinear_tf=True, smooth_idf=True, norm="l2")`
    makes them: tf = 1 + ln(count), idf = ln((1 + documents) / (1 + df)) + 1, the vector scaled to
    unit length; n-grams outside the table are ignored. P(offensive) = sigmoid(intercept + w . x).

    File (`ngram_lr.tsv`): a first line `#` + JSON (format, documents, intercept, ngram range),
    then one `ngram<TAB>df<TAB>coefficient` line per n-gram.
    """

    def __init__(
        self,
        table: dict[str, int],
        idf: array[float],
        coef: array[float],
        intercept: float,
        ngram_range: tuple[int, int],
    ) -> None:
        self._table = table
        self._idf = idf
        self._coef = coef
        self.intercept = intercept
        self.ngram_range = ngram_range
        self._index = _code_index(table, ngram_range)

    def __len__(self) -> int:
        return len(self._table)

    @staticmethod
    def write(
        path: Path,
        rows: Sequence[tuple[str, int, float]],
        *,
        documents: int,
        intercept: float,
        ngram_range: tuple[int, int],
    ) -> None:
        """Write the table: (ngram, document frequency, coefficient) rows."""
        meta = {
            "format": NGRAM_FORMAT,
            "documents": documents,
            "intercept": intercept,
            "ngram_range": list(ngram_range),
        }
        lines = ["#" + json.dumps(meta) + "\n"]
        for ngram, df, coef in rows:
            if "\n" in ngram or "\r" in ngram or "\t" in ngram:
                raise ValueError(f"n-gram {ngram!r}: prepared text has no tabs or line breaks")
            lines.append(f"{ngram}\t{df}\t{coef:.7g}\n")
        path.write_text("".join(lines), encoding="utf-8", newline="\n")

    @classmethod
    def load(cls, path: Path) -> NgramLinear:
        try:
            with path.open(encoding="utf-8", newline="\n") as fh:
                meta = json.loads(fh.readline().removeprefix("#"))
                if meta.get("format") != NGRAM_FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}, want {NGRAM_FORMAT!r}")
                documents = int(meta["documents"])
                table: dict[str, int] = {}
                idf, coef = array("d"), array("d")
                for line in fh:
                    ngram, df, weight = line.rstrip("\n").split("\t")
                    table[ngram] = len(idf)
                    idf.append(math.log((1 + documents) / (1 + int(df))) + 1)
                    coef.append(float(weight))
            low, high = meta["ngram_range"]
            intercept = float(meta["intercept"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ClassifierUnavailable(f"{path}: unusable n-gram table ({exc})") from exc
        return cls(table, idf, coef, intercept, (int(low), int(high)))

    def proba(self, text: str) -> float:
        """P(offensive) for one (prepared) text."""
        return self.probas([text])[0]

    def probas(self, texts: Sequence[str]) -> list[float]:
        """P(offensive) for each (prepared) text, vectorised over all of them.

        Each n-gram is looked up as an integer code (:func:`_code_index`) in numpy, so Python
        touches neither the n-grams nor the table per text; counting, tf-idf, norms and dot
        products are numpy over every (text, n-gram) pair at once. The (text, row) pairs are
        exactly those of looking every n-gram of :func:`char_ngrams` up in the table, so the
        result is the same to the bit.
        """
        import numpy as np

        if not texts:
            return []
        width = len(self._table)
        keys = self._keys(texts) if self._index is not None else self._keys_by_dict(texts)
        if not len(keys):
            z = np.zeros(len(texts))
        else:
            pairs, counts = _counted(keys)
            docs, rows = np.divmod(pairs, width)
            value = (1.0 + np.log(counts)) * np.frombuffer(self._idf, dtype=np.float64)[rows]
            coef = np.frombuffer(self._coef, dtype=np.float64)[rows]
            dot = np.bincount(docs, weights=value * coef, minlength=len(texts))
            norm = np.sqrt(np.bincount(docs, weights=value * value, minlength=len(texts)))
            z = np.divide(dot, norm, out=np.zeros(len(texts)), where=norm > 0)
        intercept = self.intercept
        return [_sigmoid(intercept + v) for v in z.tolist()]

    def _keys(self, texts: Sequence[str]) -> Any:
        """``text index * table size + table row`` of every n-gram of every text found in the
        table (an n-gram occurring twice gives its key twice), from the integer codes."""
        import numpy as np

        index = self._index
        assert index is not None
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        points = _code_points("".join(texts))
        doc = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        codes, owners = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        low, high = self.ngram_range
        for n in range(low, high + 1):
            m = len(points) - n + 1
            if m <= 0:
                continue
            code = points[:m].copy()
            for k in range(1, n):
                code = (code << _CODE_BITS) | points[k : k + m]
            inside = doc[:m] == doc[n - 1 : n - 1 + m]  # the n-gram does not span two texts
            codes.append(code[inside])
            owners.append(doc[:m][inside])
        rows = index.rows(np.concatenate(codes))
        hit = rows >= 0
        return np.concatenate(owners)[hit] * len(self._table) + rows[hit]

    def _keys_by_dict(self, texts: Sequence[str]) -> Any:
        """:meth:`_keys` by looking every n-gram string up (n-grams too long for a code)."""
        import numpy as np

        get, width = self._table.get, len(self._table)
        keys: list[int] = []
        for doc, text in enumerate(texts):
            base = doc * width
            keys += [
                base + j for j in map(get, char_ngrams(text, *self.ngram_range)) if j is not None
            ]
        return np.array(keys, dtype=np.int64)


# An n-gram of code points as one integer: each code point plus one (so 0 is never a digit and
# "a" differs from "\\0a") in 21 bits; up to three characters fit a signed 64-bit integer.
_CODE_BITS = 21
_MAX_CODED_CHARS = 63 // _CODE_BITS
_HASH_MULTIPLIER = 0x9E3779B97F4A7C15  # Fibonacci hashing: the odd 64-bit constant nearest 2^64/phi
# Buckets: 2 ** (bit length of the number of codes + this), ~4 MB of int32 for 200,000 codes
# (measured: lookups ~1.5x faster than one bucket per code).
_EXTRA_BUCKET_BITS = 2


def _code_points(text: str) -> Any:
    """The code points of ``text`` plus one, as int64 (lone surrogates included)."""
    import numpy as np

    raw = text.encode("utf-32-le", "surrogatepass")
    return np.frombuffer(raw, dtype="<u4").astype(np.int64) + 1


class _CodeIndex:
    """Integer n-gram code -> table row, looked up for a whole array of codes at once.

    Single characters (codes below ``2 ** _CODE_BITS``) are read from a dense array indexed by
    the code. Longer n-grams are in a hash table in numpy arrays: codes are grouped by bucket
    (``starts[b]:starts[b + 1]`` in ``codes``/``rows``), with four times as many buckets as the
    power of two above the number of codes (most buckets empty, few hold more than one code),
    so a lookup reads each query's bucket in at most ``depth`` vectorised steps, the later ones
    on few queries (a binary search over 200,000 sorted codes was five times slower: it misses
    the cache at every step).
    """

    def __init__(self, codes: Any, rows: Any) -> None:
        import numpy as np

        single = codes < (1 << _CODE_BITS)
        top = int(codes[single].max()) + 1 if single.any() else 0
        self._single = np.full(top, -1, dtype=np.int64)
        self._single[codes[single]] = rows[single]
        codes, rows = codes[~single], rows[~single]
        self._bits = max(1, len(codes).bit_length()) + _EXTRA_BUCKET_BITS
        buckets = self._bucket(codes)
        order = np.argsort(buckets, kind="stable")
        self._codes, self._rows = codes[order], rows[order]
        counts = np.bincount(buckets, minlength=1 << self._bits)
        self._starts = np.zeros((1 << self._bits) + 1, dtype=np.int32)
        np.cumsum(counts, out=self._starts[1:])
        self._depth = int(counts.max()) if len(codes) else 0

    def _bucket(self, codes: Any) -> Any:
        import numpy as np

        shift = np.uint64(64 - self._bits)
        return ((codes.astype(np.uint64) * np.uint64(_HASH_MULTIPLIER)) >> shift).astype(np.int64)

    def rows(self, codes: Any) -> Any:
        """The table row of each code, -1 where the code is not in the table."""
        import numpy as np

        found = np.full(len(codes), -1, dtype=np.int64)
        single = codes < len(self._single)
        found[single] = self._single[codes[single]]
        # Single characters beyond the dense array are in no table; they go on to the hash
        # table too (which holds none), so no code is left unanswered.
        which = np.flatnonzero(~single)
        if not len(which) or not self._depth:
            return found
        buckets = self._bucket(codes[which])
        start = self._starts[buckets]
        size = self._starts[buckets + 1] - start
        for k in range(self._depth):
            live = size > k
            which, start, size = which[live], start[live], size[live]
            if not len(which):
                break
            match = self._codes[start + k] == codes[which]
            found[which[match]] = self._rows[start[match] + k]
        return found


def _code_index(table: dict[str, int], ngram_range: tuple[int, int]) -> _CodeIndex | None:
    """The table's n-grams as a :class:`_CodeIndex`, or None when the range holds n-grams too
    long to code. N-grams outside the range never match and are left out."""
    import numpy as np

    low, high = ngram_range
    if low < 1 or high > _MAX_CODED_CHARS:
        return None
    by_length: dict[int, tuple[list[str], list[int]]] = {}
    for gram, row in table.items():
        if low <= len(gram) <= high:
            grams, rows = by_length.setdefault(len(gram), ([], []))
            grams.append(gram)
            rows.append(row)
    codes = [np.zeros(0, dtype=np.int64)]
    table_rows = [np.zeros(0, dtype=np.int64)]
    for n, (grams, rows) in by_length.items():
        points = _code_points("".join(grams)).reshape(-1, n)
        code = points[:, 0].copy()
        for k in range(1, n):
            code = (code << _CODE_BITS) | points[:, k]
        codes.append(code)
        table_rows.append(np.array(rows, dtype=np.int64))
    return _CodeIndex(np.concatenate(codes), np.concatenate(table_rows))


def _counted(keys: Any) -> tuple[Any, Any]:
    """``np.unique(keys, return_counts=True)`` without its generality: a sort, the first of each
    run of equal keys and the runs' lengths (keys are sorted in place). The keys come as a few
    runs ordered by text (one per n-gram length), which the stable sort (timsort) exploits: 3x
    faster here than the default quicksort, and a sorted array is the same either way."""
    import numpy as np

    keys.sort(kind="stable")
    first = np.empty(len(keys), dtype=bool)
    first[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    where = np.flatnonzero(first)
    return keys[where], np.diff(where, append=len(keys))


def _chunks(text: str, size: int, stride: int) -> list[str]:
    if len(text) <= size:
        return [text]
    starts = [*range(0, len(text) - size, stride), len(text) - size]
    return [text[s : s + size] for s in starts]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _logit(p: float) -> float:
    p = min(max(p, LOGIT_EPS), 1.0 - LOGIT_EPS)
    return math.log(p / (1.0 - p))


# --- the BERT part: two ways to run it -------------------------------------------------------


class _CharBert:
    """The shipped kind of model: a char-vocabulary BERT run by `NumpyBert` (numpy only)."""

    backend = "numpy"

    def __init__(self, encoder: NumpyBert, vocab: CharVocab, max_chars: int) -> None:
        if len(vocab) > encoder.vocab_size:
            raise ClassifierUnavailable(
                f"vocab.txt has {len(vocab)} entries, the model {encoder.vocab_size}"
            )
        if max_chars + 2 > encoder.max_positions:
            raise ClassifierUnavailable(
                f"max_chars {max_chars} + 2 exceeds the model's {encoder.max_positions} positions"
            )
        self._encoder = encoder
        self._vocab = vocab
        self._max_chars = max_chars
        self.logit_bound: float | None = encoder.logit_bound()

    def probas(self, texts: Sequence[str]) -> list[float]:
        import numpy as np

        encoded = [self._vocab.encode(t, self._max_chars) for t in texts]
        # Similar lengths share a batch (less padding); a batch has at most MAX_BATCH_ROWS rows.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        probs = [0.0] * len(encoded)
        for k in range(0, len(order), MAX_BATCH_ROWS):
            rows = order[k : k + MAX_BATCH_ROWS]
            lengths = np.array([len(encoded[i]) for i in rows], dtype=np.int64)
            ids = np.full((len(rows), int(lengths[-1])), PAD_ID, dtype=np.int64)
            for r, i in enumerate(rows):
                ids[r, : lengths[r]] = encoded[i]
            logits = self._encoder.logits(ids, lengths).astype(np.float64)
            # softmax over (safe, offensive), second column = sigmoid of the difference
            p = 1.0 / (1.0 + np.exp(logits[:, 0] - logits[:, 1]))
            for i, v in zip(rows, p.tolist(), strict=True):
                probs[i] = v
        return probs


class _TransformersBert:
    """Any local transformers sequence-classification checkpoint, run by transformers + torch
    (for a larger model than the shipped one; `pip install 'mediagate[classifier]'`)."""

    backend = "transformers"

    def __init__(self, model_dir: Path, max_chars: int) -> None:
        try:
            import torch
            import transformers
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ClassifierUnavailable(
                f"{model_dir} needs the transformers backend ({exc}); install: {EXTRA_HINT}"
            ) from exc
        transformers.utils.logging.disable_progress_bar()  # no tqdm bars in a server's log
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(
                model_dir, local_files_only=True
            )
            self._model = transformers.AutoModelForSequenceClassification.from_pretrained(
                model_dir, local_files_only=True
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ClassifierUnavailable(f"cannot load classifier from {model_dir}: {exc}") from exc
        self._model.eval()
        label2id = {str(k).lower(): int(v) for k, v in self._model.config.label2id.items()}
        self._label = label2id.get("offensive", 1)
        if self._label >= int(self._model.config.num_labels):
            raise ClassifierUnavailable(f"{model_dir}: no label {self._label} in the model")
        self._torch = torch
        self._max_tokens = max_chars + 2
        self.logit_bound: float | None = None  # no bound known: every chunk runs the model

    def probas(self, texts: Sequence[str]) -> list[float]:
        torch = self._torch
        probs: list[float] = []
        with torch.inference_mode():
            for k in range(0, len(texts), MAX_BATCH_ROWS):
                batch = self._tokenizer(
                    list(texts[k : k + MAX_BATCH_ROWS]),
                    padding=True,
                    truncation=True,
                    max_length=self._max_tokens,
                    return_tensors="pt",
                )
                logits = self._model(**batch).logits.float()
                probs += torch.softmax(logits, dim=-1)[:, self._label].tolist()
        return probs


def _is_char_bert(model_dir: Path) -> bool:
    """A directory the numpy forward pass runs: a BERT config and a char vocabulary that starts
    with this module's special tokens (what `screening.train` writes)."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        with (model_dir / VOCAB_FILE).open(encoding="utf-8") as fh:
            head = tuple(fh.readline().rstrip("\n") for _ in SPECIAL_TOKENS)
    except (OSError, ValueError):
        return False
    return config.get("model_type") == "bert" and head == SPECIAL_TOKENS


# --- the stage -----------------------------------------------------------------------------------


class TextClassifier:
    """Scores character windows of a text; produces `review` findings above a threshold."""

    def __init__(
        self,
        *,
        bert: _CharBert | _TransformersBert,
        name: str,
        version: str,
        threshold: float,
        max_chars: int,
        window_chars: int,
        stride_chars: int,
        ngram: NgramLinear | None = None,
        stack: dict[str, Any] | None = None,
        decision_threshold: float | None = None,
    ) -> None:
        if not 0 < stride_chars <= window_chars:
            raise ValueError(f"need 0 < stride_chars <= window_chars, got {stride_chars}")
        self._bert = bert
        self.name = name
        self.version = version
        # `threshold` raises a review finding (the gateway's operating threshold); the model's
        # decision threshold is what its COLD accuracy and macro-F1 are reported at.
        self.threshold = threshold
        self.decision_threshold = threshold if decision_threshold is None else decision_threshold
        self.max_chars = max_chars
        self.window_chars = window_chars
        self.stride_chars = stride_chars
        self.backend = bert.backend  # "numpy" (the shipped model) or "transformers"
        self.precision = "float32"  # what the forward pass computes in, on every backend
        self._ngram = ngram
        # The ensemble's parts; a score combines their probabilities: by `stack` (a logistic
        # regression on their log-odds, fitted on held-out train texts) or else their mean.
        self.parts: tuple[str, ...] = ("bert", "ngram_lr") if ngram is not None else ("bert",)
        if stack is not None and set(stack["weights"]) != set(self.parts):
            raise ClassifierUnavailable(f"stack weights {stack['weights']} for parts {self.parts}")
        self._stack = stack

    @classmethod
    def load(
        cls,
        model_dir: Path,
        *,
        threshold: float | None = None,
        window_chars: int = 500,
        stride_chars: int = 400,
        backend: str = "auto",
    ) -> TextClassifier:
        """Load a model directory (local files only, never a hub).

        `backend`: "numpy" runs a char-vocabulary BERT written by `screening.train` (the shipped
        model) with numpy alone; "transformers" runs any local sequence-classification
        checkpoint through transformers + torch (the `[classifier]` extra); "auto" picks numpy
        when the directory is a char-vocabulary BERT, else transformers. `calibration.json`
        (threshold, max_chars, parts, stacking weights) is required for numpy; without it a
        transformers model gets threshold 0.5 and its own position limit. `threshold` defaults
        to calibration.json's `operating_threshold` (the review threshold chosen on held-out
        clean prose), else its `threshold` (the model's decision threshold on COLD dev).
        """
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        _invisible_pattern()  # built now (with the table), not on the first screened text
        _han_gap()
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise ClassifierUnavailable(f"no classifier model at {model_dir}")
        calibration_path = model_dir / CALIBRATION_FILE
        calibration: dict[str, Any] = {}
        if calibration_path.is_file():
            try:
                calibration = json.loads(calibration_path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ClassifierUnavailable(f"{calibration_path}: {exc}") from exc
        if backend == "auto":
            backend = "numpy" if _is_char_bert(model_dir) else "transformers"
        bert: _CharBert | _TransformersBert
        if backend == "numpy":
            if not calibration:
                raise ClassifierUnavailable(
                    f"no classifier model at {model_dir} ({CALIBRATION_FILE})"
                )
            max_chars = int(calibration["max_chars"])
            try:
                bert = _CharBert(
                    NumpyBert.load(model_dir), CharVocab.load(model_dir / VOCAB_FILE), max_chars
                )
            except (EncoderError, OSError) as exc:
                raise ClassifierUnavailable(
                    f"cannot load classifier from {model_dir}: {exc}"
                ) from exc
        else:
            max_chars = int(calibration.get("max_chars", 0)) or _position_limit(model_dir)
            bert = _TransformersBert(model_dir, max_chars)
        parts = tuple(calibration.get("parts", ["bert"]))
        if not set(parts) <= set(PARTS) or "bert" not in parts:
            raise ClassifierUnavailable(f"{calibration_path}: unknown parts {parts}")
        # The threshold was calibrated on the ensemble: a missing part is a broken model dir.
        ngram = NgramLinear.load(model_dir / NGRAM_FILE) if "ngram_lr" in parts else None
        # The model's decision threshold (COLD dev macro-F1) and the gateway's operating
        # threshold for a review finding (chosen on held-out clean prose), when there is one.
        decision = calibration.get("threshold", 0.5)
        operating = calibration.get("operating_threshold", decision)
        logger.info(
            "classifier %s loaded from %s (%s)",
            calibration.get("name", model_dir.name),
            model_dir,
            backend,
        )
        return cls(
            bert=bert,
            name=str(calibration.get("name", model_dir.name)),
            version=str(calibration.get("version", "unknown")),
            threshold=float(operating if threshold is None else threshold),
            decision_threshold=float(decision),
            max_chars=max_chars,
            window_chars=window_chars,
            stride_chars=stride_chars,
            ngram=ngram,
            stack=calibration.get("stack"),
        )

    def predict_proba(self, texts: Sequence[str], *, prepare: bool = True) -> list[float]:
        """P(offensive) for short texts (each cut to `max_chars` after preparation).

        The parts' probabilities (`part_probas`) combined by `combine`.
        """
        return self.combine(self.part_probas(texts, prepare=prepare))

    def combine(self, parts: dict[str, list[float]]) -> list[float]:
        """One probability per text from each part's: stacked if the model has weights, else the
        mean."""
        names = list(parts)
        rows = zip(*(parts[n] for n in names), strict=True)
        if self._stack is None:
            return [sum(ps) / len(ps) for ps in rows]
        bias, weights = float(self._stack["intercept"]), self._stack["weights"]
        w = [float(weights[n]) for n in names]
        return [
            _sigmoid(bias + sum(wi * _logit(p) for wi, p in zip(w, ps, strict=True))) for ps in rows
        ]

    def _with_bert_at(self, p_bert: float, ngram: Sequence[float]) -> list[float]:
        """``combine({"bert": [p_bert] * len(ngram), "ngram_lr": ngram})`` with the BERT's
        term computed once: the same operations in the same order, so the same floats."""
        if self._stack is None:
            return [(p_bert + p) / 2 for p in ngram]
        bias, weights = float(self._stack["intercept"]), self._stack["weights"]
        bert_term, w = float(weights["bert"]) * _logit(p_bert), float(weights["ngram_lr"])
        return [_sigmoid(bias + (bert_term + w * _logit(p))) for p in ngram]

    def _upper_bounds(self, ngram: Sequence[float], bound: float) -> list[float]:
        """Per chunk, the higher of ``_with_bert_at(p, ngram)`` for the BERT at either end of
        its bound: the same floats, with each n-gram probability's log-odds taken once for
        both."""
        p_high, p_low = _sigmoid(bound + BOUND_MARGIN), _sigmoid(-bound - BOUND_MARGIN)
        if self._stack is None:
            return [max((p_high + p) / 2, (p_low + p) / 2) for p in ngram]
        bias, weights = float(self._stack["intercept"]), self._stack["weights"]
        w_bert, w = float(weights["bert"]), float(weights["ngram_lr"])
        high, low = w_bert * _logit(p_high), w_bert * _logit(p_low)
        out: list[float] = []
        for p in ngram:
            term = w * _logit(p)
            out.append(max(_sigmoid(bias + (high + term)), _sigmoid(bias + (low + term))))
        return out

    def part_probas(self, texts: Sequence[str], *, prepare: bool = True) -> dict[str, list[float]]:
        """Each part's P(offensive) for short texts: {"bert": [...], "ngram_lr": [...]}."""
        cut = [(_prepare(t) if prepare else t)[: self.max_chars] for t in texts]
        out = {"bert": self._bert.probas(cut) if cut else []}
        if self._ngram is not None:
            out["ngram_lr"] = self._ngram.probas(cut)
        return out

    def _spans(self, text: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        start = 0
        while True:
            end = min(start + self.window_chars, len(text))
            spans.append((start, end))
            if end == len(text):
                return spans
            start += self.stride_chars

    def _chunk_scores(self, pieces: Sequence[str], exact: bool) -> list[float]:
        """Scores of prepared chunks. Unless `exact`, the BERT only reads the chunks that could
        reach the threshold: its logit is bounded (`logit_bound`), so with the n-gram part's
        probability known, the highest score the BERT could give is known too; a chunk whose
        highest possible score stays below the threshold gets that upper bound as its score."""
        bound = self._bert.logit_bound
        if exact or self._ngram is None or bound is None or not pieces:
            return self.predict_proba(pieces, prepare=False)
        cut = [t[: self.max_chars] for t in pieces]
        ngram = self._ngram.probas(cut)
        upper = self._upper_bounds(ngram, bound)
        need = [i for i, u in enumerate(upper) if u >= self.threshold]
        if need:
            scores = self.combine(
                {
                    "bert": self._bert.probas([cut[i] for i in need]),
                    "ngram_lr": [ngram[i] for i in need],
                }
            )
            for i, score in zip(need, scores, strict=True):
                upper[i] = score
        return upper

    def score_many(
        self, texts: Sequence[str], *, exact: bool = False
    ) -> list[list[tuple[int, int, float]]]:
        """`score_windows` for several texts (a post's fields) with one batched model call."""
        per_text = [self._spans(t) if t else [] for t in texts]
        pieces: list[str] = []
        owners: list[tuple[int, int]] = []
        size = min(CHUNK_CHARS, self.max_chars)
        for k, (text, spans) in enumerate(zip(texts, per_text, strict=True)):
            # a window of a text without invisible characters has none: one search per text
            visible = len(spans) > 1 and not _has_invisible(text)
            for w, (s, e) in enumerate(spans):
                prepared = _prepare(text[s:e], visible=visible)
                if not prepared:
                    continue
                for chunk in _chunks(prepared, size, min(CHUNK_STRIDE_CHARS, size)):
                    pieces.append(chunk)
                    owners.append((k, w))
        scores = [[0.0] * len(spans) for spans in per_text]
        for (k, w), p in zip(owners, self._chunk_scores(pieces, exact), strict=True):
            scores[k][w] = max(scores[k][w], p)
        return [
            [(s, e, p) for (s, e), p in zip(spans, sc, strict=True)]
            for spans, sc in zip(per_text, scores, strict=True)
        ]

    def score_windows(self, text: str, *, exact: bool = False) -> list[tuple[int, int, float]]:
        """(start, end, p_offensive) for each window of `text`; spans index `text` itself.

        Each window is normalised, cut into overlapping chunks of `CHUNK_CHARS` characters and
        scored by its most offensive chunk; all chunks go through the model in one call. A score
        at or above the threshold is exact; below it, unless `exact`, it may be an upper bound
        (see `_chunk_scores`): which windows reach the threshold is the same either way.
        """
        return self.score_many([text], exact=exact)[0]

    def scan_many(self, fields: Sequence[tuple[str, str]]) -> list[list[Finding]]:
        """`scan` for several (field, text) pairs, with one batched model call."""
        scored = self.score_many([text for _, text in fields])
        return [
            self._findings(field, text, windows)
            for (field, text), windows in zip(fields, scored, strict=True)
        ]

    def scan(self, field: str, text: str) -> list[Finding]:
        """One `review` finding per window scoring at or above the threshold."""
        return self._findings(field, text, self.score_windows(text))

    def _findings(
        self, field: str, text: str, windows: list[tuple[int, int, float]]
    ) -> list[Finding]:
        return [
            Finding(
                detector="classifier",
                rule=RULE,
                category="classifier",
                severity="medium",
                action="review",
                field=field,
                start=s,
                end=e,
                text=text[s:e],
                evidence={
                    "model": self.name,
                    "version": self.version,
                    "score": round(p, 4),
                    "threshold": self.threshold,
                },
            )
            for s, e, p in windows
            if p >= self.threshold
        ]


def _position_limit(model_dir: Path) -> int:
    """Characters a transformers model reads: its positions minus [CLS] and [SEP]."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        return max(1, int(config.get("max_position_embeddings", 512)) - 2)
    except (OSError, ValueError) as exc:
        raise ClassifierUnavailable(f"{model_dir}: no usable config.json ({exc})") from exc
