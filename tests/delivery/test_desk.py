"""The review desk with the real delivery worker and the platform emulators: a submission's
outcome (published with its URL, or failed with the platform's reason) comes back to it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.delivery.conftest import Gateway, control, make_post


async def _wait(gw: Gateway, sub_id: str, states: set[str], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        status, sub = await gw.api.call("GET", f"/v1/submissions/{sub_id}", "editor")
        assert status == 200, sub
        if sub["state"] in states:
            return sub
        assert time.monotonic() < deadline, f"{sub_id} still {sub['state']}: {sub['history']}"
        await asyncio.sleep(0.1)


async def _submit_and_approve(gw: Gateway, account: str, post: dict[str, Any]) -> Any:
    status, sub = await gw.api.call(
        "POST", "/v1/submissions", "editor", {"account": account, "post": post}
    )
    assert status == 201, sub
    roles = [r["role"] for r in sub["required_approvals"]]
    for role in roles:
        status, sub = await gw.api.call(
            "POST", f"/v1/submissions/{sub['id']}/decisions", role, {"decision": "approve"}
        )
        assert status == 200, sub
    return sub


async def test_an_asynchronous_wechat_publish_comes_back_to_the_submission(
    gateway: Gateway,
) -> None:
    sub = await _submit_and_approve(gateway, "east-wechat", make_post("desk-wx"))
    assert sub["state"] == "publishing"
    done = await _wait(gateway, sub["id"], {"published", "failed", "unconfirmed"})
    assert done["state"] == "published", done["history"]
    (job,) = done["jobs"]
    assert job["url"].startswith("https://mp.weixin.qq.com/") and job["platform_id"]
    items = await control(gateway.emus.wechat, "/_emulator/items")
    assert len([i for i in items if "desk-wx" in str(i)]) == 1
    assert [h["state"] for h in done["history"]][-2:] == ["publishing", "published"]


async def test_a_platform_refusal_comes_back_as_failed_with_its_reason(gateway: Gateway) -> None:
    await control(gateway.emus.webhook, "/_emulator/revoke", {})
    sub = await _submit_and_approve(gateway, "east-hook", make_post("desk-hook", images=0))
    done = await _wait(gateway, sub["id"], {"published", "failed", "unconfirmed"})
    assert done["state"] == "failed", done["history"]
    assert done["jobs"][0]["state"] == "needs_reauth"
    assert done["jobs"][0]["reason"]
