"""``run.py screen FILE``: the configured policy, roster and lexicons, from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _screen(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``run.py screen`` in this process (the screener is built once per process)."""
    code = main(["screen", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("text", "code", "expected"),
    [
        ("本周六华东分公司举办客户开放日，欢迎参观。", 0, "decision: pass"),
        ("董事长王建国表示，三季度营收同比增长23%。", 1, "requires"),
        ("（绝密）会议纪要", 2, "decision: block"),
    ],
)
def test_exit_status_and_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, code: int, expected: str
) -> None:
    path = tmp_path / "draft.txt"
    path.write_text(text, encoding="utf-8")
    status, out, err = _screen(capsys, str(path), "--no-colour")
    assert status == code, out + err
    assert expected in out


def test_json_post_and_json_answer(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "post.json"
    path.write_text(
        json.dumps(
            {"post": {"title": "李总视察", "content": "<p>欢迎</p>", "category": "news"}},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    status, out, _ = _screen(capsys, str(path), "--json")
    answer = json.loads(out)
    assert status == 1
    executive = [f for f in answer["findings"] if f["category"] == "executive"]
    assert executive and executive[0]["field"] == "title"
    assert (executive[0]["start"], executive[0]["end"]) == (0, 2)
    assert answer["required_roles"] == ["brand_pr"]


def test_an_unreadable_file_exits_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xff\xfe\x00bad")
    status, _, err = _screen(capsys, str(path))
    assert status == 3
    assert "cannot read" in err


def test_the_real_command_runs(tmp_path: Path) -> None:
    """One run of the real ``run.py`` process, as a user would type it."""
    path = tmp_path / "draft.txt"
    path.write_text("（绝密）会议纪要", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "run.py", "screen", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "state_secret" in proc.stdout
