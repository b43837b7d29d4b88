"""The classifier's BERT forward pass in numpy: no torch, no transformers at run time.

`NumpyBert` reads a standard transformers checkpoint directory (`config.json` and
`model.safetensors`, the files `BertForSequenceClassification.save_pretrained` writes) and computes
what that model computes in eval mode: absolute positions, token type 0, exact GELU,
post-LayerNorm, tanh pooler on `[CLS]`, a linear head. float32 throughout; the weights are stored
as fp16 and upcast once at load. Two shortcuts that do not change the arithmetic for `[CLS]`:
the query/key/value projections are one matrix product, and the last layer is computed for
`[CLS]` only (nothing else reaches the head). Tests compare it with the transformers model.

The safetensors file is read here too (an 8-byte little-endian header length, a JSON header of
name → dtype, shape, byte offsets, then the raw little-endian tensors), so the `safetensors`
package is not needed either.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
# The largest safetensors header this reader accepts (a BERT's is a few kilobytes).
MAX_HEADER_BYTES = 10_000_000
_DTYPES = {"F16": np.float16, "F32": np.float32, "BF16": np.uint16}
# Rows per block of the feed-forward part (64 x 768 float32 activations = 192 KiB).
FFN_BLOCK_ROWS = 64
# A masked key's attention logit: exp() of it is exactly 0 in float32.
_MASKED = np.float32(-1e9)


class EncoderError(ValueError):
    """The checkpoint is not one this forward pass can run (the message says what is wrong)."""


def single_threaded_blas() -> None:
    """Hold numpy's BLAS (OpenBLAS) to one thread in this process, once.

    The forward pass's products are small (hundreds of rows): more BLAS threads did not make them
    faster, and on a busy 2-core host their spinning cost ~10x the CPU time (measured: 260 ms
    instead of 27 ms per 500 characters). The gateway runs screening in its own worker threads.
    """
    global _BLAS_LIMITED
    if _BLAS_LIMITED:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    _BLAS_LIMITED = True


_BLAS_LIMITED = False


def read_safetensors(path: Path) -> dict[str, F32]:
    """Every tensor of a safetensors file, as float32 arrays (F16, BF16 and F32 tensors)."""
    raw = path.read_bytes()
    if len(raw) < 8:
        raise EncoderError(f"{path}: too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", raw[:8])
    if header_len > min(MAX_HEADER_BYTES, len(raw) - 8):
        raise EncoderError(f"{path}: header length {header_len} is not plausible")
    try:
        header = json.loads(raw[8 : 8 + header_len])
    except ValueError as exc:
        raise EncoderError(f"{path}: header is not JSON ({exc})") from exc
    body = memoryview(raw)[8 + header_len :]
    out: dict[str, F32] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(entry.get("dtype"))
        if dtype is None:
            raise EncoderError(f"{path}: {name} has dtype {entry.get('dtype')!r}")
        start, end = (int(x) for x in entry["data_offsets"])
        shape = tuple(int(x) for x in entry["shape"])
        if not 0 <= start <= end <= len(body):
            raise EncoderError(f"{path}: {name} lies outside the file")
        array = np.frombuffer(body[start:end], dtype=np.dtype(dtype).newbyteorder("<"))
        if array.size != math.prod(shape):
            raise EncoderError(f"{path}: {name} has {array.size} values for shape {shape}")
        if dtype is np.uint16:  # bfloat16: the high half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        out[name] = array.astype(np.float32).reshape(shape)
    return out


def _layer_norm(x: F32, weight: F32, bias: F32, eps: float) -> F32:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.square(centred).mean(axis=-1, keepdims=True)
    out: F32 = centred / np.sqrt(var + np.float32(eps)) * weight + bias
    return out


# Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7, float32's own resolution near 1): numpy has no erf.
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(
    np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)
_INV_SQRT2 = np.float32(1 / math.sqrt(2))
_ERF_CLIP = np.float32(4)


def gelu(x: F32) -> F32:
    """Exact (erf) GELU, as transformers' "gelu"; overwrites and returns `x`.

    erf by Abramowitz & Stegun 7.1.26, written as in-place passes over one scratch array (this is
    the forward pass's costliest element-wise step: 500 characters give ~500,000 activations).
    """
    z = x * _INV_SQRT2
    a = np.abs(z)
    # erf(4) rounds to 1 in float32; clipping keeps exp(-a*a) out of the denormals (slow on x86).
    np.minimum(a, _ERF_CLIP, out=a)
    t = a * _ERF_P
    t += 1
    np.reciprocal(t, out=t)
    poly = t * _ERF_A[0]
    for c in _ERF_A[1:]:
        poly += c
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a  # 1 - erf(|z|)
    np.subtract(1, poly, out=poly)
    np.copysign(poly, z, out=poly)  # erf(z)
    poly += 1
    x *= poly
    x *= 0.5
    return x


class NumpyBert:
    """Inference-only `BertForSequenceClassification` on numpy arrays."""

    def __init__(self, config: dict[str, Any], state: dict[str, F32]) -> None:
        checks = {
            "model_type": (config.get("model_type"), "bert"),
            "hidden_act": (config.get("hidden_act", "gelu"), "gelu"),
            "position_embedding_type": (
                config.get("position_embedding_type", "absolute"),
                "absolute",
            ),
            "is_decoder": (bool(config.get("is_decoder", False)), False),
        }
        wrong = {k: got for k, (got, want) in checks.items() if got != want}
        if wrong:
            raise EncoderError(f"unsupported model configuration: {wrong}")
        try:
            self._build(config, state)
        except KeyError as exc:
            raise EncoderError(f"weight or setting {exc} missing") from exc

    def _build(self, config: dict[str, Any], state: dict[str, F32]) -> None:
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_positions = int(config["max_position_embeddings"])
        if self.hidden % self.heads:
            raise EncoderError(f"hidden_size {self.hidden} not divisible by {self.heads} heads")

        def t(name: str) -> F32:  # weights stored transposed: x @ w instead of x @ w.T
            return np.ascontiguousarray(state[name].T)

        emb = "bert.embeddings."
        self.words = state[emb + "word_embeddings.weight"]
        self.vocab_size = self.words.shape[0]
        # Token type is always 0: its embedding folds into the position table.
        self.positions = (
            state[emb + "position_embeddings.weight"]
            + (state[emb + "token_type_embeddings.weight"][0])
        )
        self.emb_norm = (state[emb + "LayerNorm.weight"], state[emb + "LayerNorm.bias"])
        self.layers: list[tuple[F32, ...]] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"bert.encoder.layer.{i}."
            qkv = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
            self.layers.append(
                (
                    np.ascontiguousarray(np.concatenate([state[n + ".weight"] for n in qkv]).T),
                    np.concatenate([state[n + ".bias"] for n in qkv]),
                    t(p + "attention.output.dense.weight"),
                    state[p + "attention.output.dense.bias"],
                    state[p + "attention.output.LayerNorm.weight"],
                    state[p + "attention.output.LayerNorm.bias"],
                    t(p + "intermediate.dense.weight"),
                    state[p + "intermediate.dense.bias"],
                    t(p + "output.dense.weight"),
                    state[p + "output.dense.bias"],
                    state[p + "output.LayerNorm.weight"],
                    state[p + "output.LayerNorm.bias"],
                )
            )
        self.pooler = (t("bert.pooler.dense.weight"), state["bert.pooler.dense.bias"])
        self.head = (t("classifier.weight"), state["classifier.bias"])

    @classmethod
    def load(cls, model_dir: Path) -> NumpyBert:
        """From a transformers checkpoint directory (config.json + model.safetensors)."""
        try:
            config = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EncoderError(f"{model_dir / CONFIG_FILE}: {exc}") from exc
        try:
            state = read_safetensors(model_dir / WEIGHTS_FILE)
        except OSError as exc:
            raise EncoderError(f"{model_dir / WEIGHTS_FILE}: {exc}") from exc
        single_threaded_blas()
        return cls(config, state)

    def logit_bound(self) -> float | None:
        """A bound on |logit(offensive) - logit(safe)| for any input, or None (not two labels).

        The head reads tanh(pooler) in [-1, 1] per dimension, so the difference of the two logits
        is at most the sum of |w_offensive - w_safe| plus |b_offensive - b_safe|.
        """
        w, b = self.head
        if w.shape[1] != 2:
            return None
        return float(np.abs(w[:, 1] - w[:, 0]).astype(np.float64).sum() + abs(float(b[1] - b[0])))

    def logits(self, input_ids: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]) -> F32:
        """float32 logits (batch, labels) for padded `input_ids` (batch, length); `lengths` are
        the rows' real lengths (positions from there on are padding and masked out)."""
        batch, length = input_ids.shape
        if length > self.max_positions:
            raise EncoderError(f"{length} tokens, the model reads at most {self.max_positions}")
        h, heads = self.hidden, self.heads
        hd = h // heads
        scale = np.float32(1 / math.sqrt(hd))
        x = _layer_norm(self.words[input_ids] + self.positions[:length], *self.emb_norm, self.eps)
        mask: F32 | None = None
        if int(lengths.min()) < length:
            mask = np.where(np.arange(length)[None, :] < lengths[:, None], np.float32(0), _MASKED)
            mask = mask.astype(np.float32)[:, None, None, :]
        last = len(self.layers) - 1
        for n, layer in enumerate(self.layers):
            qkv_w, qkv_b, o_w, o_b, n1_w, n1_b, i_w, i_b, out_w, out_b, n2_w, n2_b = layer
            if n < last:
                rows = x
                qkv = (x @ qkv_w + qkv_b).reshape(batch, length, 3, heads, hd)
                q = qkv[:, :, 0].transpose(0, 2, 1, 3)
                k = qkv[:, :, 1].transpose(0, 2, 3, 1)
                v = qkv[:, :, 2].transpose(0, 2, 1, 3)
            else:
                # Only [CLS] reaches the pooler: keys and values need every position, the query,
                # attention output and feed-forward only the first one.
                rows = x[:, :1]
                kv = (x @ qkv_w[:, h:] + qkv_b[h:]).reshape(batch, length, 2, heads, hd)
                k = kv[:, :, 0].transpose(0, 2, 3, 1)
                v = kv[:, :, 1].transpose(0, 2, 1, 3)
                q = (rows @ qkv_w[:, :h] + qkv_b[:h]).reshape(batch, 1, heads, hd)
                q = q.transpose(0, 2, 1, 3)
            scores = (q * scale) @ k  # (batch, heads, rows, length)
            if mask is not None:
                scores = scores + mask
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            a = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, rows.shape[1], h)
            x = _layer_norm(a @ o_w + o_b + rows, n1_w, n1_b, self.eps)
            # The feed-forward part row block by row block: its activations (4x the width) then
            # stay in the CPU's cache through GELU's passes (measured 2.5x faster than at once).
            flat = x.reshape(-1, h)
            done: F32 = np.empty_like(flat)
            for first in range(0, flat.shape[0], FFN_BLOCK_ROWS):
                block = flat[first : first + FFN_BLOCK_ROWS]
                done[first : first + FFN_BLOCK_ROWS] = _layer_norm(
                    gelu(block @ i_w + i_b) @ out_w + out_b + block, n2_w, n2_b, self.eps
                )
            x = done.reshape(x.shape)
        pooled = np.tanh(x[:, 0] @ self.pooler[0] + self.pooler[1])
        out: F32 = pooled @ self.head[0] + self.head[1]
        return out
