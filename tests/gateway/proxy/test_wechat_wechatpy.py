"""Unmodified wechatpy publishes through the proxy: only its API host and credentials change.

``WeChatClient(appid, secret, access_token=<token from the proxy's token call>)`` with its
``API_BASE_URL`` pointed at ``/proxy/wechat/cgi-bin/``: no transport adapter, no patch. wechatpy
is synchronous, so it runs in a worker thread while the gateway serves on the test's loop. The
draft lands on the review desk, approvers approve it there, the desk publishes it on the WeChat
emulator and ``freepublish/get`` through wechatpy follows each state.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from wechatpy import WeChatClient

from gateway.appkeys import SERVICES
from tests.gateway.proxy.conftest import JPEG, PLAIN, PNG, Proxy, control


def _wechatpy(proxy: Proxy, appid: str, secret: str, token: str) -> WeChatClient:
    client = WeChatClient(appid, secret, access_token=token, timeout=10)
    client.API_BASE_URL = proxy.base
    return client


def _draft_and_submit(client: WeChatClient, title: str) -> dict[str, Any]:
    cover = client.material.add("image", io.BytesIO(JPEG))
    url = client.media.upload_image(("in.png", io.BytesIO(PNG), "image/png"))
    article = {
        "title": title,
        "author": "华东宣传组",
        "content": f'<p>{PLAIN}</p><p><img src="{url}"></p>',
        "thumb_media_id": cover["media_id"],
    }
    draft = client.post("draft/add", data={"articles": [article]})
    fetched = client.post("draft/get", data={"media_id": draft["media_id"]})
    counted = client.post("draft/count", data={})
    submitted = client.post("freepublish/submit", data={"media_id": draft["media_id"]})
    first = client.post("freepublish/get", data={"publish_id": str(submitted["publish_id"])})
    return {"url": url, "draft": draft, "fetched": fetched, "counted": counted,
            "submitted": submitted, "first": first}  # fmt: skip


async def test_wechatpy_publishes_through_the_desk(proxy: Proxy) -> None:
    tool = await proxy.create_client()
    token = (await proxy.token(tool))["access_token"]
    client = _wechatpy(proxy, tool.appid, tool.secret, token)
    title = "代理发布：运动会"

    done = await asyncio.to_thread(_draft_and_submit, client, title)
    assert done["url"].startswith(proxy.gw.api.base_url + "/proxy/wechat/mmbiz/mgm_")
    [item] = done["fetched"]["news_item"]
    assert item["title"] == title and done["url"] in item["content"]
    assert done["counted"]["total_count"] == 1
    publish_id = done["submitted"]["publish_id"]
    assert isinstance(publish_id, int) and publish_id > 2**31
    assert done["first"]["publish_status"] == 1  # awaiting approval: "publishing"
    assert await control(proxy.gw.emus.wechat, "/_emulator/items") == []  # nothing published

    # the submission is in the approvers' inbox; approvals on the desk publish it
    waiting = await proxy.inbox_item("unit_head", title)
    assert waiting is not None and waiting["accounts"] == ["east-wechat"]
    assert await proxy.approve_all(title)

    def follow() -> list[dict[str, Any]]:
        seen = []
        for _ in range(150):
            got = client.post("freepublish/get", data={"publish_id": str(publish_id)})
            seen.append(got)
            if got["publish_status"] != 1:
                break
            import time

            time.sleep(0.2)
        return seen

    seen = await asyncio.to_thread(follow)
    final = seen[-1]
    assert final["publish_status"] == 0, seen
    [article] = await control(proxy.gw.emus.wechat, "/_emulator/items")
    assert final["article_id"] == article["article_id"]
    assert final["article_detail"]["item"][0]["article_url"] == article["url"]
    assert article["articles"][0]["title"] == title
    # the gateway's image went to WeChat through the connector (WeChat's own URL in the body)
    assert "mmbiz.qpic.cn" in article["articles"][0]["content"]
    assert "/proxy/wechat/" not in article["articles"][0]["content"]

    def read_back() -> tuple[dict[str, Any], dict[str, Any]]:
        listed = client.post("freepublish/batchget", data={"offset": 0, "count": 10})
        one = client.post("freepublish/getarticle", data={"article_id": final["article_id"]})
        return listed, one

    listed, one = await asyncio.to_thread(read_back)
    assert listed["total_count"] == 1 and listed["item"][0]["article_id"] == final["article_id"]
    assert one["news_item"][0]["url"] == article["url"]

    # the audit log names the proxy client and the principal it acts for
    records = [r async for _, r in proxy.gw.app[SERVICES].audit.records()]
    submit = next(r for r in records if r["action"] == "proxy.freepublish.submit")
    assert submit["details"]["proxy_client"] == tool.appid
    assert submit["details"]["principal"] == submit["actor"]["id"]
    created = next(r for r in records if r["action"] == "submission.create")
    assert tool.appid in created["actor"]["name"]
    assert all(tool.secret not in str(r) and token not in str(r) for r in records)
