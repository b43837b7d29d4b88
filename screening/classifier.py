"""Classifier stage: a small char-level BERT that flags offensive Chinese text for human review.

The model is trained by `screening.train` on COLD and loaded from a local directory only (never
from a hub). Long texts are scored in overlapping character windows; a window whose offensive
probability reaches the calibrated threshold becomes a `review` finding. The score is a reason for
a human to look, never an automatic block.

`transformers` and `torch` are optional (`pip install 'mediagate[classifier]'`) and imported
lazily, so the rest of the screening engine works without them.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screening.findings import Finding

logger = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'mediagate[classifier]'"
CALIBRATION_FILE = "calibration.json"
VOCAB_FILE = "vocab.txt"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))
RULE = "classifier:cold"
# Inside a window the model reads chunks about as long as the comments it was trained on (COLD
# median 40 characters): one offensive sentence in 126 characters of neutral prose scored 0.17,
# in 64 characters 0.85-0.93.
CHUNK_CHARS = 64
CHUNK_STRIDE_CHARS = 48  # 32 cost 42 ms of CPU per 500 characters, 48 costs 33 ms


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


def _chunks(text: str, size: int, stride: int) -> list[str]:
    if len(text) <= size:
        return [text]
    starts = [*range(0, len(text) - size, stride), len(text) - size]
    return [text[s : s + size] for s in starts]


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
        model: Any,
        vocab: CharVocab,
        name: str,
        version: str,
        threshold: float,
        max_chars: int,
        window_chars: int,
        stride_chars: int,
    ) -> None:
        if not 0 < stride_chars <= window_chars:
            raise ValueError(f"need 0 < stride_chars <= window_chars, got {stride_chars}")
        self._model = model
        self._vocab = vocab
        self.name = name
        self.version = version
        self.threshold = threshold
        self.max_chars = max_chars
        self.window_chars = window_chars
        self.stride_chars = stride_chars

    @classmethod
    def load(
        cls,
        model_dir: Path,
        *,
        threshold: float | None = None,
        window_chars: int = 500,
        stride_chars: int = 400,
    ) -> TextClassifier:
        """Load a model directory written by `screening.train` (local files only)."""
        model_dir = Path(model_dir)
        calibration_path = model_dir / CALIBRATION_FILE
        if not calibration_path.is_file():
            raise ClassifierUnavailable(f"no classifier model at {model_dir} ({CALIBRATION_FILE})")
        _, transformers = _import_backend()
        transformers.utils.logging.disable_progress_bar()  # no tqdm bars in a server's log
        calibration = json.loads(calibration_path.read_text(encoding="utf-8"))
        vocab = CharVocab.load(model_dir / VOCAB_FILE)
        try:
            model = transformers.BertForSequenceClassification.from_pretrained(
                model_dir, local_files_only=True
            )
        except (OSError, ValueError) as exc:
            raise ClassifierUnavailable(f"cannot load classifier from {model_dir}: {exc}") from exc
        model.float().eval()  # weights are stored as fp16 to halve the file
        logger.info("classifier %s loaded from %s", calibration.get("name"), model_dir)
        return cls(
            model=model,
            vocab=vocab,
            name=str(calibration.get("name", model_dir.name)),
            version=str(calibration.get("version", "unknown")),
            threshold=float(calibration["threshold"] if threshold is None else threshold),
            max_chars=int(calibration["max_chars"]),
            window_chars=window_chars,
            stride_chars=stride_chars,
        )

    def predict_proba(self, texts: Sequence[str], *, prepare: bool = True) -> list[float]:
        """P(offensive) for short texts (each cut to `max_chars` after preparation)."""
        torch, _ = _import_backend()
        if not texts:
            return []
        encoded = [self._vocab.encode(_prepare(t) if prepare else t, self.max_chars) for t in texts]
        width = max(len(ids) for ids in encoded)
        input_ids = torch.full((len(encoded), width), PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, ids in enumerate(encoded):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = 1
        with torch.inference_mode():
            logits = self._model(input_ids=input_ids, attention_mask=mask).logits
        probs = torch.softmax(logits.float(), dim=-1)[:, 1]
        return [float(p) for p in probs]

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
