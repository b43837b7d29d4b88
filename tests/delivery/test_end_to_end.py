"""Publishing through the gate to every emulator: text, in-article images and cover, read back.

Each test files an account, puts its credentials in the vault, gets approvals from the roles the
gate asks for, publishes with ``POST /v1/posts``, follows ``GET /v1/posts/{id}`` to ``published``
and then finds exactly that item -- and only one -- on the emulator.
"""

from __future__ import annotations

from typing import Any

from tests.delivery.conftest import Gateway, control, make_post


async def _publish(gw: Gateway, account: str, n: int) -> dict[str, Any]:
    post = make_post(n, images=2)
    job = await gw.api.publish(account, post)
    final = await gw.api.wait_final(job["id"])
    assert final["state"] == "published", final
    assert final["platform_id"] and final["url"], final
    assert [h["state"] for h in final["history"]][-1] == "published"
    return final


async def test_wechat_article_with_images_and_cover(gateway: Gateway) -> None:
    job = await _publish(gateway, "east-wechat", 1)
    items = await control(gateway.emus.wechat, "/_emulator/items")
    assert len(items) == 1
    item = items[0]
    assert item["article_id"] == job["platform_id"]
    assert item["url"] == job["url"]
    article = item["articles"][0]
    assert article["title"] == "新品发布会1"
    assert "正文第一段，编号1" in article["content"]
    # in-article images were uploaded and rewritten to the platform's URLs
    assert "image:0" not in article["content"] and "image:1" not in article["content"]
    assert article["content"].count("mmbiz.qpic.cn") == 2
    assert article["thumb_media_id"]
    counters = await control(gateway.emus.wechat, "/_emulator/counters")
    assert counters["calls"]["freepublish/submit"] == 1
    assert counters["calls"]["media/uploadimg"] == 2
    assert counters["token_fetches"] == 1


async def test_weibo_status_with_picture(gateway: Gateway) -> None:
    job = await _publish(gateway, "east-weibo", 2)
    items = await control(gateway.emus.weibo, "/_emulator/items")
    assert len(items) == 1
    item = items[0]
    assert str(item["idstr"] if "idstr" in item else item["id"]) == job["platform_id"]
    assert "【新品发布会2】" in item["text"] and "example.com" in item["text"]
    assert item["rip"] == "211.156.0.1"
    assert item["pic_sha256"]  # the cover went up as the status picture


async def test_wordpress_post_with_media(gateway: Gateway) -> None:
    job = await _publish(gateway, "east-wp", 3)
    items = await control(gateway.emus.wordpress, "/_emulator/items")
    live = [p for p in items["posts"] if p["status"] == "publish"]
    assert len(live) == 1
    post = live[0]
    assert str(post["id"]) == job["platform_id"]
    content = str(post["content"])
    assert "正文第一段，编号3" in content and "image:0" not in content
    assert len(items["media"]) == 3  # two in-article images and the cover
    assert post["featured_media"]


async def test_webhook_cms_item_with_media(gateway: Gateway) -> None:
    job = await _publish(gateway, "east-hook", 4)
    items = await control(gateway.emus.webhook, "/_emulator/items")
    assert len(items) == 1
    item = items[0]
    assert item["id"] == job["platform_id"] and item["url"] == job["url"]
    assert item["external_id"] == job["id"]
    text = repr(item)
    assert "正文第一段，编号4" in text and "image:0" not in text
