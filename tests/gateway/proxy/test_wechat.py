"""The WeChat surface of the proxy with a plain HTTP client, as a tool with a configurable API
host calls it: tokens, the documented refusals in WeChat's envelope, rejection on the desk,
rate limits, and 20 tools publishing at once."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis

from gateway.appkeys import SERVICES
from gateway.keys import Keys
from gateway.runtime import Runtime
from tests.delivery.conftest import Emulators, start_gateway
from tests.gateway.proxy.conftest import (
    JPEG,
    Proxy,
    control,
    principal_id,
    proxy_settings,
)

SECRET_TEXT = "本文件属于绝密级别，请勿外传。"


async def test_plain_http_client_stable_token_draft_submit_and_publish(proxy: Proxy) -> None:
    tool = await proxy.create_client()
    body = {"grant_type": "client_credential", "appid": tool.appid, "secret": tool.secret}
    first = await proxy.call("stable_token", "", body)
    again = await proxy.call("stable_token", "", body)
    assert first["expires_in"] > 7000 and again["access_token"] == first["access_token"]
    forced = await proxy.call("stable_token", "", {**body, "force_refresh": True})
    assert forced["access_token"] != first["access_token"]
    stale = await proxy.call("draft/count", first["access_token"])
    assert stale["errcode"] == 40001  # force_refresh ends the previous token at once
    token = forced["access_token"]

    draft = await proxy.draft(token, "代理发布：纯HTTP")
    submitted = await proxy.call("freepublish/submit", token, {"media_id": draft["media_id"]})
    assert submitted["errcode"] == 0 and submitted["publish_id"] > 2**31
    again_submit = await proxy.call("freepublish/submit", token, {"media_id": draft["media_id"]})
    assert again_submit["errcode"] == 40007  # one submission per draft
    racing = await proxy.draft(token, "代理发布：并发提交")
    both = await asyncio.gather(
        *(proxy.call("freepublish/submit", token, {"media_id": racing["media_id"]}) for _ in "ab")
    )
    assert sorted(b["errcode"] for b in both) == [0, 40007]  # one submission, even at once
    await proxy.wait_status(token, submitted["publish_id"], 1)
    await proxy.approve_all("代理发布：纯HTTP")
    done = await proxy.wait_status(token, submitted["publish_id"], 0)
    [article] = await control(proxy.gw.emus.wechat, "/_emulator/items")
    assert done["article_id"] == article["article_id"]


async def test_rejected_on_the_desk_reports_failure_with_the_reason(proxy: Proxy) -> None:
    tool = await proxy.create_client()
    token = (await proxy.token(tool))["access_token"]
    draft = await proxy.draft(token, "代理发布：将被驳回")
    submitted = await proxy.call("freepublish/submit", token, {"media_id": draft["media_id"]})
    item = await proxy.inbox_item("unit_head", "代理发布：将被驳回")
    assert item is not None
    path = f"/v1/submissions/{item['id']}/decisions"
    body = {"decision": "reject", "reason": "数据口径需核实"}
    status, data = await proxy.gw.api.call("POST", path, "unit_head", body)
    assert status == 200, data
    got = await proxy.wait_status(token, submitted["publish_id"], 4)
    assert "数据口径需核实" in got["fail_reason"] and got["fail_idx"] == [1]
    assert await control(proxy.gw.emus.wechat, "/_emulator/items") == []


async def test_draft_update_before_approval_makes_a_new_version(proxy: Proxy) -> None:
    tool = await proxy.create_client()
    token = (await proxy.token(tool))["access_token"]
    draft = await proxy.draft(token, "代理发布：初稿")
    submitted = await proxy.call("freepublish/submit", token, {"media_id": draft["media_id"]})
    fetched = await proxy.call("draft/get", token, {"media_id": draft["media_id"]})
    article = {**fetched["news_item"][0], "title": "代理发布：修改稿"}
    updated = await proxy.call(
        "draft/update", token, {"media_id": draft["media_id"], "index": 0, "articles": article}
    )
    assert updated["errcode"] == 0
    assert await proxy.inbox_item("unit_head", "代理发布：初稿") is None  # superseded
    assert await proxy.inbox_item("unit_head", "代理发布：修改稿") is not None
    await proxy.approve_all("代理发布：修改稿")
    await proxy.wait_status(token, submitted["publish_id"], 0)
    [published] = await control(proxy.gw.emus.wechat, "/_emulator/items")
    assert published["articles"][0]["title"] == "代理发布：修改稿"


async def _expire(proxy: Proxy, token: str) -> None:
    keys = Keys(proxy.gw.app[SERVICES].settings.store.key_prefix)
    key = keys.proxy_token(hashlib.sha256(token.encode()).hexdigest())
    record = json.loads(await proxy.gw.redis.get(key))
    record["expires_at"] = time.time() - 1
    await proxy.gw.redis.set(key, json.dumps(record), ex=600)


async def test_documented_refusals_in_wechats_envelope(proxy: Proxy) -> None:
    tool = await proxy.create_client()
    wrong = await proxy.token(tool, secret="0" * 32)
    assert wrong["errcode"] == 40125 and "invalid appsecret" in wrong["errmsg"]
    unknown = await proxy.token(type(tool)("wxp0000000000000000", tool.secret))
    assert unknown["errcode"] == 40013
    token = (await proxy.token(tool))["access_token"]

    cases: list[tuple[str, str, Any, dict[str, str], int]] = [
        ("no token", "draft/count", {}, {}, 41001),
        ("unknown token", "draft/count", {}, {"access_token": "x" * 40}, 40001),
        ("outside the subset", "message/custom/send", {"touser": "o"}, {}, 48001),
        ("outside, one segment", "getcallbackip", {}, {}, 48001),
        ("another account", "draft/count", {}, {"account": "west-wechat"}, 48001),
        ("unknown draft", "freepublish/submit", {"media_id": "mgd_nope"}, {}, 40007),
        ("unknown publish", "freepublish/get", {"publish_id": "2247483649"}, {}, 40007),
        ("bad page", "draft/batchget", {"offset": 0, "count": 99}, {}, 40097),
    ]
    for name, api, body, query, errcode in cases:
        use = "" if name == "no token" else token
        got = await proxy.call(api, query.pop("access_token", use), body, query=query)
        assert got["errcode"] == errcode, (name, got)
        assert set(got) == {"errcode", "errmsg"}, (name, got)
    voice = await proxy.upload("material/add_material", token, JPEG, type="voice")
    assert voice["errcode"] == 48001

    # a blocked draft names the finding, in Chinese; nothing is kept or passed on
    blocked = await proxy.draft(token, "代理发布：涉密", text=SECRET_TEXT)
    assert blocked["errcode"] == 87014
    assert "绝密" in blocked["errmsg"] and "不得发布" in blocked["errmsg"]
    assert (await proxy.call("draft/count", token))["total_count"] == 0

    # an expired gateway token: 42001 (SDKs then fetch a new one)
    await _expire(proxy, token)
    expired = await proxy.call("draft/count", token)
    assert expired["errcode"] == 42001

    # a revoked client's tokens stop working
    fresh = (await proxy.token(tool))["access_token"]
    status, _ = await proxy.gw.api.call("DELETE", f"/admin/proxy/clients/{tool.appid}", "admin")
    assert status == 200
    assert (await proxy.call("draft/count", fresh))["errcode"] == 40001
    assert (await proxy.token(tool))["errcode"] == 40013

    counters = await control(proxy.gw.emus.wechat, "/_emulator/counters")
    assert not counters["calls"].get("draft/add") and not counters["calls"].get("message")

    records = [r async for _, r in proxy.gw.app[SERVICES].audit.records()]
    refused = [r for r in records if r["action"] == "proxy.draft.refused"]
    assert refused and refused[0]["details"]["proxy_client"] == tool.appid
    assert all(tool.secret not in json.dumps(r, ensure_ascii=False) for r in records)


async def test_admin_creates_clients_only_for_accounts_the_principal_publishes_to(
    proxy: Proxy,
) -> None:
    api = proxy.gw.api
    editor = principal_id(api.keys["editor"])
    status, data = await api.call("POST", "/v1/accounts", "admin", {
        "id": "west-wechat", "platform": "wechat", "name": "西区", "unit": "sub_west",
        "settings": {}})  # fmt: skip
    assert status == 201, data
    body = {"name": "t", "principal": editor, "accounts": ["west-wechat"]}
    status, data = await api.call("POST", "/admin/proxy/clients", "admin", body)
    assert status == 403 and data["reason"] == "wrong_unit"
    body = {
        "name": "t",
        "principal": principal_id(api.keys["auditor"]),
        "accounts": ["east-wechat"],
    }
    status, data = await api.call("POST", "/admin/proxy/clients", "admin", body)
    assert status == 403 and data["reason"] == "wrong_role"
    body = {"name": "t", "principal": editor, "accounts": ["nope"]}
    status, data = await api.call("POST", "/admin/proxy/clients", "admin", body)
    assert status == 404
    status, data = await api.call("POST", "/admin/proxy/clients", "editor", body)
    assert status == 403
    tool = await proxy.create_client()
    status, data = await api.call("GET", "/admin/proxy/clients", "auditor")
    assert status == 200 and [c["appid"] for c in data["items"]] == [tool.appid]
    assert tool.secret not in json.dumps(data)


async def test_calls_per_minute_per_proxy_client(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,
    emulators: Emulators,
    session: aiohttp.ClientSession,
) -> None:
    settings = proxy_settings(emulators, calls_per_minute=4)
    proxy = Proxy(await start_gateway(aiohttp_server, redis, runtime, emulators, session,
                                      settings))  # fmt: skip
    busy, calm = await proxy.create_client(name="busy"), await proxy.create_client(name="calm")
    if time.time() % 60 > 55:  # the budget is per clock minute: stay inside one
        await asyncio.sleep(6)
    token = (await proxy.token(busy))["access_token"]  # call 1
    codes = [(await proxy.call("draft/count", token)).get("errcode", 0) for _ in range(4)]
    assert codes == [0, 0, 0, 45011]
    other = (await proxy.token(calm))["access_token"]
    assert (await proxy.call("draft/count", other)) == {"total_count": 0}  # per client


@pytest.mark.timeout(180)
async def test_twenty_concurrent_proxy_clients_give_one_article_each(proxy: Proxy) -> None:
    tools = await asyncio.gather(*(proxy.create_client(name=f"t{i}") for i in range(20)))
    tokens = [t["access_token"] for t in await asyncio.gather(*(proxy.token(t) for t in tools))]

    async def submit(i: int, token: str) -> int:
        draft = await proxy.draft(token, f"代理并发{i:02d}")
        assert draft.get("media_id"), draft
        got = await proxy.call("freepublish/submit", token, {"media_id": draft["media_id"]})
        assert got["errcode"] == 0, got
        publish_id: int = got["publish_id"]
        return publish_id

    publish_ids = await asyncio.gather(*(submit(i, t) for i, t in enumerate(tokens)))
    assert len(set(publish_ids)) == 20
    for i in range(20):
        await proxy.approve_all(f"代理并发{i:02d}")
    finals = await asyncio.gather(
        *(
            proxy.wait_status(t, p, 0, timeout_s=120)
            for t, p in zip(tokens, publish_ids, strict=True)
        )
    )
    items = await control(proxy.gw.emus.wechat, "/_emulator/items")
    titles = sorted(a["articles"][0]["title"] for a in items)
    assert titles == [f"代理并发{i:02d}" for i in range(20)]
    assert sorted(f["article_id"] for f in finals) == sorted(a["article_id"] for a in items)


async def test_deleting_a_published_article_goes_through_the_gate(proxy: Proxy) -> None:
    """Art. 19: an editor's tool may not delete what is published; Brand-PR's tool may, and the
    deletion reaches WeChat through the gate's delete job."""
    editor_tool = await proxy.create_client()
    token = (await proxy.token(editor_tool))["access_token"]
    draft = await proxy.draft(token, "代理发布：将被删除")
    submitted = await proxy.call("freepublish/submit", token, {"media_id": draft["media_id"]})
    await proxy.approve_all("代理发布：将被删除")
    done = await proxy.wait_status(token, submitted["publish_id"], 0)

    refused = await proxy.call("freepublish/delete", token, {"article_id": done["article_id"]})
    assert refused["errcode"] == 48001 and "第十九条" in refused["errmsg"]
    updated = await proxy.call("draft/update", token, {
        "media_id": draft["media_id"], "index": 0,
        "articles": (await proxy.call("draft/get", token, {"media_id": draft["media_id"]}))[
            "news_item"][0]})  # fmt: skip
    assert updated["errcode"] == 48001  # published: edits go through the desk
    [live] = await control(proxy.gw.emus.wechat, "/_emulator/items")
    assert not live["deleted"]

    # another client (even for the same principal) does not see this client's articles
    other = await proxy.create_client(name="other")
    other_token = (await proxy.token(other))["access_token"]
    hidden = await proxy.call("freepublish/get", other_token, {"publish_id": str(
        submitted["publish_id"])})  # fmt: skip
    assert hidden["errcode"] == 40007

    # Brand-PR's tool deletes it: a delete job through the gate, then publish_status 5
    pr_tool = await proxy.create_client("brand_pr", name="brand-pr tool")
    pr_token = (await proxy.token(pr_tool))["access_token"]
    pr_draft = await proxy.draft(pr_token, "品牌部代理发布")
    pr_sub = await proxy.call("freepublish/submit", pr_token, {"media_id": pr_draft["media_id"]})
    await proxy.approve_all("品牌部代理发布")
    pr_done = await proxy.wait_status(pr_token, pr_sub["publish_id"], 0)
    deleted = await proxy.call(
        "freepublish/delete", pr_token, {"article_id": pr_done["article_id"]}
    )
    assert deleted == {"errcode": 0, "errmsg": "ok"}
    await proxy.wait_status(pr_token, pr_sub["publish_id"], 5)
    items = {i["article_id"]: i for i in await control(proxy.gw.emus.wechat, "/_emulator/items")}
    assert items[pr_done["article_id"]]["deleted"] and not items[done["article_id"]]["deleted"]
