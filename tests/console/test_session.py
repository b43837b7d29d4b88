"""Console sessions in the store (gateway/console/session.py), against the real Valkey."""

from __future__ import annotations

import json
import time

import pytest
import redis.asyncio as aredis

from gateway.console.session import SessionStore
from gateway.keys import Keys
from gateway.principals import PrincipalStore
from gateway.settings import ConsoleSettings


@pytest.fixture
def store(redis: aredis.Redis) -> SessionStore:
    return SessionStore(
        redis,
        Keys(),
        PrincipalStore(redis, Keys()),
        ConsoleSettings(session_ttl_s=600, idle_timeout_s=60),
    )


async def test_login_resume_logout(store: SessionStore, redis: aredis.Redis) -> None:
    issued = await PrincipalStore(redis, Keys()).create(
        name="编辑甲", role="editor", unit="sub_east"
    )
    active = await store.login(issued.key)
    assert active is not None and active.principal.id == issued.principal.id
    again = await store.resume(active.sid)
    assert again is not None and again.session.csrf == active.session.csrf
    [key] = await redis.keys(Keys().console_session("*"))
    assert 0 < await redis.ttl(key) <= 60
    await store.logout(active.sid)
    assert await store.resume(active.sid) is None


@pytest.mark.parametrize(
    "sid",
    ["", "x" * 65, "../../etc", "a b", "有中文", "*", "{mg}:console:session:*"],
)
async def test_implausible_cookies_never_reach_the_store(store: SessionStore, sid: str) -> None:
    assert await store.resume(sid) is None


async def test_unknown_key_gets_no_session(store: SessionStore, redis: aredis.Redis) -> None:
    assert await store.login("mg_0000_nope") is None
    assert not await redis.keys(Keys().console_session("*"))


async def test_the_lifetime_caps_the_idle_clock(store: SessionStore, redis: aredis.Redis) -> None:
    issued = await PrincipalStore(redis, Keys()).create(name="甲", role="editor", unit="sub_east")
    active = await store.login(issued.key)
    assert active is not None
    [key] = await redis.keys(Keys().console_session("*"))
    record = json.loads(await redis.get(key))
    record["expires_at"] = time.time() + 5  # five seconds of lifetime left
    await redis.set(key, json.dumps(record))
    assert await store.resume(active.sid) is not None
    assert await redis.ttl(key) <= 5  # the idle timeout (60 s) no longer applies
