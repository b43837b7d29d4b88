"""Restarting the gateway and its embedded store keeps accounts, keys, vault and audit chain."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import redis.asyncio as aredis

from gateway.app import Runtime, create_app
from gateway.embedded import EmbeddedValkey
from gateway.keys import Keys
from gateway.principals import PrincipalStore
from gateway.settings import Settings
from gateway.vault import MasterKey, Vault

SECRET = "restart-secret-9f3e-鸿雁"


async def test_everything_survives_a_restart_of_the_embedded_store(
    aiohttp_client: Any, settings: Settings, tmp_path: Path
) -> None:
    master = MasterKey.from_bytes(os.urandom(32))
    server = EmbeddedValkey(tmp_path / "store")
    url = server.start()
    try:
        client = await aiohttp_client(create_app(settings, Runtime(url, master_key=master)))
        direct = aredis.Redis.from_url(url)
        principals = PrincipalStore(direct, Keys())
        admin = await principals.create(name="admin", role="admin", unit="hq")
        head = await principals.create(name="head", role="unit_head", unit="sub_east")
        brand = await principals.create(name="brand", role="brand_pr", unit="brand_pr")
        await direct.aclose()

        def h(key: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {key}"}

        assert (
            await client.post(
                "/v1/accounts",
                headers=h(head.key),
                json={
                    "id": "east-wechat",
                    "platform": "wechat",
                    "name": "公众号",
                    "unit": "sub_east",
                },
            )
        ).status == 201
        assert (
            await client.post("/v1/accounts/east-wechat/approve", headers=h(brand.key), json={})
        ).status == 200
        assert (
            await client.put(
                "/admin/vault/east-wechat",
                headers=h(admin.key),
                json={"fields": {"app_secret": SECRET}},
            )
        ).status == 200
        await client.close()
    finally:
        server.stop()

    server = EmbeddedValkey(tmp_path / "store")
    url = server.start()
    try:
        client = await aiohttp_client(create_app(settings, Runtime(url, master_key=master)))
        accounts = await (await client.get("/v1/accounts", headers=h(head.key))).json()
        assert accounts["accounts"][0]["state"] == "active"
        meta = await (await client.get("/admin/vault/east-wechat", headers=h(admin.key))).json()
        assert [f["field"] for f in meta["fields"]] == ["app_secret"]
        verify = await (await client.get("/admin/audit/verify", headers=h(admin.key))).json()
        head = verify.pop("head")
        assert verify == {
            "ok": True,
            "records": 3,
            "anchors_checked": 0,
            "broken_at": None,
            "broken_seq": None,
            "reason": None,
        }
        anchored = await client.get(
            "/admin/audit/verify", headers=h(admin.key), params={"anchor": head}
        )
        assert head.startswith("3:") and (await anchored.json())["anchors_checked"] == 1
        direct = aredis.Redis.from_url(url)
        assert await Vault(direct, Keys(), master).open("east-wechat") == {"app_secret": SECRET}
        await direct.aclose()
        await client.close()
    finally:
        server.stop()
