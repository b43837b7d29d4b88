"""No response, log line, error or audit record ever contains a secret value (Art. 20).

A recognisable secret is stored in the vault, then every route is driven by every role with
bodies that carry the secret in every shape we can think of, along every error path. All the
answers, every captured log record and every audit record are searched for it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestClient

from gateway.audit import AuditLog
from gateway.keys import Keys
from gateway.routes import ROUTES
from tests.gateway.conftest import Caller, file_active_account

SECRET = "LEAKCANARY-5b8e2f-机密口令-d41d8cd98f"


def _bodies() -> list[Any]:
    return [
        {"fields": {"app_secret": SECRET}},
        {"fields": {"app_secret": SECRET * 2000}},  # too long
        {"fields": {"bad name!": SECRET}},
        {"fields": {"app_secret": [SECRET]}},
        {"fields": SECRET},
        {"fields": {"app_secret": SECRET}, "extra": 1},
        {
            "id": "east-wechat",
            "platform": "wechat",
            "name": "n",
            "unit": "sub_east",
            "settings": {"app_secret": SECRET},
        },
        {
            "post": {
                "title": "t",
                "content": "c",
                "category": "news",
                "source": "s",
                "author": "a",
                "digest": "d",
                "x": SECRET,
            }
        },
        {"scope": "account", "id": "east-wechat", "reason": "r"},
        [SECRET],
        SECRET,
    ]


async def test_the_secret_never_leaves_the_vault(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    redis: aredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    await file_active_account(client, callers, "east-wechat", platform="wechat")
    resp = await client.put(
        "/admin/vault/east-wechat",
        headers=callers["admin"].headers,
        json={"fields": {"app_id": "wx-public", "app_secret": SECRET}},
    )
    assert resp.status == 200
    seen.append(await resp.text())

    one_per_role = {c.role: c for c in callers.values()}.values()
    for route in ROUTES:
        path = re.sub(r"{(\w+)}", "east-wechat", route.path)
        for caller in one_per_role:
            for body in _bodies():
                resp = await client.request(route.method, path, headers=caller.headers, json=body)
                seen.append(await resp.text())
                seen.append(json.dumps(dict(resp.headers)))
            # malformed and oversized bodies carrying the secret
            for raw in (
                b'{"fields": {"app_secret": "' + SECRET.encode() + b'"',
                b"\xff" + SECRET.encode(),
            ):
                resp = await client.request(
                    route.method,
                    path,
                    data=raw,
                    headers={**caller.headers, "Content-Type": "application/json"},
                )
                seen.append(await resp.text())
        # and with no key or a key made of the secret
        resp = await client.request(
            route.method, path, headers={"Authorization": f"Bearer {SECRET}"}
        )
        seen.append(await resp.text())

    for record in [r async for _, r in AuditLog(redis, Keys()).records()]:
        seen.append(json.dumps(record, ensure_ascii=False))
    seen.extend(r.getMessage() for r in caplog.records)
    seen.extend(str(r.exc_info) for r in caplog.records if r.exc_info)
    seen.append(caplog.text)

    # Every stored value in Redis except the vault's ciphertexts is searched too.
    async for key in redis.scan_iter(count=1000):
        kind = (await redis.type(key)).decode()
        if kind == "string":
            seen.append(repr(await redis.get(key)))
        elif kind == "hash":
            seen.append(repr(await redis.hgetall(key)))
        elif kind == "stream":
            seen.append(repr(await redis.xrange(key)))
        elif kind == "list":
            seen.append(repr(await redis.lrange(key, 0, -1)))

    leaks = [s for s in seen if SECRET in s or SECRET.encode().hex() in s]
    assert not leaks, leaks[:3]
    assert len(seen) > len(ROUTES) * 50
