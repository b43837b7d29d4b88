"""Comments, replies and reposts through the gate to the emulators, table-driven per platform.

Every case runs the real gateway against the platform emulators and a real store: the gate
decides (no approvals needed, approvals needed, blocked, replayed), the worker delivers, and the
emulator is read back to count what exists on the platform.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.appkeys import SERVICES
from tests.delivery.conftest import (
    WEIBO_TOKEN,
    WP_PASSWORD,
    WX_APPS,
    Gateway,
    control,
    make_post,
)
from tests.gateway.interactions.conftest import (
    EAST,
    ENDPOINT,
    OPS,
    PLATFORMS,
    TEXT_KIND,
    Targets,
    items,
)
from tests.gateway.interactions.helpers import (
    approve,
    assess,
    call,
    submit,
    tokens_for,
    wait_final,
)

SECRET = "本文件属于绝密级别，请勿外传。"


def body(platform: str, target: dict[str, Any], text: str, *, ops: bool = True) -> dict[str, Any]:
    return {
        "account": (OPS if ops else EAST)[platform],
        "kind": TEXT_KIND[platform],
        "target": target,
        "text": text,
    }


async def audit_actions(gw: Gateway) -> list[tuple[str, str]]:
    return [(r["action"], r["result"]) async for _, r in gw.app[SERVICES].audit.records()]


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_operator_comment_needs_no_approval_and_is_delivered(
    gw: Gateway, targets: Targets, platform: str
) -> None:
    target = await targets.comment_target(platform)
    text = f"感谢关注，{platform}欢迎留言。"
    request = body(platform, target, text)
    assessed = await assess(gw, request)
    assert assessed["required_roles"] == [] and assessed["decision"] == "pass"
    status, job, _ = await submit(gw, request)
    assert status in (201, 202), job
    final = await wait_final(gw, job["id"])
    assert final["state"] == "published", final
    assert final["kind"] == "interaction" and final["content_sha256"] == assessed["content_sha256"]
    assert final["interaction"]["text"] == text
    held = await items(gw, platform)
    assert len(held) == 1, held
    got = held[0].get("reply", {}).get("content") if platform == "wechat" else None
    assert text in (got or str(held[0].get("text") or held[0].get("content", {}).get("raw")))
    actions = await audit_actions(gw)
    assert (f"interaction.{TEXT_KIND[platform]}", "ok") in actions
    assert ("interaction.published", "published") in actions
    # followed at /v1/interactions, not listed, edited or deleted as a post; in the annual report
    for method, change in (("PATCH", {"post": make_post("x")}), ("DELETE", {"reason": "试试"})):
        status, problem, _ = await call(gw, method, f"/v1/posts/{job['id']}", "unit_head", change)
        assert status == 404, (method, problem)
    assert job["id"] not in [p["id"] for p in await gw.api.listing("published")]
    status, report, _ = await call(gw, "GET", "/v1/reports/annual", "brand_pr")
    assert status == 200, report
    row = next(r for r in report["accounts"] if r["account"] == OPS[platform])
    assert (row["interactions"], row["published"]) == (1, 0), row


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_non_operator_needs_the_unit_head_then_is_delivered(
    gw: Gateway, targets: Targets, platform: str
) -> None:
    target = await targets.comment_target(platform)
    request = body(platform, target, "我们会尽快答复。", ops=False)
    status, problem, _ = await submit(gw, request)
    assert status == 403, problem
    assert problem["missing_roles"] == ["unit_head"], problem
    assert problem["content_sha256"] == (await assess(gw, request))["content_sha256"]
    assert await items(gw, platform) == []
    token = await approve(gw, request, "unit_head")
    status, job, _ = await submit(gw, {**request, "approvals": [token]})
    assert status in (201, 202), job
    assert (await wait_final(gw, job["id"]))["state"] == "published"
    assert len(await items(gw, platform)) == 1
    # the token is spent: the same interaction again with it is a replay
    status, problem, _ = await submit(gw, {**request, "approvals": [token]})
    assert status == 409 and problem["jti"], problem
    assert len(await items(gw, platform)) == 1


async def test_a_token_binds_the_text_account_and_target(gw: Gateway, targets: Targets) -> None:
    post = await targets.post("weibo")
    request = body("weibo", {"post": post}, "原文。", ops=False)
    token = await approve(gw, request, "unit_head")
    for changed in (
        {**request, "text": "改过的文字。"},
        {**request, "target": {"post": await targets.post("weibo")}},
    ):
        status, problem, _ = await submit(gw, {**changed, "approvals": [token]})
        assert status == 403, problem
        assert [e["code"] for e in problem["token_errors"]] == ["hash_mismatch"], problem
    assert await items(gw, "weibo") == []


async def test_review_findings_ask_for_their_roles(gw: Gateway, targets: Targets) -> None:
    """An operator's comment needs nobody, unless screening asks for review (Art. 14)."""
    post = await targets.post("weibo")
    request = body(
        "weibo", {"post": post}, "华东分公司前三季度营收同比增长23%，净利润达到5.2亿元。"
    )
    assessed = await assess(gw, request)
    assert assessed["decision"] == "review"
    assert set(assessed["required_roles"]) == {"leader", "brand_pr"}, assessed
    status, problem, _ = await submit(gw, request)
    assert status == 403 and set(problem["missing_roles"]) == {"leader", "brand_pr"}
    status, job, _ = await submit(gw, {**request, "approvals": await tokens_for(gw, request)})
    assert status in (201, 202), job
    assert (await wait_final(gw, job["id"]))["state"] == "published"


async def test_repost_needs_the_unit_head_even_for_an_operator(
    gw: Gateway, targets: Targets
) -> None:
    post = await targets.post("weibo")
    request = {
        "account": OPS["weibo"],
        "kind": "repost",
        "target": {"post": post},
        "text": "转发：新品发布。",
    }
    assert (await assess(gw, request))["required_roles"] == ["unit_head"]
    status, problem, _ = await submit(gw, request)
    assert status == 403 and problem["missing_roles"] == ["unit_head"], problem
    status, job, _ = await submit(gw, {**request, "approvals": await tokens_for(gw, request)})
    assert status in (201, 202), job
    assert (await wait_final(gw, job["id"]))["state"] == "published"
    reposts = (await control(gw.emus.weibo, "/_emulator/comments"))["reposts"]
    assert len(reposts) == 1 and reposts[0]["text"] == "转发：新品发布。", reposts


async def test_a_repost_through_the_gate_is_no_bypass_alert(gw: Gateway, targets: Targets) -> None:
    """A repost is a new status on the account's timeline; the reconciler knows it is ours."""
    post = await targets.post("weibo")
    request = {
        "account": EAST["weibo"],
        "kind": "repost",
        "target": {"post": post},
        "text": "转发【新品】：详见 https://example.com/a 。",
    }
    status, job, _ = await submit(gw, {**request, "approvals": await tokens_for(gw, request)})
    assert status in (201, 202), job
    assert (await wait_final(gw, job["id"]))["state"] == "published"
    status, report = await gw.api.call(
        "POST", f"/v1/accounts/{EAST['weibo']}/reconcile", "brand_pr", {}
    )
    assert status == 200 and report["listed"], report
    assert report["items_seen"] == 2 and report["alerts"] == [], report


async def test_weibo_reply_to_a_reader(gw: Gateway, targets: Targets) -> None:
    post = await targets.post("weibo")
    status_id = (await gw.api.job(post))["platform_id"]
    reader = await targets.weibo_reader_comment(status_id)
    request = {
        "account": OPS["weibo"],
        "kind": "reply",
        "target": {"platform_id": status_id, "comment_id": reader},
        "text": "谢谢支持！",
    }
    status, job, _ = await submit(gw, request)
    assert status in (201, 202), job
    assert (await wait_final(gw, job["id"]))["state"] == "published", job
    comments = (await control(gw.emus.weibo, "/_emulator/comments"))["comments"]
    ours = [c for c in comments if c.get("reply_comment")]
    assert len(ours) == 1 and ours[0]["text"] == "谢谢支持！"  # without_mention: exactly ours
    assert ours[0]["reply_comment"]["idstr"] == reader


@pytest.mark.parametrize("switch", ["comments_close", "comments_open"])
async def test_wechat_comment_switches(gw: Gateway, targets: Targets, switch: str) -> None:
    msg, _ = await targets.wechat_article(comments_open=switch == "comments_close")
    request = {"account": OPS["wechat"], "kind": switch, "target": {"msg_data_id": msg}}
    needed = (await assess(gw, request))["required_roles"]
    assert needed == ([] if switch == "comments_close" else ["unit_head"])
    status, job, _ = await submit(gw, {**request, "approvals": await tokens_for(gw, request)})
    assert status in (201, 202), job
    assert (await wait_final(gw, job["id"]))["state"] == "published", job
    messages = await control(gw.emus.wechat, "/_emulator/comments")
    article = next(m for m in messages if str(m["msg_data_id"]) == msg)["articles"][0]
    assert article["open"] is (switch == "comments_open")


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_blocked_text_is_refused_audited_and_never_sent(
    gw: Gateway, targets: Targets, platform: str
) -> None:
    request = body(platform, await targets.comment_target(platform), SECRET)
    status, problem, _ = await submit(gw, request)
    assert status == 422 and problem["type"].endswith("content-blocked"), problem
    assert any(f["action"] == "block" for f in problem["findings"])
    assert (f"interaction.{TEXT_KIND[platform]}", "refused") in await audit_actions(gw)
    status, problem, _ = await call(
        gw, "POST", "/v1/interactions/approvals", "unit_head", {**request, "decision": "approve"}
    )
    assert status == 422, problem  # blocked text cannot be approved either
    assert await items(gw, platform) == []


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_idempotency_key(gw: Gateway, targets: Targets, platform: str) -> None:
    request = body(platform, await targets.comment_target(platform), "同一条评论只发一次。")
    first = await submit(gw, request, key=f"ix-{platform}-1")
    assert first[0] in (201, 202), first[1]
    again = await submit(gw, request, key=f"ix-{platform}-1")
    assert again[0] == first[0] and again[1] == first[1]
    assert again[2].get("Idempotent-Replayed") == "true"
    await wait_final(gw, first[1]["id"])
    assert len(await items(gw, platform)) == 1
    status, problem, _ = await submit(gw, {**request, "text": "另一条。"}, key=f"ix-{platform}-1")
    assert status == 422 and problem["errors"][0]["field"] == "Idempotency-Key", problem
    assert len(await items(gw, platform)) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_5xx_is_retried_and_delivered_once(
    gw: Gateway, targets: Targets, platform: str
) -> None:
    request = body(platform, await targets.comment_target(platform), "服务器忙也只发一次。")
    base = getattr(gw.emus, platform)
    await control(
        base, "/_emulator/faults", {"path": ENDPOINT[platform], "status": 503, "times": 2}
    )
    status, job, _ = await submit(gw, request)
    assert status in (201, 202), job
    final = await wait_final(gw, job["id"])
    assert final["state"] == "published", final
    notes = [h.get("note", "") for h in final["history"]]
    # Weibo and WeChat answer a 5xx without their error envelope "nothing happened": retried.
    # A bare 5xx in front of WordPress may come from a proxy while PHP still inserts: it is
    # reconciled through the listing first, then created (the site refuses a duplicate).
    assert any(n.startswith(("retry later", "unconfirmed")) for n in notes), notes
    assert len(await items(gw, platform)) == 1


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_lost_answer_is_reconciled_never_repeated(
    gw: Gateway, targets: Targets, platform: str
) -> None:
    """The platform applies the call and the connection drops: exactly one comment exists."""
    request = body(platform, await targets.comment_target(platform), "应答丢失也只有一条。")
    base = getattr(gw.emus, platform)
    await control(
        base,
        "/_emulator/faults",
        {"path": ENDPOINT[platform], "drop_after_apply": True, "times": 1},
    )
    status, job, _ = await submit(gw, request)
    assert status in (201, 202), job
    final = await wait_final(gw, job["id"])
    assert final["state"] == "published", final
    assert len(await items(gw, platform)) == 1
    notes = " ".join(h.get("note", "") for h in final["history"])
    assert final["platform_id"], final
    assert "published" in notes
    # no credential in the job, its history or the audit records (Art. 20)
    records = [r async for _, r in gw.app[SERVICES].audit.records()]
    seen = json.dumps([final, records], ensure_ascii=False)
    for secret in (WEIBO_TOKEN, WP_PASSWORD, *WX_APPS.values()):
        assert secret not in seen


async def test_comments_closed_is_a_permanent_failure(gw: Gateway, targets: Targets) -> None:
    post = await targets.post("wordpress")
    wp_id = (await gw.api.job(post))["platform_id"]
    await control(
        gw.emus.wordpress, "/_emulator/comments/status", {"post": wp_id, "status": "closed"}
    )
    status, job, _ = await submit(gw, body("wordpress", {"post": post}, "评论已关闭。"))
    assert status in (201, 202), job  # the gate approves; the platform refuses
    final = await wait_final(gw, job["id"])
    assert final["state"] == "failed" and "rest_comment_closed" in final["reason"], final
    assert ("interaction.failed", "failed") in await audit_actions(gw)
