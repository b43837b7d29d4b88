"""The Weibo surface of the proxy with a plain HTTP client, as a Weibo tool calls it: share →
the desk → published on the Weibo emulator; blocked text; bad and expired tokens; another
account; destroy through the gate; the per-client rate limit."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import aiohttp
import redis.asyncio as aredis

from gateway.appkeys import SERVICES
from gateway.keys import Keys
from gateway.runtime import Runtime
from tests.delivery.conftest import Emulators, start_gateway
from tests.gateway.proxy.conftest import (
    JPEG,
    PLAIN,
    Proxy,
    control,
    principal_id,
    proxy_settings,
)

SECRET_TEXT = "本文件属于绝密级别，请勿外传。"


async def weibo_client(
    proxy: Proxy, who: str = "editor", accounts: tuple[str, ...] = ("east-weibo",)
) -> dict[str, Any]:
    body = {"name": "weibo tool", "principal": principal_id(proxy.gw.api.keys[who]),
            "accounts": list(accounts), "kind": "weibo"}  # fmt: skip
    status, data = await proxy.gw.api.call("POST", "/admin/proxy/clients", "admin", body)
    assert status == 201, data
    assert data["access_token"].startswith("2.00") and "secret" not in data
    return data


async def wb(
    proxy: Proxy, method: str, api: str, token: str = "", *, fields: dict[str, str] | None = None,
    pic: bytes | None = None, header: bool = False, status: int = 200,
) -> dict[str, Any]:  # fmt: skip
    url = proxy.gw.api.base_url + "/proxy/weibo/2/" + api
    fields = dict(fields or {})
    headers = {"Authorization": f"OAuth2 {token}"} if header and token else {}
    if token and not header:
        fields["access_token"] = token
    kw: dict[str, Any]
    if method == "GET":
        kw = {"params": fields}
    else:
        form = aiohttp.FormData()
        for k, v in fields.items():
            form.add_field(k, v)
        if pic is not None:
            form.add_field("pic", pic, filename="p.jpg", content_type="image/jpeg")
        kw = {"data": form}
    async with proxy.session.request(method, url, headers=headers, **kw) as r:
        body: dict[str, Any] = await r.json(content_type=None)
        assert r.status == status, body
        return body


async def approve(proxy: Proxy, submission: str) -> None:
    """Every approver whose inbox holds the submission approves it, until none does."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = False
        for who in ("unit_head", "brand_pr", "leader"):
            status, data = await proxy.gw.api.call("GET", "/v1/inbox", who)
            assert status == 200, data
            if any(i["id"] == submission for i in data["items"]):
                found = True
                path = f"/v1/submissions/{submission}/decisions"
                s, d = await proxy.gw.api.call("POST", path, who, {"decision": "approve"})
                assert s == 200, d
        if not found:
            return
    raise AssertionError("still in inboxes")


async def wait_state(proxy: Proxy, token: str, handle: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        got = await wb(proxy, "GET", "statuses/show.json", token, fields={"id": handle})
        if got["mediagate"]["state"] == wanted or time.monotonic() > deadline:
            assert got["mediagate"]["state"] == wanted, got
            return got
        await asyncio.sleep(0.2)


async def test_share_lands_on_the_desk_then_publishes_one_status(proxy: Proxy) -> None:
    tool = await weibo_client(proxy)
    token = tool["access_token"]
    text = "华东分公司举办员工运动会，大家热情高涨。"
    shared = await wb(proxy, "POST", "statuses/share.json", token,
                      fields={"status": text}, pic=JPEG, header=True)  # fmt: skip
    assert shared["idstr"] == str(shared["id"]) == shared["mid"] and shared["text"] == text
    assert shared["mediagate"]["state"] == "awaiting_approval"
    assert shared["mediagate"]["published"] is False
    assert await control(proxy.gw.emus.weibo, "/_emulator/items") == []  # nothing on Weibo yet
    sub = shared["mediagate"]["submission"]
    status, inbox = await proxy.gw.api.call("GET", "/v1/inbox", "unit_head")
    assert status == 200 and any(i["id"] == sub for i in inbox["items"])
    await approve(proxy, sub)
    done = await wait_state(proxy, token, shared["idstr"], "published")
    [item] = await control(proxy.gw.emus.weibo, "/_emulator/items")
    assert str(item["id"]) == done["mediagate"]["weibo_id"]
    assert text in item["text"] and item.get("original_pic")
    assert done["id"] == shared["id"]  # the handle stays the tool's id for the status


async def _expire(proxy: Proxy, token: str) -> None:
    keys = Keys(proxy.gw.app[SERVICES].settings.store.key_prefix)
    key = keys.proxy_token(hashlib.sha256(token.encode()).hexdigest())
    record = json.loads(await proxy.gw.redis.get(key))
    record["expires_at"] = time.time() - 1
    await proxy.gw.redis.set(key, json.dumps(record), ex=600)


async def test_refusals_in_weibos_envelope(proxy: Proxy) -> None:
    tool = await weibo_client(proxy)
    token = tool["access_token"]
    wechat_tool = await proxy.create_client()
    wx_token = (await proxy.token(wechat_tool))["access_token"]
    share = "statuses/share.json"
    cases: list[tuple[str, str, dict[str, str], bytes | None, int, int]] = [
        ("no token", "", {"status": PLAIN}, None, 21332, 401),
        ("unknown token", "2.00" + "0" * 40, {"status": PLAIN}, None, 21332, 401),
        ("a WeChat client's token", wx_token, {"status": PLAIN}, None, 21332, 401),
        ("another account", token, {"status": PLAIN, "account": "east-wechat"}, None, 10014, 403),
        ("empty text", token, {"status": "  "}, None, 20008, 400),
        ("too long", token, {"status": "长" * 141}, None, 20012, 400),
        ("not a picture", token, {"status": PLAIN}, b"GIF00" + b"x" * 20, 20005, 400),
        ("blocked", token, {"status": SECRET_TEXT}, None, 20021, 400),
    ]
    for name, use, fields, pic, code, http in cases:
        got = await wb(proxy, "POST", share, use, fields=fields, pic=pic, status=http)
        assert got["error_code"] == code, (name, got)
        assert set(got) == {"error", "error_code", "request"}, (name, got)
        assert got["request"] == "/2/statuses/share.json"
    # a Weibo token opens nothing on the WeChat surface; a Weibo client serves Weibo accounts only
    assert (await proxy.call("draft/count", token))["errcode"] == 40001
    body = {"name": "t", "principal": principal_id(proxy.gw.api.keys["editor"]),
            "accounts": ["east-wechat"], "kind": "weibo"}  # fmt: skip
    status, data = await proxy.gw.api.call("POST", "/admin/proxy/clients", "admin", body)
    assert status == 422 and "accounts[0]" in json.dumps(data), data
    blocked = await wb(proxy, "POST", share, token, fields={"status": SECRET_TEXT}, status=400)
    assert "绝密" in blocked["error"] and "不得发布" in blocked["error"]
    outside = await wb(proxy, "POST", "statuses/repost.json", token, status=403)
    assert outside["error_code"] == 10014
    unknown = await wb(proxy, "GET", "statuses/show.json", token, fields={"id": "2247483649"},
                       status=400)  # fmt: skip
    assert unknown["error_code"] == 20101

    await _expire(proxy, token)
    expired = await wb(proxy, "POST", share, token, fields={"status": PLAIN}, status=401)
    assert expired["error_code"] == 21327

    status, _ = await proxy.gw.api.call("DELETE", f"/admin/proxy/clients/{tool['appid']}", "admin")
    assert status == 200
    assert await control(proxy.gw.emus.weibo, "/_emulator/items") == []
    counters = await control(proxy.gw.emus.weibo, "/_emulator/counters")
    assert not counters.get("share") and not counters.get("created"), counters
    records = [r async for _, r in proxy.gw.app[SERVICES].audit.records()]
    refused = [r for r in records if r["action"] == "proxy.status.refused"]
    assert refused and refused[0]["details"]["proxy_client"] == tool["appid"]
    assert all(token not in json.dumps(r, ensure_ascii=False) for r in records)


async def test_destroy_goes_through_the_gate(proxy: Proxy) -> None:
    editor = (await weibo_client(proxy))["access_token"]
    pending = await wb(proxy, "POST", "statuses/share.json", editor,
                       fields={"status": "华东分公司开放日报名开始。"})  # fmt: skip
    withdrawn = await wb(proxy, "POST", "statuses/destroy.json", editor,
                         fields={"id": pending["idstr"]})  # fmt: skip
    assert withdrawn["mediagate"]["state"] == "withdrawn"

    shared = await wb(proxy, "POST", "statuses/share.json", editor, fields={"status": PLAIN})
    await approve(proxy, shared["mediagate"]["submission"])
    await wait_state(proxy, editor, shared["idstr"], "published")
    refused = await wb(proxy, "POST", "statuses/destroy.json", editor,
                       fields={"id": shared["idstr"]}, status=403)  # fmt: skip
    assert refused["error_code"] == 10014 and "第十九条" in refused["error"]
    [item] = await control(proxy.gw.emus.weibo, "/_emulator/items")
    assert not item.get("deleted")

    # another client does not see this client's statuses
    other = (await weibo_client(proxy))["access_token"]
    hidden = await wb(proxy, "POST", "statuses/destroy.json", other,
                      fields={"id": shared["idstr"]}, status=400)  # fmt: skip
    assert hidden["error_code"] == 20101

    # Brand-PR's tool deletes its published status: a delete job through the gate
    pr = (await weibo_client(proxy, "brand_pr"))["access_token"]
    pr_shared = await wb(proxy, "POST", "statuses/share.json", pr,
                         fields={"status": "品牌部发布：华东分公司开放日。"})  # fmt: skip
    await approve(proxy, pr_shared["mediagate"]["submission"])
    pr_done = await wait_state(proxy, pr, pr_shared["idstr"], "published")
    deleting = await wb(proxy, "POST", "statuses/destroy.json", pr,
                        fields={"id": pr_shared["idstr"]})  # fmt: skip
    assert deleting["mediagate"]["state"] == "deleting"
    await wait_state(proxy, pr, pr_shared["idstr"], "deleted")
    items = {str(i["id"]): i for i in await control(proxy.gw.emus.weibo, "/_emulator/items")}
    assert items[pr_done["mediagate"]["weibo_id"]]["deleted"]
    assert not items[str(item["id"])]["deleted"]


async def test_calls_per_minute_per_weibo_client(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,
    emulators: Emulators,
    session: aiohttp.ClientSession,
) -> None:
    settings = proxy_settings(emulators, calls_per_minute=2)
    proxy = Proxy(await start_gateway(aiohttp_server, redis, runtime, emulators, session,
                                      settings))  # fmt: skip
    busy, calm = await weibo_client(proxy), await weibo_client(proxy)
    if time.time() % 60 > 55:  # the budget is per clock minute: stay inside one
        await asyncio.sleep(6)
    for i in range(2):
        ok = await wb(proxy, "POST", "statuses/share.json", busy["access_token"],
                      fields={"status": f"华东分公司第{i + 1}场讲座。"})  # fmt: skip
        assert ok["mediagate"]["state"] == "awaiting_approval"
    limited = await wb(proxy, "POST", "statuses/share.json", busy["access_token"],
                       fields={"status": PLAIN}, status=403)  # fmt: skip
    assert limited["error_code"] == 10024
    other = await wb(proxy, "POST", "statuses/share.json", calm["access_token"],
                     fields={"status": PLAIN})  # fmt: skip
    assert other["mediagate"]["state"] == "awaiting_approval"
