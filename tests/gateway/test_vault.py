"""Credential vault (Art. 20): envelope encryption, write-only API, rotation and re-wrapping."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestClient

from gateway.keys import Keys
from gateway.vault import MasterKey, Vault, VaultError, VaultUnavailable, key_file_master
from tests.gateway.conftest import Caller, file_active_account

SECRET = "S3CRET-月光宝盒-do-not-leak-7d1f"


def _master() -> MasterKey:
    return MasterKey.from_bytes(os.urandom(32))


async def test_values_are_encrypted_at_rest_and_open_only_with_the_key(
    redis: aredis.Redis,
) -> None:
    keys, master = Keys(), _master()
    vault = Vault(redis, keys, master)
    metas = await vault.put("east-wechat", {"app_secret": SECRET, "app_id": "wx123"}, actor="a1")
    assert {m.field: m.version for m in metas} == {"app_secret": 1, "app_id": 1}
    dump = b"".join(v for v in (await redis.hgetall(keys.vault("east-wechat"))).values())
    assert SECRET.encode() not in dump and b"wx123" not in dump
    assert await vault.open("east-wechat") == {"app_secret": SECRET, "app_id": "wx123"}
    with pytest.raises(VaultUnavailable):
        await Vault(redis, keys, _master()).open("east-wechat")


async def test_ciphertext_moved_to_another_account_does_not_decrypt(redis: aredis.Redis) -> None:
    keys = Keys()
    vault = Vault(redis, keys, _master())
    await vault.put("a", {"app_secret": SECRET}, actor="x")
    blob = await redis.hget(keys.vault("a"), "app_secret")
    await redis.hset(keys.vault("b"), "app_secret", blob)
    with pytest.raises(VaultError, match="integrity"):
        await vault.open("b")
    # ... or to another field of the same account
    await redis.hset(keys.vault("a"), "app_id", blob)
    with pytest.raises(VaultError):
        await vault.open("a")


async def test_rotation_makes_a_new_version_with_a_fresh_data_key(redis: aredis.Redis) -> None:
    keys = Keys()
    vault = Vault(redis, keys, _master())
    await vault.put("a", {"app_secret": "one"}, actor="x")
    first = json.loads(await redis.hget(keys.vault("a"), "app_secret"))
    metas = await vault.put("a", {"app_secret": "two"}, actor="y")
    second = json.loads(await redis.hget(keys.vault("a"), "app_secret"))
    assert metas[0].version == 2 and metas[0].updated_by == "y"
    assert first["dek"] != second["dek"]
    assert await vault.open("a") == {"app_secret": "two"}


async def test_rewrap_under_a_new_master_key_without_downtime(redis: aredis.Redis) -> None:
    keys, old, new = Keys(), _master(), _master()
    await Vault(redis, keys, old).put("a", {"app_secret": SECRET}, actor="x")
    # During the roll-out a process that knows both keys reads old and new secrets.
    rolling = Vault(redis, keys, new, [old])
    assert await rolling.open("a") == {"app_secret": SECRET}
    assert await rolling.rewrap() == {"rewrapped": 1, "already_current": 0}
    assert await Vault(redis, keys, new).open("a") == {"app_secret": SECRET}
    assert await rolling.rewrap() == {"rewrapped": 0, "already_current": 1}
    with pytest.raises(VaultUnavailable):
        await Vault(redis, keys, old).open("a")


def test_key_file_is_created_0600_and_refused_when_readable_by_others(tmp_path: Any) -> None:
    master = key_file_master(tmp_path)
    path = tmp_path / "master.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert key_file_master(tmp_path).id == master.id
    path.chmod(0o644)
    with pytest.raises(VaultUnavailable, match="readable by others"):
        key_file_master(tmp_path)


async def test_api_is_write_only_and_answers_metadata(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    await file_active_account(client, callers, "east-wechat", platform="wechat")
    admin = callers["admin"].headers
    resp = await client.put(
        "/admin/vault/east-wechat",
        headers=admin,
        json={"fields": {"app_id": "wx1", "app_secret": SECRET}},
    )
    assert resp.status == 200
    text = await resp.text()
    assert SECRET not in text and "wx1" not in text
    meta = await (await client.get("/admin/vault/east-wechat", headers=admin)).json()
    assert [(f["field"], f["version"]) for f in meta["fields"]] == [
        ("app_id", 1),
        ("app_secret", 1),
    ]
    resp = await client.put(
        "/admin/vault/east-wechat", headers=admin, json={"fields": {"app_secret": SECRET + "2"}}
    )
    meta = await (await client.get("/admin/vault/east-wechat", headers=admin)).json()
    assert {f["field"]: f["version"] for f in meta["fields"]} == {"app_id": 1, "app_secret": 2}
    resp = await client.delete("/admin/vault/east-wechat?field=app_id", headers=admin)
    assert (await resp.json())["removed"] == 1


async def test_unknown_account_is_404_and_bad_fields_are_named(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    admin = callers["admin"].headers
    resp = await client.put("/admin/vault/nope", headers=admin, json={"fields": {"a": "b"}})
    assert resp.status == 404
    await file_active_account(client, callers, "east-wechat", platform="wechat")
    resp = await client.put(
        "/admin/vault/east-wechat", headers=admin, json={"fields": {"app_secret": 42}}
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "fields.app_secret"


async def test_without_a_master_key_the_vault_answers_503(
    make_client: Any, callers: dict[str, Caller], redis_url: str
) -> None:
    from gateway.app import Runtime

    client = await make_client(
        runtime_=Runtime(redis_url=redis_url, master_key=None, vault_problem="no master key")
    )
    resp = await client.get("/admin/vault/east-wechat", headers=callers["admin"].headers)
    assert resp.status == 503
    assert (await resp.json())["reason"] == "vault_unavailable"
    health = await client.get("/healthz")
    assert health.status == 503
