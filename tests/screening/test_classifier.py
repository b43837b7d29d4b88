"""The classifier stage, through the real loading path of the committed model directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from screening.classifier import ClassifierUnavailable, TextClassifier, _prepare

MODEL_DIR = Path(__file__).resolve().parents[2] / "screening" / "models" / "cold-mini"

OFFENSIVE = "黑人都是垃圾，又懒又蠢，全部滚出中国"
BENIGN = "公司今天发布了第三季度的产品更新，新版本修复了若干问题，欢迎大家下载试用。"


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
