"""The classifier stage, through the real loading path of the committed model directory."""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from screening.classifier import (
    NGRAM_FILE,
    ClassifierUnavailable,
    NgramLinear,
    TextClassifier,
    _logit,
    _native_bf16,
    _prepare,
    char_ngrams,
)

MODEL_DIR = Path(__file__).resolve().parents[2] / "screening" / "models" / "cold-mini"

OFFENSIVE = "黑人都是垃圾，又懒又蠢，全部滚出中国"
BENIGN = "公司今天发布了第三季度的产品更新，新版本修复了若干问题，欢迎大家下载试用。"
ROOT = MODEL_DIR.parents[2]
# Mixed lengths, so that a batch pads and the attention mask matters.
SAMPLES = [OFFENSIVE, BENIGN, "河南人都是骗子", "女拳", BENIGN * 3, "我觉得地域歧视是不对的"]


@pytest.fixture(scope="module")
def classifier() -> TextClassifier:
    # The README's test command installs the [classifier] extra: a missing extra fails here.
    return TextClassifier.load(MODEL_DIR)


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


def test_loads_calibrated_threshold(classifier: TextClassifier) -> None:
    assert 0.0 < classifier.threshold < 1.0
    assert classifier.name == "cold-mini"
    assert classifier.max_chars > 0


def test_scores_in_the_expected_direction(classifier: TextClassifier) -> None:
    ((_, _, p_bad),) = classifier.score_windows(OFFENSIVE)
    ((_, _, p_ok),) = classifier.score_windows(BENIGN)
    assert p_bad >= classifier.threshold > p_ok


def test_inserted_symbols_do_not_hide_offensive_text(classifier: TextClassifier) -> None:
    evasive = "*".join(OFFENSIVE)
    ((_, _, p_plain),) = classifier.score_windows(OFFENSIVE)
    ((_, _, p_evasive),) = classifier.score_windows(evasive)
    assert p_evasive == pytest.approx(p_plain, abs=0.05)


def test_windows_cover_a_long_text_with_correct_spans(classifier: TextClassifier) -> None:
    text = BENIGN * 20 + OFFENSIVE + BENIGN * 5  # offensive part around offset 740
    windows = classifier.score_windows(text)
    assert [(s, e) for s, e, _ in windows] == [(0, 500), (400, 900), (800, len(text))]
    at = text.index(OFFENSIVE)
    flagged = [(s, e) for s, e, p in windows if p >= classifier.threshold]
    assert flagged == [(400, 900)]
    assert flagged[0][0] <= at < at + len(OFFENSIVE) <= flagged[0][1]


def test_scan_produces_review_findings_with_evidence(classifier: TextClassifier) -> None:
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


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    with pytest.raises(ClassifierUnavailable, match=r"mediagate\[classifier\]"):
        TextClassifier.load(MODEL_DIR)


@pytest.fixture(scope="module")
def float32_classifier() -> TextClassifier:
    return TextClassifier.load(MODEL_DIR, precision="float32")


def _transformers_probs(texts: list[str]) -> list[float]:
    """The reference: the transformers model itself, float32, one text at a time."""
    import torch
    from transformers import BertForSequenceClassification

    from screening.classifier import CharVocab

    model = BertForSequenceClassification.from_pretrained(MODEL_DIR, local_files_only=True)
    model.float().eval()
    vocab = CharVocab.load(MODEL_DIR / "vocab.txt")
    out = []
    with torch.inference_mode():
        for text in texts:
            ids = torch.tensor([vocab.encode(_prepare(text), 126)])
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
            out.append(float(torch.softmax(logits, dim=-1)[0, 1]))
    return out


def test_float32_forward_matches_transformers(float32_classifier: TextClassifier) -> None:
    assert float32_classifier.max_chars == 126
    reference = _transformers_probs(SAMPLES)
    batched = float32_classifier.part_probas(SAMPLES)["bert"]  # one padded batch
    assert batched == pytest.approx(reference, abs=1e-5)


def test_bfloat16_forward_stays_close_to_float32(float32_classifier: TextClassifier) -> None:
    # Correct on any CPU (slow where bfloat16 is not native); here only the numbers matter.
    bf16 = TextClassifier.load(MODEL_DIR, precision="bfloat16")
    assert bf16.precision == "bfloat16"
    reference = float32_classifier.predict_proba(SAMPLES)
    assert bf16.predict_proba(SAMPLES) == pytest.approx(reference, abs=0.02)


def test_auto_precision_follows_the_cpu(classifier: TextClassifier) -> None:
    import torch

    assert classifier.precision == ("bfloat16" if _native_bf16(torch) else "float32")


def test_padding_does_not_change_scores(float32_classifier: TextClassifier) -> None:
    alone = [float32_classifier.predict_proba([t])[0] for t in SAMPLES]
    assert float32_classifier.predict_proba(SAMPLES) == pytest.approx(alone, abs=1e-5)
    many = SAMPLES * 30  # more rows than one batch holds
    assert float32_classifier.predict_proba(many) == pytest.approx(alone * 30, abs=1e-5)


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        TextClassifier.load(MODEL_DIR, precision="int4")


_SCORE_IN_CHILD = """
import json, sys
from pathlib import Path
from screening.classifier import TextClassifier
clf = TextClassifier.load(Path(sys.argv[1]))
texts = json.loads(sys.argv[2])
print(json.dumps({"precision": clf.precision, "probs": clf.predict_proba(texts)}))
"""


@pytest.mark.slow
def test_a_cpu_without_native_bfloat16_gets_float32_and_the_same_scores(
    float32_classifier: TextClassifier,
) -> None:
    # oneDNN and ATen limited to AVX2 behave as on a CPU without AVX512/AMX: "auto" must fall
    # back to float32 there (bfloat16 would be emulated, ~8x slower) and give the same scores.
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
    done = subprocess.run(
        [sys.executable, "-c", _SCORE_IN_CHILD, str(MODEL_DIR), json.dumps(SAMPLES)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=100,
    )
    child = json.loads(done.stdout.strip().splitlines()[-1])
    if platform.machine().lower() in {"x86_64", "amd64"}:
        assert child["precision"] == "float32"
    assert child["probs"] == pytest.approx(float32_classifier.predict_proba(SAMPLES), abs=1e-4)


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


def test_ngram_table_refuses_what_it_cannot_store(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tabs or line breaks"):
        NgramLinear.write(
            tmp_path / NGRAM_FILE, [("a\tb", 1, 1.0)], documents=1, intercept=0, ngram_range=(1, 3)
        )
    (tmp_path / NGRAM_FILE).write_text('#{"format": "other"}\n', encoding="utf-8")
    with pytest.raises(ClassifierUnavailable, match="unusable n-gram table"):
        NgramLinear.load(tmp_path / NGRAM_FILE)


def test_the_shipped_model_is_the_ensemble(float32_classifier: TextClassifier) -> None:
    assert float32_classifier.parts == ("bert", "ngram_lr")
    parts = float32_classifier.part_probas(SAMPLES)
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
    assert float32_classifier.predict_proba(SAMPLES) == pytest.approx(expected, abs=1e-12)
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
    only_bert = TextClassifier.load(_model_copy(tmp_path, stack=stack), precision="float32")
    parts = only_bert.part_probas(SAMPLES)
    clipped = [min(max(p, 1e-6), 1 - 1e-6) for p in parts["bert"]]
    assert only_bert.predict_proba(SAMPLES) == pytest.approx(clipped, rel=1e-9)
    halves = {"intercept": -1.0, "weights": {"bert": 0.5, "ngram_lr": 0.5}}
    half = TextClassifier.load(_model_copy(tmp_path / "b", stack=halves), precision="float32")
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
    plain = TextClassifier.load(copy, precision="float32")
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


def test_offensive_sentence_inside_neutral_prose_is_flagged(classifier: TextClassifier) -> None:
    # One short offensive sentence in the middle of a 500-character window of neutral prose.
    prose = (BENIGN * 12)[:240]
    text = prose + OFFENSIVE + (BENIGN * 12)[: 500 - 240 - len(OFFENSIVE)]
    assert len(text) == 500
    ((start, end, p),) = classifier.score_windows(text)
    assert (start, end) == (0, 500)
    assert p >= classifier.threshold
    ((_, _, p_prose),) = classifier.score_windows((BENIGN * 12)[:500])
    assert p_prose < classifier.threshold
