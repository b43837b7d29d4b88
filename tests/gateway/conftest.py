"""Fixtures for gateway tests: the real app on a loopback server, keys for every role."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.app import Runtime, create_app
from gateway.keys import Keys
from gateway.principals import PrincipalStore
from gateway.screening_service import base_screener
from gateway.settings import Settings, load_settings
from gateway.vault import MasterKey
from screening.pipeline import Screener

MASTER = MasterKey.from_bytes(base64.b64decode(base64.b64encode(os.urandom(32))))
SIGNING_PEM = Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)


@dataclass(frozen=True)
class Caller:
    key: str
    id: str
    role: str
    unit: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def settings() -> Settings:
    """The shipped configuration, with every connector pointed at a closed loopback port so no
    test ever reaches out of this machine (tests that publish start emulators of their own)."""
    return loopback_settings(load_settings(environ={}))


def loopback_settings(base: Settings) -> Settings:
    sections = {
        name: {**section, "base_url": "http://127.0.0.1:9"}
        for name, section in base.connectors.sections.items()
    }
    # The classifier stage has tests of its own (tests/gateway/test_classifier_stage.py).
    return dataclasses.replace(
        base,
        connectors=dataclasses.replace(base.connectors, sections=sections),
        screening=dataclasses.replace(base.screening, classifier_model_dir=None),
    )


@pytest.fixture(scope="session")
def screener() -> Screener:
    """The default screener with the shipped lexicons and policy, built once per session."""
    return base_screener(load_settings(environ={}))


@pytest.fixture
def runtime(redis_url: str, screener: Screener) -> Runtime:
    return Runtime(
        redis_url=redis_url, master_key=MASTER, signing_key_pem=SIGNING_PEM, screener=screener
    )


MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def make_client(
    aiohttp_client: Any, redis: aredis.Redis, settings: Settings, runtime: Runtime
) -> MakeClient:
    async def make(
        settings_: Settings | None = None, runtime_: Runtime | None = None
    ) -> TestClient[Any, Any]:
        app = create_app(settings_ or settings, runtime_ or runtime)
        client: TestClient[Any, Any] = await aiohttp_client(app)
        return client

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient[Any, Any]:
    return await make_client()


@pytest.fixture
async def callers(redis: aredis.Redis, settings: Settings) -> dict[str, Caller]:
    """One key per role, plus editors and heads of several units."""
    store = PrincipalStore(redis, Keys(settings.store.key_prefix))
    wanted = {
        "editor": ("editor", "sub_east"),
        "editor_west": ("editor", "sub_west"),
        "editor_hq": ("editor", "strategy_dept"),
        "unit_head": ("unit_head", "sub_east"),
        "unit_head_west": ("unit_head", "sub_west"),
        "dept_head": ("unit_head", "strategy_dept"),
        "brand_pr": ("brand_pr", "brand_pr"),
        "brand_pr2": ("brand_pr", "brand_pr"),
        "leader": ("leader", "hq"),
        "admin": ("admin", "hq"),
        "auditor": ("auditor", "hq"),
    }
    result = {}
    for name, (role, unit) in wanted.items():
        issued = await store.create(name=name, role=role, unit=unit)
        result[name] = Caller(issued.key, issued.principal.id, role, unit)
    return result


async def file_active_account(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    account_id: str = "east-weibo",
    unit: str = "sub_east",
    platform: str = "weibo",
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    head = callers["unit_head"] if unit == "sub_east" else callers["admin"]
    resp = await client.post(
        "/v1/accounts",
        headers=head.headers,
        json={
            "id": account_id,
            "platform": platform,
            "name": f"{account_id} 官方",
            "unit": unit,
            "settings": settings or {},
        },
    )
    assert resp.status == 201, await resp.text()
    resp = await client.post(
        f"/v1/accounts/{account_id}/approve", headers=callers["brand_pr"].headers, json={}
    )
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


#: how long before the end of an ISO week (China Standard Time) a week-bound test waits for
#: the next one: such a test counts what it did "this week" and failed at Monday 00:00 CST
WEEK_END_MARGIN = timedelta(minutes=3)


@pytest.fixture
async def one_cst_week() -> None:
    """Start the test far enough from the end of the ISO week in China Standard Time that all
    of it falls in one week (waits at most :data:`WEEK_END_MARGIN`, once a week)."""
    cst = timezone(timedelta(hours=8))
    now = datetime.now(cst)
    monday = (now - timedelta(days=now.isoweekday() - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    left = monday + timedelta(days=7) - now
    if left < WEEK_END_MARGIN:
        await asyncio.sleep(left.total_seconds() + 1)
