"""Separation of duties for keys (issue #11 item 11).

Before: one admin created unit_head, leader and brand_pr keys and could publish a post needing
all three alone. Now an approver (or admin) key is proposed by one admin and confirmed by a
second person, Brand-PR or another admin; every step is audited. Display names are unique among
active principals.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestClient

from gateway.audit import AuditLog
from gateway.keys import Keys
from gateway.principals import NameTaken, PrincipalStore
from tests.gateway.conftest import Caller

APPROVER_AND_ADMIN_ROLES = ("unit_head", "leader", "brand_pr", "admin")


async def _propose(
    client: TestClient[Any, Any], admin: Caller, name: str, role: str, unit: str = "hq"
) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        "/admin/keys", headers=admin.headers, json={"name": name, "role": role, "unit": unit}
    )
    return resp.status, await resp.json()


async def _second_admin(redis: aredis.Redis) -> Caller:
    issued = await PrincipalStore(redis, Keys()).create(name="第二管理员", role="admin", unit="hq")
    return Caller(issued.key, issued.principal.id, "admin", "hq")


async def _actions(redis: aredis.Redis) -> list[tuple[str, str]]:
    return [
        (record["action"], record["actor"]["id"])
        async for _, record in AuditLog(redis, Keys()).records()
    ]


@pytest.mark.parametrize("role", APPROVER_AND_ADMIN_ROLES)
async def test_one_admin_alone_cannot_mint_an_approver_key(
    client: TestClient[Any, Any], callers: dict[str, Caller], redis: aredis.Redis, role: str
) -> None:
    admin = callers["admin"]
    status, proposal = await _propose(client, admin, f"新{role}", role)
    assert status == 202, proposal
    assert proposal["state"] == "proposed" and "key" not in proposal
    assert proposal["proposed_by"] == admin.id
    # Nothing was created: no principal of that name exists yet.
    keys = await (await client.get("/admin/keys", headers=admin.headers)).json()
    assert f"新{role}" not in {k["name"] for k in keys["keys"]}
    # The proposer cannot confirm it.
    resp = await client.post(
        f"/admin/keys/proposals/{proposal['id']}/confirm", headers=admin.headers
    )
    body = await resp.json()
    assert resp.status == 403 and body["reason"] == "same_person", body
    # Nor can a role that confirms nothing.
    for other in ("editor", "unit_head", "leader", "auditor"):
        resp = await client.post(
            f"/admin/keys/proposals/{proposal['id']}/confirm", headers=callers[other].headers
        )
        assert resp.status == 403, other


@pytest.mark.parametrize("confirmer", ["brand_pr", "second_admin"])
async def test_a_second_person_confirms_and_gets_the_key_once(
    client: TestClient[Any, Any], callers: dict[str, Caller], redis: aredis.Redis, confirmer: str
) -> None:
    admin = callers["admin"]
    second = callers["brand_pr"] if confirmer == "brand_pr" else await _second_admin(redis)
    status, proposal = await _propose(
        client, admin, "华东分公司负责人 赵总", "unit_head", "sub_east"
    )
    assert status == 202
    resp = await client.post(
        f"/admin/keys/proposals/{proposal['id']}/confirm", headers=second.headers
    )
    created = await resp.json()
    assert resp.status == 201, created
    assert resp.headers["Cache-Control"] == "no-store"
    assert created["role"] == "unit_head" and created["unit"] == "sub_east"
    key = created["key"]
    me = await client.get("/v1/accounts", headers={"Authorization": f"Bearer {key}"})
    assert me.status == 200
    # Confirmed once: a second confirmation finds nothing.
    again = await client.post(
        f"/admin/keys/proposals/{proposal['id']}/confirm", headers=second.headers
    )
    assert again.status == 404
    actions = await _actions(redis)
    assert ("key.propose", admin.id) in actions
    assert ("key.confirm", second.id) in actions
    assert ("key.created", second.id) in actions
    assert key.split("_", 2)[2] not in str(actions)  # the secret (it may hold "_" itself)


async def test_proposals_are_listed_and_can_be_rejected(
    client: TestClient[Any, Any], callers: dict[str, Caller], redis: aredis.Redis
) -> None:
    admin, brand_pr = callers["admin"], callers["brand_pr"]
    _, proposal = await _propose(client, admin, "待定领导", "leader")
    listing = await (
        await client.get("/admin/keys/proposals", headers=callers["auditor"].headers)
    ).json()
    assert [p["id"] for p in listing["proposals"]] == [proposal["id"]]
    resp = await client.delete(f"/admin/keys/proposals/{proposal['id']}", headers=brand_pr.headers)
    assert resp.status == 200 and (await resp.json())["state"] == "rejected"
    resp = await client.post(
        f"/admin/keys/proposals/{proposal['id']}/confirm", headers=brand_pr.headers
    )
    assert resp.status == 404
    assert ("key.proposal.reject", brand_pr.id) in await _actions(redis)


@pytest.mark.parametrize("role", ["editor", "auditor"])
async def test_keys_that_approve_nothing_are_created_at_once(
    client: TestClient[Any, Any], callers: dict[str, Caller], role: str
) -> None:
    status, created = await _propose(client, callers["admin"], f"新的{role}", role)
    assert status == 201 and created["key"].startswith("mg_")


@pytest.mark.parametrize(
    "name",
    [
        "华东分公司负责人 赵总",
        "Zhao",
        "王 伟",  # inner space is part of the name
    ],
)
async def test_display_names_are_unique_among_active_principals(
    client: TestClient[Any, Any], callers: dict[str, Caller], name: str
) -> None:
    admin = callers["admin"]
    status, first = await _propose(client, admin, name, "editor")
    assert status == 201
    for role in ("editor", "leader", "admin"):  # created at once or proposed: both refused
        status, body = await _propose(client, admin, name, role)
        assert status == 409, (role, body)
        assert body["errors"][0]["field"] == "name"
    # Revoked, the name is free again.
    assert (await client.delete(f"/admin/keys/{first['id']}", headers=admin.headers)).status == 200
    status, _ = await _propose(client, admin, name, "editor")
    assert status == 201


async def test_a_name_proposed_once_is_not_proposed_twice(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    admin = callers["admin"]
    assert (await _propose(client, admin, "重复提名", "leader"))[0] == 202
    status, body = await _propose(client, admin, "重复提名", "brand_pr", "brand_pr")
    assert status == 409 and body["errors"][0]["field"] == "name"


async def test_the_store_refuses_a_duplicate_name_whoever_asks(redis: aredis.Redis) -> None:
    store = PrincipalStore(redis, Keys())
    await store.create(name="唯一", role="editor", unit="hq")
    with pytest.raises(NameTaken):
        await store.create(name="唯一", role="auditor", unit="hq")
