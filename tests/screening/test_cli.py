"""``run.py screen FILE`` (screening.cli.main), on a small lexicon directory so that each test
does not rebuild the 45k-term default automaton."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screening.cli import main


@pytest.fixture
def lexicons(tmp_path: Path) -> Path:
    d = tmp_path / "lexicons"
    d.mkdir()
    (d / "secret.txt").write_text("# category: state_secret\n# action: block\n内部资料\n", "utf-8")
    return d


def test_text_file(tmp_path: Path, lexicons: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "post.html"
    path.write_text("<p>【内部资料】营收3亿元</p>", encoding="utf-8")
    assert main([str(path), "--no-colour", "--lexicons", str(lexicons)]) == 2
    out = capsys.readouterr().out
    assert "decision: block" in out and "内部资料" in out and "state_secret" in out


def test_json_post(tmp_path: Path, lexicons: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "post.json"
    path.write_text(json.dumps({"post": {"title": "季报", "content": "营收3亿元"}}), "utf-8")
    assert main([str(path), "--json", "--lexicons", str(lexicons)]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["decision"] == "review" and body["findings"][0]["category"] == "financial"


def test_clean(tmp_path: Path, lexicons: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ok.txt"
    path.write_text("新版本发布了。", encoding="utf-8")
    assert main([str(path), "--lexicons", str(lexicons)]) == 0
    assert "decision: pass" in capsys.readouterr().out


def test_too_long(tmp_path: Path, lexicons: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("好" * 200_001, encoding="utf-8")
    assert main([str(path), "--lexicons", str(lexicons)]) == 3


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.txt", b"\xff\xfe\x00bad", "cannot read"),
        ("missing.txt", None, "cannot read"),
        ("post.json", b"{not json", "not JSON"),
        ("post.json", b"[1, 2]", "expected a JSON object"),
        ("post.json", '{"post": "内部资料"}'.encode(), "expected a JSON object"),
        ("post.json", b'"\xe5\x86\x85"', "expected a JSON object"),
    ],
)
def test_a_file_that_cannot_be_read_exits_3_saying_why(
    tmp_path: Path,
    lexicons: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main([str(path), "--lexicons", str(lexicons)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and str(path) in err


def test_a_json_posts_category_is_a_label_not_text(
    tmp_path: Path, lexicons: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "post.json"
    path.write_text(json.dumps({"content": "新版本", "category": "内部资料"}), "utf-8")
    assert main([str(path), "--json", "--lexicons", str(lexicons)]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "pass"
