"""Classifier stage: a small char-level BERT that flags offensive Chinese text for human review.

The model is trained by `screening.train` on COLD and loaded from a local directory only (never
from a hub). Long texts are scored in overlapping character windows; a window whose offensive
probability reaches the calibrated threshold becomes a `review` finding. The score is a reason for
a human to look, never an automatic block.

A model directory may hold a second part, a char n-gram logistic regression (`ngram_lr.tsv`); the
score is then the mean of the two probabilities. The BERT runs through `_Encoder`, a forward pass
on the transformers model's weights (bfloat16 where the CPU has it natively, else float32).

`transformers` and `torch` are optional (`pip install 'mediagate[classifier]'`) and imported
lazily, so the rest of the screening engine works without them.
"""

from __future__ import annotations

import json
import logging
import math
import unicodedata
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screening.findings import Finding

logger = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'mediagate[classifier]'"
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
CHUNK_STRIDE_CHARS = 48  # 32 cost 42 ms of CPU per 500 characters, 48 costs 33 ms (fp32, HF)
# Rows per forward pass: bounds the activations' memory on long texts (500 characters are ~10).
MAX_BATCH_ROWS = 64
# "auto": bfloat16 matrix products where the CPU has them natively (AVX512-BF16 or AMX), float32
# elsewhere; bfloat16 without native support is correct but ~8x slower than float32.
PRECISIONS = ("auto", "float32", "bfloat16")


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


def _prepare(text: str) -> str:
    """Normalise text for the model: what it sees at training time and at screening time.

    Drops invisible characters, folds width/compatibility forms (NFKC) and case, deletes runs of
    punctuation, symbols, spaces and emoji between two Han characters, and squeezes other
    whitespace to one space. Offsets are not kept: findings report the original window spans.
    """
    text = "".join(ch for ch in text if not _is_invisible(ch))
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if _is_noise(ch):
            j = i
            while j < n and _is_noise(text[j]):
                j += 1
            between_han = bool(out) and _is_han(out[-1]) and j < n and _is_han(text[j])
            if not between_han:
                run = text[i:j]
                if run.isspace():
                    if out and out[-1] != " ":
                        out.append(" ")
                else:
                    out.extend(c if not c.isspace() else " " for c in run)
            i = j
            continue
        out.append(ch)
        i += 1
    return "".join(out).strip()


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
        get, idf, coef = self._table.get, self._idf, self._coef
        dot = norm2 = 0.0
        for ngram, count in Counter(char_ngrams(text, *self.ngram_range)).items():
            j = get(ngram)
            if j is not None:
                value = (1.0 + math.log(count)) * idf[j]
                dot += value * coef[j]
                norm2 += value * value
        return _sigmoid(self.intercept + (dot / math.sqrt(norm2) if norm2 else 0.0))


def _chunks(text: str, size: int, stride: int) -> list[str]:
    if len(text) <= size:
        return [text]
    starts = [*range(0, len(text) - size, stride), len(text) - size]
    return [text[s : s + size] for s in starts]


def _native_bf16(torch: Any) -> bool:
    """Whether oneDNN has native bfloat16 kernels on this CPU (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False


class _Encoder:
    """Inference-only forward pass of a `BertForSequenceClassification`, on its weights.

    The same arithmetic as the transformers model in eval mode (absolute positions, token type 0,
    exact GELU, post-LayerNorm, tanh pooler on [CLS]), without its per-call machinery, with the
    query/key/value projections fused into one product, the last layer computed for [CLS] only
    (nothing else reaches the classifier), and optionally in bfloat16 (the pooler and the
    classifier head stay float32). Tests compare it with the transformers forward.
    """

    def __init__(self, torch: Any, model: Any, dtype: Any) -> None:
        config = model.config
        unsupported = {
            "model_type": (config.model_type, "bert"),
            "hidden_act": (config.hidden_act, "gelu"),
            "position_embedding_type": (
                getattr(config, "position_embedding_type", "absolute"),
                "absolute",
            ),
            "is_decoder": (bool(getattr(config, "is_decoder", False)), False),
        }
        wrong = {k: got for k, (got, want) in unsupported.items() if got != want}
        if wrong:
            raise ClassifierUnavailable(f"unsupported model configuration: {wrong}")
        self._torch = torch
        self._f = torch.nn.functional
        self.hidden = int(config.hidden_size)
        self.heads = int(config.num_attention_heads)
        self.eps = float(config.layer_norm_eps)
        state = {k: v.detach().float() for k, v in model.state_dict().items()}

        def enc(name: str) -> Any:
            return state[name].to(dtype).contiguous()

        emb = "bert.embeddings."
        self.words = enc(emb + "word_embeddings.weight")
        # Token type is always 0: its embedding folds into the position table.
        positions = state[emb + "position_embeddings.weight"]
        self.positions = (positions + state[emb + "token_type_embeddings.weight"][0]).to(dtype)
        self.emb_norm = (enc(emb + "LayerNorm.weight"), enc(emb + "LayerNorm.bias"))
        self.layers = []
        for i in range(int(config.num_hidden_layers)):
            p = f"bert.encoder.layer.{i}."
            qkv = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
            names = (
                "attention.output.dense.weight",
                "attention.output.dense.bias",
                "attention.output.LayerNorm.weight",
                "attention.output.LayerNorm.bias",
                "intermediate.dense.weight",
                "intermediate.dense.bias",
                "output.dense.weight",
                "output.dense.bias",
                "output.LayerNorm.weight",
                "output.LayerNorm.bias",
            )
            self.layers.append(
                (
                    torch.cat([state[n + ".weight"] for n in qkv]).to(dtype).contiguous(),
                    torch.cat([state[n + ".bias"] for n in qkv]).to(dtype).contiguous(),
                    *(enc(p + n) for n in names),
                )
            )
        self.pooler = (state["bert.pooler.dense.weight"], state["bert.pooler.dense.bias"])
        self.head = (state["classifier.weight"], state["classifier.bias"])

    def logits(self, input_ids: Any, key_mask: Any | None) -> Any:
        """float32 logits; `key_mask` is a bool (batch, length) tensor, None when nothing pads."""
        f, h, eps = self._f, self.hidden, self.eps
        batch, length = input_ids.shape
        heads, head_dim = self.heads, h // self.heads
        mask = None if key_mask is None else key_mask[:, None, None, :]
        x = f.layer_norm(
            f.embedding(input_ids, self.words) + self.positions[:length], (h,), *self.emb_norm, eps
        )
        last = len(self.layers) - 1
        for n, layer in enumerate(self.layers):
            qkv_w, qkv_b, o_w, o_b, n1_w, n1_b, i_w, i_b, out_w, out_b, n2_w, n2_b = layer
            if n < last:
                rows = x
                qkv = f.linear(x, qkv_w, qkv_b).view(batch, length, 3, heads, head_dim)
                q, k, v = qkv.permute(2, 0, 3, 1, 4)
            else:
                # Only [CLS] reaches the pooler: in the last layer keys and values need every
                # position, the query, attention output and feed-forward only the first one.
                # Same arithmetic for [CLS], about 40 % fewer multiplications in all.
                rows = x[:, :1]
                kv = f.linear(x, qkv_w[h:], qkv_b[h:]).view(batch, length, 2, heads, head_dim)
                k, v = kv.permute(2, 0, 3, 1, 4)
                q = f.linear(rows, qkv_w[:h], qkv_b[:h]).view(batch, 1, heads, head_dim)
                q = q.transpose(1, 2)
            a = f.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            a = a.transpose(1, 2).reshape(batch, rows.shape[1], h)
            x = f.layer_norm(f.linear(a, o_w, o_b) + rows, (h,), n1_w, n1_b, eps)
            x = f.layer_norm(
                f.linear(f.gelu(f.linear(x, i_w, i_b)), out_w, out_b) + x, (h,), n2_w, n2_b, eps
            )
        pooled = self._torch.tanh(f.linear(x[:, 0].float(), *self.pooler))
        return f.linear(pooled, *self.head)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _logit(p: float) -> float:
    p = min(max(p, LOGIT_EPS), 1.0 - LOGIT_EPS)
    return math.log(p / (1.0 - p))


def _import_backend() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ClassifierUnavailable(
            f"the classifier stage needs torch and transformers ({exc}); install: {EXTRA_HINT}"
        ) from exc
    return torch, transformers


# --- the stage -----------------------------------------------------------------------------------


class TextClassifier:
    """Scores character windows of a text; produces `review` findings above a threshold."""

    def __init__(
        self,
        *,
        encoder: _Encoder,
        vocab: CharVocab,
        name: str,
        version: str,
        threshold: float,
        max_chars: int,
        window_chars: int,
        stride_chars: int,
        precision: str,
        ngram: NgramLinear | None = None,
        stack: dict[str, Any] | None = None,
    ) -> None:
        if not 0 < stride_chars <= window_chars:
            raise ValueError(f"need 0 < stride_chars <= window_chars, got {stride_chars}")
        self._encoder = encoder
        self._vocab = vocab
        self.name = name
        self.version = version
        self.threshold = threshold
        self.max_chars = max_chars
        self.window_chars = window_chars
        self.stride_chars = stride_chars
        self.precision = precision  # "float32" or "bfloat16": what the forward pass runs in
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
        precision: str = "auto",
    ) -> TextClassifier:
        """Load a model directory written by `screening.train` (local files only).

        `precision`: "auto" (bfloat16 on CPUs with native bfloat16, else float32), "float32" or
        "bfloat16" (correct on any CPU, slow without native support).
        """
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        model_dir = Path(model_dir)
        calibration_path = model_dir / CALIBRATION_FILE
        if not calibration_path.is_file():
            raise ClassifierUnavailable(f"no classifier model at {model_dir} ({CALIBRATION_FILE})")
        torch, transformers = _import_backend()
        transformers.utils.logging.disable_progress_bar()  # no tqdm bars in a server's log
        calibration = json.loads(calibration_path.read_text(encoding="utf-8"))
        vocab = CharVocab.load(model_dir / VOCAB_FILE)
        try:
            model = transformers.BertForSequenceClassification.from_pretrained(
                model_dir, local_files_only=True
            )
        except (OSError, ValueError) as exc:
            raise ClassifierUnavailable(f"cannot load classifier from {model_dir}: {exc}") from exc
        if precision == "auto":
            precision = "bfloat16" if _native_bf16(torch) else "float32"
        # Weights are stored as fp16 to halve the file; the encoder upcasts them.
        try:
            encoder = _Encoder(torch, model, getattr(torch, precision))
        except KeyError as exc:
            raise ClassifierUnavailable(f"{model_dir}: weight {exc} missing") from exc
        parts = tuple(calibration.get("parts", ["bert"]))
        if not set(parts) <= set(PARTS) or "bert" not in parts:
            raise ClassifierUnavailable(f"{calibration_path}: unknown parts {parts}")
        # The threshold was calibrated on the ensemble: a missing part is a broken model dir.
        ngram = NgramLinear.load(model_dir / NGRAM_FILE) if "ngram_lr" in parts else None
        logger.info(
            "classifier %s loaded from %s (%s)", calibration.get("name"), model_dir, precision
        )
        return cls(
            encoder=encoder,
            vocab=vocab,
            name=str(calibration.get("name", model_dir.name)),
            version=str(calibration.get("version", "unknown")),
            threshold=float(calibration["threshold"] if threshold is None else threshold),
            max_chars=int(calibration["max_chars"]),
            window_chars=window_chars,
            stride_chars=stride_chars,
            precision=precision,
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

    def part_probas(self, texts: Sequence[str], *, prepare: bool = True) -> dict[str, list[float]]:
        """Each part's P(offensive) for short texts: {"bert": [...], "ngram_lr": [...]}."""
        cut = [(_prepare(t) if prepare else t)[: self.max_chars] for t in texts]
        out = {"bert": self._bert_proba(cut)}
        if self._ngram is not None:
            out["ngram_lr"] = [self._ngram.proba(t) for t in cut]
        return out

    def _bert_proba(self, texts: Sequence[str]) -> list[float]:
        torch, _ = _import_backend()
        if not texts:
            return []
        encoded = [self._vocab.encode(t, self.max_chars) for t in texts]
        # Similar lengths share a batch (less padding); a batch has at most MAX_BATCH_ROWS rows.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        probs = [0.0] * len(encoded)
        with torch.inference_mode():
            for k in range(0, len(order), MAX_BATCH_ROWS):
                rows = order[k : k + MAX_BATCH_ROWS]
                lengths = [len(encoded[i]) for i in rows]
                width = lengths[-1]
                input_ids = torch.tensor(
                    [encoded[i] + [PAD_ID] * (width - len(encoded[i])) for i in rows]
                )
                key_mask = None
                if lengths[0] < width:
                    key_mask = torch.arange(width) < torch.tensor(lengths)[:, None]
                logits = self._encoder.logits(input_ids, key_mask)
                for i, p in zip(rows, torch.softmax(logits, dim=-1)[:, 1].tolist(), strict=True):
                    probs[i] = p
        return probs

    def score_windows(self, text: str) -> list[tuple[int, int, float]]:
        """(start, end, p_offensive) for each window of `text`; spans index `text` itself.

        Each window is normalised, cut into overlapping chunks of `CHUNK_CHARS` characters and
        scored by its most offensive chunk.
        """
        if not text:
            return []
        spans: list[tuple[int, int]] = []
        start = 0
        while True:
            end = min(start + self.window_chars, len(text))
            spans.append((start, end))
            if end == len(text):
                break
            start += self.stride_chars
        pieces: list[str] = []
        owners: list[int] = []
        for w, (s, e) in enumerate(spans):
            prepared = _prepare(text[s:e])
            if not prepared:
                continue
            size = min(CHUNK_CHARS, self.max_chars)
            for chunk in _chunks(prepared, size, min(CHUNK_STRIDE_CHARS, size)):
                pieces.append(chunk)
                owners.append(w)
        scores = [0.0] * len(spans)
        for owner, p in zip(owners, self.predict_proba(pieces, prepare=False), strict=True):
            scores[owner] = max(scores[owner], p)
        return [(s, e, p) for (s, e), p in zip(spans, scores, strict=True)]

    def scan(self, field: str, text: str) -> list[Finding]:
        """One `review` finding per window scoring at or above the threshold."""
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
            for s, e, p in self.score_windows(text)
            if p >= self.threshold
        ]
