"""Interaction test rig: the real gateway, the platform emulators and a real store on loopback.

It reuses the delivery rig (:mod:`tests.delivery.conftest`) and adds, per platform, an account
whose named operator is the ``editor`` caller (``ops-*``: a comment by them needs no approval
under the default ``[interactions]`` policy) next to the rig's ``east-*`` accounts, which have
no operators (a comment there needs the unit head). :class:`Target` makes something on the
emulator to act on: a published post, a reader's comment, a WeChat article with comments open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.delivery.conftest import (  # noqa: F401 - fixtures
    Gateway,
    account_setup,
    control,
    emulator_servers,
    emulators,
    gateway,
    make_post,
    runtime,
    session,
)

PLATFORMS = ("weibo", "wordpress", "wechat")
EAST = {"weibo": "east-weibo", "wordpress": "east-wp", "wechat": "east-wechat"}
OPS = {"weibo": "ops-weibo", "wordpress": "ops-wp", "wechat": "ops-wechat"}
#: the kind each platform answers for "a comment-like interaction" in the shared tests
TEXT_KIND = {"weibo": "comment", "wordpress": "comment", "wechat": "reply"}
#: the request each platform's comment-like call is sent to (fault switches match on it)
ENDPOINT = {
    "weibo": "/2/comments/create.json",
    "wordpress": "/wp-json/wp/v2/comments",
    "wechat": "/cgi-bin/comment/reply/add",
}
READER_TOKEN = "weibo-reader-token"


async def file_ops_accounts(gw: Gateway) -> None:
    """The ``ops-*`` accounts: same platform settings and credentials, operator ``editor``."""
    setup = account_setup(gw.emus)
    for platform, east in EAST.items():
        kind, settings, fields = setup[east]
        account = OPS[platform]
        status, data = await gw.api.call(
            "POST",
            "/v1/accounts",
            "unit_head",
            {
                "id": account,
                "platform": kind,
                "name": f"{account} 官方",
                "unit": "sub_east",
                "operators": ["editor"],
                "settings": dict(settings),
            },
        )
        assert status == 201, data
        status, data = await gw.api.call("POST", f"/v1/accounts/{account}/approve", "brand_pr", {})
        assert status == 200, data
        status, data = await gw.api.call(
            "PUT", f"/admin/vault/{account}", "admin", {"fields": dict(fields)}
        )
        assert status == 200, data


@pytest.fixture
async def gw(gateway: Gateway) -> Gateway:  # noqa: F811 - the rig's fixture
    await file_ops_accounts(gateway)
    await control(gateway.emus.weibo, "/_emulator/tokens", {"token": READER_TOKEN, "uid": "2000"})
    return gateway


@dataclass
class Targets:
    gw: Gateway
    n: int = 0

    async def post(self, platform: str) -> str:
        """A post published through the gateway on the east account: its job id."""
        self.n += 1
        job = await self.gw.api.publish(EAST[platform], make_post(f"t{self.n}", images=0))
        final = await self.gw.api.wait_final(job["id"])
        assert final["state"] == "published", final
        return str(final["id"])

    async def wechat_article(self, *, comments_open: bool = True) -> tuple[str, str]:
        """A WeChat message with one article and a reader's comment: (msg_data_id, comment)."""
        made = await control(
            self.gw.emus.wechat, "/_emulator/comments/article", {"open": comments_open}
        )
        msg = str(made["msg_data_id"])
        comment = await control(
            self.gw.emus.wechat,
            "/_emulator/comments/user",
            {"msg_data_id": msg, "content": "请问活动什么时候开始？"},
        )
        return msg, str(comment["user_comment_id"])

    async def weibo_reader_comment(self, status_id: str) -> str:
        """A reader's comment on a Weibo status, made through Weibo's own API."""
        import aiohttp

        async with (
            aiohttp.ClientSession() as s,
            s.post(
                self.gw.emus.weibo + "/2/comments/create.json",
                data={
                    "access_token": READER_TOKEN,
                    "id": status_id,
                    "comment": "支持！",
                    "rip": "1.2.3.4",
                },
            ) as r,
        ):
            body = await r.json()
        assert "idstr" in body, body
        return str(body["idstr"])

    async def comment_target(self, platform: str) -> dict[str, Any]:
        """A target for the platform's comment-like kind (``TEXT_KIND``)."""
        if platform == "wechat":
            msg, comment = await self.wechat_article()
            return {"msg_data_id": msg, "index": 0, "comment_id": comment}
        return {"post": await self.post(platform)}


@pytest.fixture
def targets(gw: Gateway) -> Targets:
    return Targets(gw)


async def items(gw: Gateway, platform: str) -> list[dict[str, Any]]:
    """What the platform holds of comments, replies and reposts (read back from the emulator)."""
    if platform == "weibo":
        data = await control(gw.emus.weibo, "/_emulator/comments")
        return [*data["comments"], *data["reposts"]]
    if platform == "wordpress":
        return list(await control(gw.emus.wordpress, "/_emulator/comments"))
    messages = await control(gw.emus.wechat, "/_emulator/comments")
    return [
        {"msg_data_id": m["msg_data_id"], **c}
        for m in messages
        for a in m["articles"]
        for c in a["comments"]
        if "reply" in c
    ]
