"""``run.py screen FILE`` (screening.cli.main)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screening.cli import main


def test_text_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "post.html"
    path.write_text("<p>【内部资料】营收3亿元</p>", encoding="utf-8")
    assert main([str(path), "--no-colour"]) == 2
    out = capsys.readouterr().out
    assert "decision: block" in out and "内部资料" in out and "state_secret" in out


def test_json_post(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "post.json"
    path.write_text(json.dumps({"post": {"title": "季报", "content": "营收3亿元"}}), "utf-8")
    assert main([str(path), "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["decision"] == "review" and body["findings"][0]["category"] == "financial"


def test_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ok.txt"
    path.write_text("新版本发布了。", encoding="utf-8")
    assert main([str(path)]) == 0
    assert "decision: pass" in capsys.readouterr().out
