"""Failed and unconfirmed jobs are listed, and Brand-PR retries or resolves them, audited."""

from __future__ import annotations

from typing import Any

from gateway.audit import AuditLog
from gateway.keys import Keys
from tests.delivery.conftest import Gateway, control, make_post


async def _audit(gw: Gateway, target: str) -> list[dict[str, Any]]:
    return [r async for _id, r in AuditLog(gw.redis, Keys()).records() if r["target"] == target]


async def test_platform_refusal_fails_then_brand_pr_retries_after_the_fix(gateway: Gateway) -> None:
    gw = gateway
    # the CMS refuses the item once (e.g. a field its schema does not accept)
    await control(gw.emus.webhook, "/_emulator/faults", {"path": "/posts", "status": 400,
                                                          "times": 1})  # fmt: skip
    job = await gw.api.publish("east-hook", make_post(11))
    failed = await gw.api.wait_final(job["id"])
    assert failed["state"] == "failed" and "CMS refused" in failed["reason"], failed
    assert [p["id"] for p in await gw.api.listing("failed")] == [job["id"]]
    assert await control(gw.emus.webhook, "/_emulator/items") == []

    body = {"resolution": "retry", "reason": "CMS schema fixed"}
    status, problem = await gw.api.call("POST", f"/v1/posts/{job['id']}/resolve", "editor", body)
    assert status == 403, problem
    status, retried = await gw.api.call("POST", f"/v1/posts/{job['id']}/resolve", "brand_pr", body)
    assert status == 200 and retried["state"] == "approved", retried
    done = await gw.api.wait_final(job["id"])
    assert done["state"] == "published" and done["platform_id"], done
    assert await gw.api.listing("failed") == []
    items = await control(gw.emus.webhook, "/_emulator/items")
    assert len(items) == 1 and items[0]["id"] == done["platform_id"]

    status, again = await gw.api.call("POST", f"/v1/posts/{job['id']}/resolve", "brand_pr", body)
    assert status == 409, again  # only failed / unconfirmed / needs_reauth posts are resolved

    records = await _audit(gw, job["id"])
    actions = [r["action"] for r in records]
    assert actions == ["delivery.failed", "post.resolve.retry", "delivery.published"], actions
    resolve = records[1]
    assert resolve["actor"]["role"] == "brand_pr" and resolve["reasons"] == ["CMS schema fixed"]


async def test_unconfirmed_share_is_listed_and_resolved_by_hand(gateway: Gateway) -> None:
    """Weibo applied the share but the answer was lost and the timeline does not show it:
    the job ends ``unconfirmed`` with its reason -- never shared twice -- and Brand-PR, having
    looked at the account, records it as published."""
    gw = gateway
    await control(gw.emus.weibo, "/_emulator/timeline", {"hidden": True})
    fault = {"path": "/2/statuses/share.json", "drop_after_apply": True, "times": 1}
    await control(gw.emus.weibo, "/_emulator/faults", fault)
    job = await gw.api.publish("east-weibo", make_post(12))
    final = await gw.api.wait_final(job["id"], timeout_s=60)
    assert final["state"] == "unconfirmed" and final["reason"], final
    assert [p["id"] for p in await gw.api.listing("unconfirmed")] == [job["id"]]
    statuses = await control(gw.emus.weibo, "/_emulator/items")
    assert len(statuses) == 1  # the repeat was refused by Weibo, never shared twice

    body = {
        "resolution": "published",
        "reason": "seen on the account's page",
        "platform_id": str(statuses[0]["id"]),
        "url": "https://weibo.com/1404376560/" + str(statuses[0]["id"]),
    }
    status, resolved = await gw.api.call("POST", f"/v1/posts/{job['id']}/resolve", "brand_pr", body)
    assert status == 200, resolved
    assert resolved["state"] == "published"
    assert resolved["platform_id"] == str(statuses[0]["id"])
    actions = [r["action"] for r in await _audit(gw, job["id"])]
    assert actions == ["delivery.unconfirmed", "post.resolve.published"], actions
