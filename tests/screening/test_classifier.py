"""The classifier stage, through the real loading path of the committed model directory."""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.classifier import (
    _NOISE_RUN,
    NGRAM_FILE,
    ClassifierUnavailable,
    NgramLinear,
    TextClassifier,
    _code_index,
    _code_points,
    _counted,
    _has_invisible,
    _invisible_table,
    _is_han,
    _is_invisible,
    _is_noise,
    _logit,
    _prepare,
    char_ngrams,
)
from screening.encoder import NumpyBert, gelu, read_safetensors


def _prepare_by_runs(text: str) -> str:
    """:func:`_prepare` with one Python decision per noise run: the reference the
    substitutions are compared with (it was the run time's own code before them)."""
    text = unicodedata.normalize("NFKC", text.translate(_invisible_table())).lower()
    n = len(text)

    def run(m: re.Match[str]) -> str:
        i, j = m.span()
        # The character before a run is never noise (runs are maximal), so it is what came out.
        if i > 0 and j < n and _is_han(text[i - 1]) and _is_han(text[j]):
            return ""
        found = m.group()
        if found.isspace():
            return " " if i > 0 else ""
        return "".join(" " if c.isspace() else c for c in found)

    return _NOISE_RUN.sub(run, text).strip()


MODEL_DIR = Path(__file__).resolve().parents[2] / "screening" / "models" / "cold-mini"

OFFENSIVE = "黑人都是垃圾，又懒又蠢，全部滚出中国"
BENIGN = "公司今天发布了第三季度的产品更新，新版本修复了若干问题，欢迎大家下载试用。"
ROOT = MODEL_DIR.parents[2]
# Mixed lengths, so that a batch pads and the attention mask matters.
SAMPLES = [OFFENSIVE, BENIGN, "河南人都是骗子", "女拳", BENIGN * 3, "我觉得地域歧视是不对的"]


@pytest.fixture(scope="module")
def classifier() -> TextClassifier:
    # numpy alone: the README's test command installs no torch, and this must still run.
    return TextClassifier.load(MODEL_DIR)


@pytest.fixture(scope="module")
def at_decision(classifier: TextClassifier) -> TextClassifier:
    """The model at its decision threshold (COLD dev), for the window mechanics tests."""
    return TextClassifier.load(MODEL_DIR, threshold=classifier.decision_threshold)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("黑*人*都*是", "黑人都是"),
        ("河❤南😀人 骗子", "河南人骗子"),
        ("女\u200b拳", "女拳"),  # zero-width space
        ("黑\ufe0f人", "黑人"),  # variation selector
        ("地·域·黑", "地域黑"),
        ("ＡＢＣ　１２３", "abc 123"),  # full width folded, ideographic space kept as one space
        ("你好，世界！ hello  World", "你好世界! hello world"),
        ("  ...abc...  ", "...abc..."),
        ("", ""),
        ("\u200b\u202e", ""),
    ],
)
def test_prepare(text: str, expected: str) -> None:
    assert _prepare(text) == expected


def _prepare_reference(text: str) -> str:
    """The normalisation written as a plain character loop (the run time uses a regex)."""
    text = "".join(ch for ch in text if not _is_invisible(ch))
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if not _is_noise(text[i]):
            out.append(text[i])
            i += 1
            continue
        j = i
        while j < n and _is_noise(text[j]):
            j += 1
        if not (out and _is_han(out[-1]) and j < n and _is_han(text[j])):
            run = text[i:j]
            if run.isspace():
                if out and out[-1] != " ":
                    out.append(" ")
            else:
                out.extend(c if not c.isspace() else " " for c in run)
        i = j
    return "".join(out).strip()


def test_the_noise_pattern_is_the_noise_categories() -> None:
    pattern = re.compile(r"[\W_]")
    wrong = [
        hex(cp)
        for cp in range(sys.maxunicode + 1)
        if (pattern.match(chr(cp)) is not None) != _is_noise(chr(cp))
    ]
    assert wrong == []


_ALPHABET = st.sampled_from(
    [
        *"黑人河南女拳地域a Z1１２　 \t\n*.·_-|/~，。！？…❤★",
        "😀",
        "\u200b",
        "\ufe0f",
        "\u202e",
        "\u0301",
    ]
)


@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_prepare_equals_the_character_loop(text: str) -> None:
    assert _prepare(text) == _prepare_reference(text)


# The substitutions of _prepare against the run-by-run decisions they replace: mixed scripts,
# full width, pinyin, decomposed characters, zero-width and bidi characters, unassigned code
# points inside the Han blocks (noise, though _is_han), every kind of whitespace.
_PREPARE_CASES = [
    "中，国",
    "中 ，国",
    "中\u3000国",
    "中\n\n国 a",
    "中　  。国",
    "a，国",
    "中，a",
    "，中国，",
    "  中国  ",
    "\t\n",
    "中\u200b国\u200d人",
    "\u202e国中\u202c",
    "\ufeff开头",
    "法lun功",
    "fa lun gong 法 轮 功",
    "Ｆａｌｕｎ　功",
    "ｘｊｐ：习",
    "中\ufa6e国",  # unassigned, inside the compatibility block
    "\ufa6e，国",
    "中，\ufa6e",
    "中\U0002fffe，国",
    "〇，一",
    "e\u0301，中",
    "中\u0301国",
    "cafe\u0301 中",
    "中 * 国",
    "中\x1c国 a\x1db",
    "中\x85国 a\xa0b",
    "x\u2028y\u2029中",
    "ΣΑΣ，中",
    "İ中",
    "①，㈠",
    "😀中😀国😀",
    "中_国",
    "a_b",
    "\ud800中",
]


@pytest.mark.parametrize("text", _PREPARE_CASES)
def test_prepare_equals_the_run_by_run_normalisation(text: str) -> None:
    assert _prepare(text) == _prepare_by_runs(text) == _prepare_reference(text)
    if not any(_is_invisible(c) for c in text):
        assert _prepare(text, visible=True) == _prepare(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "中文",
        "中\n文\t\r",
        "中\u3000文 \xa0",
        "中\u200b文",
        "\ufeff",
        "a\x00b",
        "\x85",
        "\u2028\u2029",
        "\U000e0001",
        "\u00ad",
        "\ud800",
        "\ue000",
        "\U0010ffff",
    ],
)
def test_has_invisible_is_the_search(text: str) -> None:
    assert _has_invisible(text) == any(_is_invisible(c) for c in text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_has_invisible_is_the_search_generated(text: str) -> None:
    assert _has_invisible(text) == any(_is_invisible(c) for c in text)


_WIDE_ALPHABET = st.sampled_from(
    [
        *"中国黑人〇aZe1１２　 \t\n\r\x0b\x0c\x1c\x85\xa0*.,，。_-|ΣİＡａ①",
        "\u2028",
        "\u200b",
        "\u200d",
        "\u202e",
        "\u0301",
        "\ufa6e",
        "\ufada",
        "\U00020000",
        "\U0002fffe",
        "😀",
    ]
)


@given(st.text(alphabet=_WIDE_ALPHABET, max_size=60))
def test_prepare_equals_the_run_by_run_normalisation_generated(text: str) -> None:
    assert _prepare(text) == _prepare_by_runs(text)


def test_code_index_finds_what_the_table_holds(classifier: TextClassifier) -> None:
    ngram = classifier._ngram
    assert ngram is not None
    table = ngram._table
    index = _code_index(table, ngram.ngram_range)
    assert index is not None
    present = [g for g in list(table)[::97] if 1 <= len(g) <= 3]
    absent = ["\U0010fffd", "\U0010fffdx", "zzq", "\x00", "\U0003ffff中", "中\U0010fffd国"]
    absent = [g for g in absent if g not in table]
    grams = present + absent + [g[::-1] for g in present]
    codes = []
    for g in grams:
        code = 0
        for p in _code_points(g).tolist():
            code = (code << 21) | p
        codes.append(code)
    rows = index.rows(np.array(codes, dtype=np.int64)).tolist()
    assert rows == [table.get(g, -1) for g in grams]


@pytest.mark.parametrize(
    "keys",
    [[], [5], [3, 3, 3], [9, 1, 9, 4, 1, 1, 0], list(range(50, 0, -1)) * 3, [2**40, 7, 2**40]],
)
def test_counted_is_unique_with_counts(keys: list[int]) -> None:
    got_keys, got_counts = _counted(np.array(keys, dtype=np.int64))
    want_keys, want_counts = np.unique(np.array(keys, dtype=np.int64), return_counts=True)
    assert got_keys.tolist() == want_keys.tolist()
    assert got_counts.tolist() == want_counts.tolist()


def test_upper_bounds_are_the_two_combinations(classifier: TextClassifier) -> None:
    bound = classifier._bert.logit_bound
    assert bound is not None
    ngram = [0.0, 1e-9, 0.01, 0.2, 0.5, 0.93, 0.999999, 1.0]
    high, low = (
        classifier._with_bert_at(p, ngram)
        for p in (_sigmoid_of(bound + 1e-3), _sigmoid_of(-bound - 1e-3))
    )
    want = [max(a, b) for a, b in zip(high, low, strict=True)]
    assert classifier._upper_bounds(ngram, bound) == want


def _sigmoid_of(z: float) -> float:
    from screening.classifier import _sigmoid

    return _sigmoid(z)


def test_loads_calibrated_threshold(classifier: TextClassifier) -> None:
    assert 0.0 < classifier.threshold < 1.0
    assert classifier.name == "cold-mini"
    assert classifier.max_chars > 0


def test_the_default_threshold_is_the_operating_one(classifier: TextClassifier) -> None:
    calibration = json.loads((MODEL_DIR / "calibration.json").read_text(encoding="utf-8"))
    assert classifier.threshold == calibration["operating_threshold"]
    assert classifier.decision_threshold == calibration["threshold"]
    assert classifier.threshold > classifier.decision_threshold
    assert "odd lines" in calibration["operating_threshold_chosen"]
    overridden = TextClassifier.load(MODEL_DIR, threshold=0.6)
    assert (overridden.threshold, overridden.decision_threshold) == (0.6, calibration["threshold"])


def test_without_an_operating_threshold_the_decision_threshold_raises_findings(
    tmp_path: Path,
) -> None:
    model = _model_copy(tmp_path)
    calibration = json.loads((model / "calibration.json").read_text(encoding="utf-8"))
    del calibration["operating_threshold"]
    (model / "calibration.json").write_text(json.dumps(calibration), encoding="utf-8")
    clf = TextClassifier.load(model)
    assert clf.threshold == clf.decision_threshold == calibration["threshold"]


# Offensive COLD dev texts (label 1), plain and with the symbol-insertion evasion.
COLD_DEV_OFFENSIVE = [
    "河南人，偷井盖。",
    "男的真恶心",
    "照你这么说，那美国歧视黑人也不是没有道理的。",
]


@pytest.mark.parametrize(
    "text", [*COLD_DEV_OFFENSIVE, *("*".join(t) for t in COLD_DEV_OFFENSIVE), "河 南 人 , 偷井盖"]
)
def test_offensive_cold_dev_texts_still_flag_at_the_operating_threshold(
    classifier: TextClassifier, text: str
) -> None:
    (finding,) = classifier.scan("content", text)
    assert finding.evidence["threshold"] == classifier.threshold
    assert finding.evidence["score"] >= classifier.threshold


# Sentences of the clean corpora (government work reports, People's Daily 1998) that the model
# scores over its decision threshold: review requests at 0.53, none at the operating threshold.
CLEAN_FLAGGED_AT_DECISION = [
    "房地产市场风险隐患较多，一些中小金融机构风险暴露。",
    "坚决纠正性别、年龄、学历等就业歧视，保障农民工工资支付，完善劳动关系协商协调机制，维护劳动者合法权益。",
    "严肃查处各类违法违规行为，惩处腐败分子，反腐败斗争取得压倒性胜利。",
    "波兰人民应该为取得的成就感到“自豪”。",
    "这些国家的货币汇率和股票价格犹如决堤的洪水狂泻而下，致使整个经济陷入恶性循环状态。",
]


@pytest.mark.parametrize("text", CLEAN_FLAGGED_AT_DECISION)
def test_clean_prose_flagged_at_the_decision_threshold_is_not_at_the_operating_one(
    classifier: TextClassifier, at_decision: TextClassifier, text: str
) -> None:
    assert len(at_decision.scan("content", text)) == 1
    assert classifier.scan("content", text) == []


def test_scores_in_the_expected_direction(classifier: TextClassifier) -> None:
    ((_, _, p_bad),) = classifier.score_windows(OFFENSIVE)
    ((_, _, p_ok),) = classifier.score_windows(BENIGN)
    assert p_bad >= classifier.threshold > p_ok


def test_inserted_symbols_do_not_hide_offensive_text(classifier: TextClassifier) -> None:
    evasive = "*".join(OFFENSIVE)
    ((_, _, p_plain),) = classifier.score_windows(OFFENSIVE)
    ((_, _, p_evasive),) = classifier.score_windows(evasive)
    assert p_evasive == pytest.approx(p_plain, abs=0.05)


def test_windows_cover_a_long_text_with_correct_spans(at_decision: TextClassifier) -> None:
    text = BENIGN * 20 + OFFENSIVE + BENIGN * 5  # offensive part around offset 740
    windows = at_decision.score_windows(text)
    assert [(s, e) for s, e, _ in windows] == [(0, 500), (400, 900), (800, len(text))]
    at = text.index(OFFENSIVE)
    flagged = [(s, e) for s, e, p in windows if p >= at_decision.threshold]
    assert flagged == [(400, 900)]
    assert flagged[0][0] <= at < at + len(OFFENSIVE) <= flagged[0][1]


def test_scan_produces_review_findings_with_evidence(at_decision: TextClassifier) -> None:
    classifier = at_decision
    text = BENIGN + OFFENSIVE
    (finding,) = classifier.scan("content", text)
    assert (finding.detector, finding.rule, finding.category) == (
        "classifier",
        "classifier:cold",
        "classifier",
    )
    assert (finding.severity, finding.action, finding.field) == ("medium", "review", "content")
    assert (finding.start, finding.end, finding.text) == (0, len(text), text)
    assert finding.evidence["model"] == "cold-mini"
    assert finding.evidence["threshold"] == classifier.threshold
    assert finding.evidence["score"] >= classifier.threshold
    assert finding.evidence["version"]


def test_benign_and_empty_texts_give_no_findings(classifier: TextClassifier) -> None:
    assert classifier.scan("content", BENIGN * 3) == []
    assert classifier.scan("title", "") == []
    assert classifier.score_windows("") == []
    assert classifier.scan("title", "★☆★ \u200b ...") == []


def test_threshold_override(classifier: TextClassifier) -> None:
    strict = TextClassifier.load(MODEL_DIR, threshold=0.0, window_chars=10, stride_chars=10)
    assert [(f.start, f.end) for f in strict.scan("title", BENIGN[:25])] == [
        (0, 10),
        (10, 20),
        (20, 25),
    ]


def test_missing_model_dir_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ClassifierUnavailable, match="no classifier model"):
        TextClassifier.load(tmp_path / "nowhere")


def _no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("torch", "transformers", "safetensors"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import name` fail


def test_the_shipped_model_runs_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_torch(monkeypatch)
    clf = TextClassifier.load(MODEL_DIR)
    assert clf.backend == "numpy"
    assert clf.precision == "float32"
    assert clf.predict_proba([OFFENSIVE])[0] >= clf.threshold


_IMPORTS_IN_CHILD = """
import json, sys
from pathlib import Path
from screening.classifier import TextClassifier
clf = TextClassifier.load(Path(sys.argv[1]))
clf.scan("content", sys.argv[2])
heavy = sorted(m for m in ("torch", "transformers", "safetensors", "sklearn") if m in sys.modules)
print(json.dumps({"backend": clf.backend, "heavy": heavy}))
"""


def test_screening_with_the_classifier_imports_no_torch() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS_IN_CHILD, str(MODEL_DIR), BENIGN + OFFENSIVE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=100,
    )
    child = json.loads(done.stdout.strip().splitlines()[-1])
    assert child == {"backend": "numpy", "heavy": []}


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Only the transformers backend needs the extra; asking for it without torch says which.
    _no_torch(monkeypatch)
    with pytest.raises(ClassifierUnavailable, match=r"mediagate\[classifier\]"):
        TextClassifier.load(MODEL_DIR, backend="transformers")


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend"):
        TextClassifier.load(MODEL_DIR, backend="int4")


NO_TORCH = "needs torch and transformers: pip install -e '.[train]'"


def _need(module: str) -> Any:
    """`module`, or a skip saying how to install it; a failure in CI (.ci/run sets
    MEDIAGATE_REQUIRE_TORCH_TESTS=1 after installing the [train] extra)."""
    if os.environ.get("MEDIAGATE_REQUIRE_TORCH_TESTS") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=NO_TORCH)


def _transformers_probs(model_dir: Path, texts: list[str], max_chars: int) -> list[float]:
    """The reference: the transformers model itself, float32, one text at a time."""
    torch = _need("torch")
    _need("transformers")
    from transformers import BertForSequenceClassification

    from screening.classifier import CharVocab

    model = BertForSequenceClassification.from_pretrained(model_dir, local_files_only=True)
    model.float().eval()
    vocab = CharVocab.load(model_dir / "vocab.txt")
    out = []
    with torch.inference_mode():
        for text in texts:
            ids = torch.tensor([vocab.encode(_prepare(text), max_chars)])
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
            out.append(float(torch.softmax(logits, dim=-1)[0, 1]))
    return out


def test_numpy_forward_matches_transformers(classifier: TextClassifier) -> None:
    assert classifier.max_chars == 126
    reference = _transformers_probs(MODEL_DIR, SAMPLES, 126)
    batched = classifier.part_probas(SAMPLES)["bert"]  # one padded batch
    assert batched == pytest.approx(reference, abs=1e-5)


def test_padding_does_not_change_scores(classifier: TextClassifier) -> None:
    alone = [classifier.predict_proba([t])[0] for t in SAMPLES]
    assert classifier.predict_proba(SAMPLES) == pytest.approx(alone, abs=1e-5)
    many = SAMPLES * 30  # more rows than one batch holds
    assert classifier.predict_proba(many) == pytest.approx(alone * 30, abs=1e-5)


@pytest.mark.parametrize("x", [-9.0, -4.0, -2.5, -1.0, -0.3, -1e-4, 0.0, 1e-4, 0.7, 1.5, 3.0, 8.0])
def test_gelu_is_the_erf_gelu(x: float) -> None:
    exact = 0.5 * x * (1 + math.erf(x / math.sqrt(2)))
    got = float(gelu(np.array([x], dtype=np.float32))[0])
    assert got == pytest.approx(exact, abs=2e-6)


def _tensor_file(path: Path, tensors: dict[str, tuple[str, list[int], bytes]]) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    body = b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [len(body), len(body) + len(raw)],
        }
        body += raw
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + body)


def test_safetensors_reader_reads_f32_f16_and_bf16(tmp_path: Path) -> None:
    values = np.array([[1.5, -2.0], [0.25, 3.0]], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()  # exact for these values
    _tensor_file(
        tmp_path / "w.safetensors",
        {
            "a": ("F32", [2, 2], values.astype("<f4").tobytes()),
            "b": ("F16", [4], values.astype("<f2").tobytes()),
            "c": ("BF16", [2, 2], bf16),
        },
    )
    got = read_safetensors(tmp_path / "w.safetensors")
    assert set(got) == {"a", "b", "c"}
    assert np.array_equal(got["a"], values) and np.array_equal(got["c"], values)
    assert np.array_equal(got["b"], values.reshape(4))
    assert all(v.dtype == np.float32 for v in got.values())


def _raw(header: dict[str, object], body: bytes = b"") -> bytes:
    blob = json.dumps(header).encode()
    return struct.pack("<Q", len(blob)) + blob + body


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "too short"),
        (struct.pack("<Q", 10**12) + b"{}", "not plausible"),
        (struct.pack("<Q", 4) + b"nope", "not JSON"),
        (_raw({}), "missing"),  # no tensors: the model misses its weights
        (_raw({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 99]}}), "outside the file"),
        (_raw({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)), "values"),
        (_raw({"x": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8)), "dtype"),
    ],
)
def test_a_broken_weights_file_is_unavailable(tmp_path: Path, raw: bytes, message: str) -> None:
    broken = _model_copy(tmp_path)
    (broken / "model.safetensors").write_bytes(raw)
    with pytest.raises(ClassifierUnavailable, match=message):
        TextClassifier.load(broken)


def test_the_logit_bound_holds(classifier: TextClassifier) -> None:
    encoder = NumpyBert.load(MODEL_DIR)
    bound = encoder.logit_bound()
    assert bound is not None and 0 < bound < 50
    rng = np.random.default_rng(7)
    ids = rng.integers(5, encoder.vocab_size, size=(64, 40))
    ids[:, 0], ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    logits = encoder.logits(ids, np.full(64, 40))
    assert np.abs(logits[:, 1] - logits[:, 0]).max() <= bound


def _prose_windows() -> list[str]:
    prose = "".join(SAMPLES) + BENIGN * 40
    texts = [prose[i : i + 500] for i in range(0, len(prose), 170)]
    return [*texts, *SAMPLES, "*".join(OFFENSIVE) + BENIGN * 9, "我觉得地域歧视是不对的" * 10]


@pytest.mark.parametrize("fixture", ["classifier", "at_decision"])
def test_skipping_the_bert_keeps_every_decision(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # Without `exact` the BERT only reads chunks that could reach the threshold: the flagged
    # windows and their scores are the same, other scores are upper bounds of the exact ones.
    # At the operating threshold and at the decision threshold.
    classifier: TextClassifier = request.getfixturevalue(fixture)
    texts = _prose_windows()
    fast, exact = classifier.score_many(texts), classifier.score_many(texts, exact=True)
    flagged = 0
    for quick, slow in zip(fast, exact, strict=True):
        assert [(s, e) for s, e, _ in quick] == [(s, e) for s, e, _ in slow]
        for (_, _, p_fast), (_, _, p_exact) in zip(quick, slow, strict=True):
            assert (p_fast >= classifier.threshold) == (p_exact >= classifier.threshold)
            if p_exact >= classifier.threshold:
                flagged += 1
                # The same chunks in a different batch (other rows, other padding): float32 BLAS
                # sums may differ in the last bits (measured 1e-9 with the 2026-12-06 model).
                assert p_fast == pytest.approx(p_exact, abs=1e-6)
            else:
                assert p_fast >= p_exact - 1e-12
    assert flagged >= 3  # the test has windows on both sides of the threshold
    assert classifier.scan_many([("content", t) for t in texts]) == [
        classifier.scan("content", t) for t in texts
    ]


def test_a_post_is_scored_in_one_model_call(
    classifier: TextClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    bert = classifier._bert
    original = bert.probas
    monkeypatch.setattr(bert, "probas", lambda texts: calls.append(len(texts)) or original(texts))
    fields = [("title", OFFENSIVE), ("digest", "河南人都是骗子"), ("content", BENIGN * 30)]
    found = classifier.scan_many(fields)
    assert len(calls) == 1
    assert [[f.field for f in fs] for fs in found] == [["title"], ["digest"], []]


def test_a_threshold_of_zero_scores_everything_exactly(classifier: TextClassifier) -> None:
    everything = TextClassifier.load(MODEL_DIR, threshold=0.0)
    texts = _prose_windows()
    assert everything.score_many(texts) == everything.score_many(texts, exact=True)


def test_char_ngrams_cover_every_position() -> None:
    assert char_ngrams("abc") == ["a", "b", "c", "ab", "bc", "abc"]
    assert char_ngrams("ab", 2, 3) == ["ab"]
    assert char_ngrams("") == []


def test_ngram_linear_computes_tfidf_logistic_regression(tmp_path: Path) -> None:
    path = tmp_path / NGRAM_FILE
    rows = [("a", 1, 2.0), ("ab", 2, -1.0), ("zz", 3, 5.0)]
    NgramLinear.write(path, rows, documents=3, intercept=0.5, ngram_range=(1, 2))
    part = NgramLinear.load(path)
    assert len(part) == 3 and part.ngram_range == (1, 2)
    # "aab": a x2, ab x1 in the table; b and aa are not, so they count for nothing.
    a = (1 + math.log(2)) * (math.log(4 / 2) + 1)
    ab = 1 * (math.log(4 / 3) + 1)
    z = 0.5 + (2.0 * a - 1.0 * ab) / math.hypot(a, ab)
    assert part.proba("aab") == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-9)
    assert part.proba("qq") == pytest.approx(1 / (1 + math.exp(-0.5)))  # nothing known
    NgramLinear.write(path, rows, documents=3, intercept=-800.0, ngram_range=(1, 2))
    assert NgramLinear.load(path).proba("q") == 0.0  # no overflow at extreme scores


def test_ngram_part_scores_a_batch_as_each_text_alone(classifier: TextClassifier) -> None:
    part = NgramLinear.load(MODEL_DIR / NGRAM_FILE)
    texts = [_prepare(t) for t in SAMPLES] + ["", "\x00\x01", BENIGN * 2, _prepare(OFFENSIVE)]
    alone = [part.probas([t])[0] for t in texts]
    assert part.probas(texts) == pytest.approx(alone, abs=1e-12)
    assert part.probas([]) == []
    assert part.probas([""])[0] == pytest.approx(1 / (1 + math.exp(-part.intercept)))


@pytest.mark.parametrize(
    "texts",
    [
        [_prepare(t) for t in SAMPLES],
        ["", "a", "ab", "abc", "", "aab"],
        ["\ud800x\udfff", "😀😀😀", "𠀀𠀁𠀀", "\U0010ffff\U0010ffffa", "\x00a\x00"],
        ["ab" * 40, "ba" * 40, "a"],  # n-grams that would join across two texts
    ],
)
def test_ngram_codes_find_exactly_what_the_string_table_finds(
    tmp_path: Path, texts: list[str]
) -> None:
    # The integer-coded lookup must give the same (text, row) pairs as the string dict, so the
    # scores are identical to the bit: astral characters, lone surrogates, NUL, n-grams that
    # straddle two texts of a batch, table entries longer than the n-gram range.
    path = tmp_path / NGRAM_FILE
    rows = [
        ("a", 1, 2.0),
        ("b", 1, 0.5),
        ("ab", 2, -1.0),
        ("ba", 1, 0.25),
        ("aab", 1, 3.0),
        ("abab", 1, 9.0),  # outside the (1, 3) range: never matches
        ("😀", 1, 1.5),
        ("😀😀", 1, -0.5),
        ("\U0010ffff\U0010ffff", 1, 4.0),
        ("𠀀𠀁", 1, 0.75),
        ("\x00a", 2, 0.1),
    ]
    NgramLinear.write(path, rows, documents=3, intercept=0.5, ngram_range=(1, 3))
    part = NgramLinear.load(path)
    assert sorted(part._keys(texts).tolist()) == sorted(part._keys_by_dict(texts).tolist())
    coded = part.probas(texts)
    part._index = None  # the string lookup
    assert part.probas(texts) == coded


def test_the_shipped_ngram_table_scores_identically_either_way() -> None:
    part = NgramLinear.load(MODEL_DIR / NGRAM_FILE)
    texts = [_prepare(t) for t in SAMPLES] + _prose_windows()
    coded = part.probas(texts)
    part._index = None
    assert part.probas(texts) == coded


def test_ngram_table_refuses_what_it_cannot_store(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tabs or line breaks"):
        NgramLinear.write(
            tmp_path / NGRAM_FILE, [("a\tb", 1, 1.0)], documents=1, intercept=0, ngram_range=(1, 3)
        )
    (tmp_path / NGRAM_FILE).write_text('#{"format": "other"}\n', encoding="utf-8")
    with pytest.raises(ClassifierUnavailable, match="unusable n-gram table"):
        NgramLinear.load(tmp_path / NGRAM_FILE)


def test_the_shipped_model_is_the_ensemble(classifier: TextClassifier) -> None:
    assert classifier.parts == ("bert", "ngram_lr")
    parts = classifier.part_probas(SAMPLES)
    calibration = json.loads((MODEL_DIR / "calibration.json").read_text(encoding="utf-8"))
    stack = calibration.get("stack")
    if stack is None:
        expected = [(b + n) / 2 for b, n in zip(parts["bert"], parts["ngram_lr"], strict=True)]
    else:
        w = stack["weights"]
        expected = [
            1
            / (
                1
                + math.exp(
                    -(stack["intercept"] + w["bert"] * _logit(b) + w["ngram_lr"] * _logit(n))
                )
            )
            for b, n in zip(parts["bert"], parts["ngram_lr"], strict=True)
        ]
    assert classifier.predict_proba(SAMPLES) == pytest.approx(expected, abs=1e-12)
    # Both parts see the same (prepared, cut) text and both lean the same way on the extremes.
    assert parts["ngram_lr"][0] > 0.5 > parts["ngram_lr"][1]


def _model_copy(tmp_path: Path, **calibration_changes: object) -> Path:
    copy = tmp_path / "cold-mini"
    shutil.copytree(MODEL_DIR, copy)
    path = copy / "calibration.json"
    calibration = json.loads(path.read_text(encoding="utf-8"))
    calibration.update(calibration_changes)
    path.write_text(json.dumps(calibration), encoding="utf-8")
    return copy


def test_stacking_weights_combine_the_parts_log_odds(tmp_path: Path) -> None:
    stack = {"intercept": 0.0, "weights": {"bert": 1.0, "ngram_lr": 0.0}}
    only_bert = TextClassifier.load(_model_copy(tmp_path, stack=stack))
    parts = only_bert.part_probas(SAMPLES)
    clipped = [min(max(p, 1e-6), 1 - 1e-6) for p in parts["bert"]]
    assert only_bert.predict_proba(SAMPLES) == pytest.approx(clipped, rel=1e-9)
    halves = {"intercept": -1.0, "weights": {"bert": 0.5, "ngram_lr": 0.5}}
    half = TextClassifier.load(_model_copy(tmp_path / "b", stack=halves))
    b, n = half.part_probas([OFFENSIVE])["bert"][0], half.part_probas([OFFENSIVE])["ngram_lr"][0]
    z = -1.0 + 0.5 * math.log(b / (1 - b)) + 0.5 * math.log(n / (1 - n))
    assert half.predict_proba([OFFENSIVE])[0] == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-6)


def test_stacking_weights_must_name_the_parts(tmp_path: Path) -> None:
    stack = {"intercept": 0.0, "weights": {"bert": 1.0}}
    with pytest.raises(ClassifierUnavailable, match="stack weights"):
        TextClassifier.load(_model_copy(tmp_path, stack=stack))


def test_unweighted_ensemble_is_the_mean(tmp_path: Path) -> None:
    copy = _model_copy(tmp_path)
    calibration = json.loads((copy / "calibration.json").read_text(encoding="utf-8"))
    calibration.pop("stack", None)
    (copy / "calibration.json").write_text(json.dumps(calibration), encoding="utf-8")
    plain = TextClassifier.load(copy)
    parts = plain.part_probas(SAMPLES)
    mean = [(b + n) / 2 for b, n in zip(parts["bert"], parts["ngram_lr"], strict=True)]
    assert plain.predict_proba(SAMPLES) == pytest.approx(mean, abs=1e-12)


def test_model_dir_stays_small() -> None:
    size = sum(f.stat().st_size for f in MODEL_DIR.iterdir() if f.is_file())
    assert size < 20_000_000


def test_missing_ngram_part_is_unavailable(tmp_path: Path) -> None:
    broken = _model_copy(tmp_path)
    (broken / NGRAM_FILE).unlink()
    with pytest.raises(ClassifierUnavailable, match="unusable n-gram table"):
        TextClassifier.load(broken)


def test_offensive_sentence_inside_neutral_prose_is_flagged(
    classifier: TextClassifier, at_decision: TextClassifier
) -> None:
    # One short offensive sentence in the middle of a 500-character window of neutral prose:
    # flagged at the decision threshold, **missed at the operating threshold** (0.60 < 0.93), the
    # measured cost of the operating threshold (docs/classifier.md). Alone, it is flagged.
    prose = (BENIGN * 12)[:240]
    text = prose + OFFENSIVE + (BENIGN * 12)[: 500 - 240 - len(OFFENSIVE)]
    assert len(text) == 500
    ((start, end, p),) = at_decision.score_windows(text)
    assert (start, end) == (0, 500)
    assert at_decision.threshold <= p < classifier.threshold
    assert classifier.scan("content", OFFENSIVE) != []
    ((_, _, p_prose),) = at_decision.score_windows((BENIGN * 12)[:500])
    assert p_prose < at_decision.threshold


def _random_checkpoint(out: Path) -> Path:
    """A small randomly initialised BERT classifier with a word-piece vocabulary, saved the way a
    larger downloaded model comes (config, safetensors, tokenizer files)."""
    torch = _need("torch")
    transformers = _need("transformers")
    chars = sorted(set(OFFENSIVE + BENIGN + "河南人都是骗子女拳我觉得地域歧视不对的"))
    vocab = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]
    out.mkdir()
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(out / "vocab.txt"))
    tokenizer.save_pretrained(out)
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=40,
    )
    config.id2label, config.label2id = {0: "safe", 1: "offensive"}, {"safe": 0, "offensive": 1}
    torch.manual_seed(3)
    transformers.BertForSequenceClassification(config).save_pretrained(out)
    return out


def test_a_local_transformers_checkpoint_runs_through_transformers(tmp_path: Path) -> None:
    model_dir = _random_checkpoint(tmp_path / "larger")
    import torch
    import transformers

    clf = TextClassifier.load(model_dir)  # "auto": not a char-vocabulary model of ours
    assert (clf.backend, clf.parts, clf.threshold, clf.max_chars) == (
        "transformers",
        ("bert",),
        0.5,
        38,
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        model_dir, local_files_only=True
    ).eval()
    expected = []
    with torch.inference_mode():
        for text in SAMPLES:
            batch = tokenizer(
                [_prepare(text)[:38]], truncation=True, max_length=40, return_tensors="pt"
            )
            expected.append(float(torch.softmax(model(**batch).logits, dim=-1)[0, 1]))
    assert clf.predict_proba(SAMPLES) == pytest.approx(expected, abs=1e-5)  # batched and padded
    # Every chunk is scored exactly (no bound is known for an arbitrary model).
    assert clf.score_many(SAMPLES) == clf.score_many(SAMPLES, exact=True)
    everything = TextClassifier.load(model_dir, threshold=0.0, window_chars=10, stride_chars=10)
    assert [(f.start, f.end) for f in everything.scan("title", BENIGN[:25])] == [
        (0, 10),
        (10, 20),
        (20, 25),
    ]


def test_a_transformers_checkpoint_reads_its_calibration(tmp_path: Path) -> None:
    model_dir = _random_checkpoint(tmp_path / "larger")
    calibration = {"name": "big", "version": "7", "threshold": 0.25, "max_chars": 20}
    (model_dir / "calibration.json").write_text(json.dumps(calibration), encoding="utf-8")
    clf = TextClassifier.load(model_dir, backend="transformers")
    assert (clf.name, clf.version, clf.threshold, clf.max_chars) == ("big", "7", 0.25, 20)


def test_the_numpy_backend_refuses_a_model_it_cannot_run(tmp_path: Path) -> None:
    model_dir = tmp_path / "other"
    shutil.copytree(MODEL_DIR, model_dir)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    config["hidden_act"] = "relu"
    (model_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ClassifierUnavailable, match="hidden_act"):
        TextClassifier.load(model_dir, backend="numpy")


@pytest.mark.parametrize("stacked", [True, False])
def test_the_bound_with_the_bert_fixed_is_combine_to_the_bit(
    classifier: TextClassifier, stacked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The skip bound fixes the BERT's probability at its extremes; computing that term once
    # must give exactly the floats `combine` gives (a changed bit could move a chunk across
    # the threshold in a different place than `exact=True` scoring).
    if not stacked:
        monkeypatch.setattr(classifier, "_stack", None)
    ngram = [0.0, 1e-300, 1e-6, 0.2, 0.5, 0.93999, 0.94, 1 - 1e-12, 1.0]
    for p_bert in (0.0, 1e-7, 0.3, 0.5, 0.999, 1.0):
        assert classifier._with_bert_at(p_bert, ngram) == classifier.combine(
            {"bert": [p_bert] * len(ngram), "ngram_lr": ngram}
        )
