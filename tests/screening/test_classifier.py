"""The classifier stage, through the real loading path of the committed model directory."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from screening.classifier import (
    ClassifierUnavailable,
    TextClassifier,
    _native_bf16,
    _prepare,
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
    batched = float32_classifier.predict_proba(SAMPLES)  # one padded batch
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
