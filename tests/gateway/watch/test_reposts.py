"""Reposts made through the gate are new items of the account: the reconciler's view knows them
by id once delivered and by their words while their job settles (docs/bypass.md)."""

from __future__ import annotations

import pytest

from connectors.base import RemoteItem
from gateway.watch.reconciler import View, loose_text


@pytest.mark.parametrize(
    ("said", "shown_title", "shown_text", "ours"),
    [
        ("转发：新品发布。", "", "转发：新品发布。", True),
        (
            "转发【新品】：详见 https://example.com/a 。",
            "",
            "转发【新品】：详见 http://t.cn/xyz 。",
            True,
        ),
        ("【新品】发布", "新品", "发布", True),
        ("转发：新品发布。", "", "转发：新品发布。//@读者:好", True),  # Weibo appends the chain
        ("转发：新品发布。", "", "转发：新品发布", False),  # one character short: not ours
        ("转发：新品发布。", "", "另一条微博", False),
        ("", "", "任何内容", False),  # an empty text matches nothing
    ],
)
def test_a_settling_repost_is_recognised_by_its_words(
    said: str, shown_title: str, shown_text: str, ours: bool
) -> None:
    view = View(reposts_settling=[loose_text(said)])
    item = RemoteItem("4890001", title=shown_title, text=shown_text)
    assert view.is_repost(item) is ours
    assert View(reposts={"4890001"}).is_repost(item)
