"""Bad interaction requests: 4xx problem+json naming the field, nothing sent, never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest

from tests.delivery.conftest import Gateway
from tests.gateway.interactions.conftest import OPS, Targets, items
from tests.gateway.interactions.helpers import call, submit

LONG_WEIBO = "长" * 141


async def _cases(targets: Targets) -> list[tuple[str, dict[str, Any], int, str]]:
    weibo_post = await targets.post("weibo")
    wp_post = await targets.post("wordpress")
    msg, comment = await targets.wechat_article()
    weibo = {"account": OPS["weibo"], "target": {"post": weibo_post}}
    wechat = {"account": OPS["wechat"], "target": {"msg_data_id": msg, "comment_id": comment}}
    return [
        # a kind the platform does not have → 422 naming kind
        ("weibo comments_open", {**weibo, "kind": "comments_open"}, 422, "kind"),
        ("wechat comment", {**wechat, "kind": "comment", "text": "评论"}, 422, "kind"),
        ("wechat repost", {**wechat, "kind": "repost", "text": "转发"}, 422, "kind"),
        (
            "wordpress repost",
            {
                "account": OPS["wordpress"],
                "target": {"post": wp_post},
                "kind": "repost",
                "text": "转",
            },
            422,
            "kind",
        ),
        ("unknown kind", {**weibo, "kind": "like", "text": "赞"}, 422, "kind"),
        # text
        ("comment without text", {**weibo, "kind": "comment"}, 422, "text"),
        ("blank text", {**weibo, "kind": "comment", "text": " \u3000 "}, 422, "text"),
        ("weibo over 140", {**weibo, "kind": "comment", "text": LONG_WEIBO}, 422, "text"),
        ("text on a switch", {**wechat, "kind": "comments_close", "text": "关"}, 422, "text"),
        ("over the gateway bound", {**weibo, "kind": "comment", "text": "字" * 5001}, 422, "text"),
        # target
        (
            "post and platform_id",
            {
                **weibo,
                "kind": "comment",
                "text": "好",
                "target": {"post": weibo_post, "platform_id": "1"},
            },
            422,
            "target",
        ),
        (
            "unknown post",
            {
                **weibo,
                "kind": "comment",
                "text": "好",
                "target": {"post": "job_00000000000000000000"},
            },
            404,
            "target.post",
        ),
        (
            "a post of another platform",
            {**weibo, "kind": "comment", "text": "好", "target": {"post": wp_post}},
            422,
            "target.post",
        ),
        (
            "weibo reply without comment_id",
            {**weibo, "kind": "reply", "text": "好"},
            422,
            "target.comment_id",
        ),
        (
            "wechat reply without msg_data_id",
            {**wechat, "kind": "reply", "text": "好", "target": {"comment_id": comment}},
            422,
            "target.msg_data_id",
        ),
        (
            "msg_data_id not digits",
            {**wechat, "kind": "reply", "text": "好", "target": {"msg_data_id": "12a"}},
            422,
            "target.msg_data_id",
        ),
        (
            "index out of range",
            {
                **wechat,
                "kind": "reply",
                "text": "好",
                "target": {"msg_data_id": msg, "comment_id": comment, "index": 8},
            },
            422,
            "target.index",
        ),
        (
            "unknown target field",
            {**weibo, "kind": "comment", "text": "好", "target": {"post": weibo_post, "url": "x"}},
            422,
            "target.url",
        ),
        (
            "unknown account",
            {**weibo, "account": "no-such", "kind": "comment", "text": "好"},
            404,
            "account",
        ),
        (
            "approvals not a list",
            {**weibo, "kind": "comment", "text": "好", "approvals": "x"},
            422,
            "approvals",
        ),
    ]


async def test_bad_requests_name_the_field_and_send_nothing(gw: Gateway, targets: Targets) -> None:
    for name, body, status, field in await _cases(targets):
        for path in ("/v1/interactions", "/v1/interactions/assess"):
            sent = {k: v for k, v in body.items() if k != "approvals" or path.endswith("s")}
            got, problem, headers = await call(gw, "POST", path, "editor", sent)
            assert got == status, (name, path, problem)
            assert headers["Content-Type"].startswith("application/problem+json"), name
            named = [e["field"] for e in problem.get("errors", [])] or [problem.get("field")]
            assert field in named, (name, path, problem)
    for platform in ("weibo", "wordpress", "wechat"):
        assert await items(gw, platform) == [], platform


@pytest.mark.parametrize(
    ("who", "status"),
    [("editor_west", 403), ("auditor", 403), ("leader", 403)],
)
async def test_callers_who_may_not_publish_there(
    gw: Gateway, targets: Targets, who: str, status: int
) -> None:
    if who == "editor_west":
        from gateway.keys import Keys
        from gateway.principals import PrincipalStore

        issued = await PrincipalStore(gw.redis, Keys("mg")).create(
            name="editor_west", role="editor", unit="sub_west"
        )
        gw.api.keys[who] = issued.key
    post = await targets.post("weibo")
    got, problem, _ = await submit(
        gw,
        {"account": OPS["weibo"], "kind": "comment", "target": {"post": post}, "text": "好"},
        who=who,
    )
    assert got == status, problem
    assert await items(gw, "weibo") == []


async def test_unknown_interaction_is_404(gw: Gateway) -> None:
    got, problem, _ = await call(gw, "GET", "/v1/interactions/job_nope", "editor")
    assert got == 404, problem
