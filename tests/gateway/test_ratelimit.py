"""Per-key and per-address rate limits in the store: 429 with ``Retry-After`` (issue #11 item 12).

Real app, real Valkey: the counters live in the store, so two gateway processes (two apps on
one store here) share them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestClient

from gateway.keys import Keys
from gateway.principals import PrincipalStore
from gateway.settings import RateLimitSettings, Settings, SettingsError, load_settings
from tests.gateway.conftest import Caller, MakeClient

PROBLEM = "application/problem+json"


def _limited(settings: Settings, **limits: Any) -> Settings:
    return dataclasses.replace(
        settings, rate_limits=dataclasses.replace(settings.rate_limits, **limits)
    )


async def _get(
    client: TestClient[Any, Any], caller: Caller | None, path: str = "/v1/accounts"
) -> tuple[int, Any, Any]:
    resp = await client.get(path, headers=caller.headers if caller else {})
    return resp.status, resp.headers, await resp.json(content_type=None)


async def test_a_key_over_its_limit_gets_429_with_retry_after(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    client = await make_client(_limited(settings, per_key_per_window=3, window_s=30))
    for _ in range(3):
        status, _headers, body = await _get(client, callers["editor"])
        assert status == 200, body
    status, headers, body = await _get(client, callers["editor"])
    assert status == 429, body
    assert headers["Content-Type"].startswith(PROBLEM)
    assert 1 <= int(headers["Retry-After"]) <= 30
    assert body["reason"] == "key_rate_limit" and body["retry_after_s"] == int(
        headers["Retry-After"]
    )
    # Another key is not affected; public routes are never limited.
    assert (await _get(client, callers["admin"]))[0] == 200
    assert (await _get(client, None, "/livez"))[0] == 200


async def test_the_limit_is_shared_by_every_process_on_the_store(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    limited = _limited(settings, per_key_per_window=4, window_s=30)
    first, second = await make_client(limited), await make_client(limited)
    for client in (first, second, first, second):
        assert (await _get(client, callers["auditor"]))[0] == 200
    assert (await _get(second, callers["auditor"]))[0] == 429
    assert (await _get(first, callers["auditor"]))[0] == 429


async def test_the_window_ends(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    client = await make_client(_limited(settings, per_key_per_window=1, window_s=0.5))
    assert (await _get(client, callers["editor"]))[0] == 200
    status, headers, _ = await _get(client, callers["editor"])
    assert status == 429 and headers["Retry-After"] == "1"
    await asyncio.sleep(0.6)
    assert (await _get(client, callers["editor"]))[0] == 200


async def test_an_address_guessing_keys_is_limited_before_authentication(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    client = await make_client(_limited(settings, per_ip_per_window=5, window_s=30))
    bad = Caller("mg_0000000000000000_guess", "x", "editor", "hq")
    statuses = [(await _get(client, bad))[0] for _ in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    # The address is limited whatever key it shows next.
    assert (await _get(client, callers["admin"]))[0] == 429


@pytest.mark.parametrize(
    "header",
    [
        "Bearer {key}",
        "bearer   {key}  ",
        "Bearer {id_only}_wrong-secret",  # a real key id with a wrong secret
        "Bearer mg_{other}_{secret}",  # a well-formed key of an id that does not exist
        "Basic {key}",
        "Bearer mg_华东_secret",
        "Bearer",
    ],
)
async def test_the_key_record_read_with_the_address_limit_authenticates_the_same(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller], header: str
) -> None:
    # The per-address window and the presented key's record are one round trip; what is
    # authenticated, and who is counted against which limit, does not change.
    client = await make_client(_limited(settings, per_ip_per_window=100, window_s=30))
    key = callers["editor"].key
    key_id, _, secret = key.removeprefix("mg_").partition("_")
    value = header.format(key=key, id_only=f"mg_{key_id}", other="f" * 16, secret=secret)
    resp = await client.get("/v1/accounts", headers={"Authorization": value})
    good = value.split(maxsplit=1)[0].lower() == "bearer" and value.strip().endswith(key)
    assert resp.status == (200 if good else 401), await resp.text()


async def test_off_means_off(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller]
) -> None:
    client = await make_client(
        _limited(settings, enabled=False, per_key_per_window=1, per_ip_per_window=1)
    )
    assert [(await _get(client, callers["editor"]))[0] for _ in range(3)] == [200] * 3


def test_the_defaults_are_generous_and_configurable(tmp_path: Any) -> None:
    defaults = load_settings(environ={}).rate_limits
    assert defaults == RateLimitSettings()
    assert defaults.enabled and defaults.per_key_per_window >= 600
    assert defaults.per_ip_per_window >= defaults.per_key_per_window
    env = {"MEDIAGATE_RATE_LIMITS__PER_KEY_PER_WINDOW": "5"}
    assert load_settings(environ=env).rate_limits.per_key_per_window == 5
    for bad, message in (
        ({"MEDIAGATE_RATE_LIMITS__WINDOW_S": "0"}, "rate_limits.window_s"),
        ({"MEDIAGATE_RATE_LIMITS__PER_MINUTE": "5"}, "per_minute"),
    ):
        with pytest.raises(SettingsError, match=message):
            load_settings(environ=bad)


# --- the per-key window is hit with the per-address one (one round trip) ---------------------


def _key_window(settings: Settings, caller: Caller) -> str:
    return Keys(settings.store.key_prefix).rate_limit("key", caller.id)


async def test_a_wrong_secret_or_a_revoked_key_never_counts_against_the_key(
    make_client: MakeClient,
    settings: Settings,
    callers: dict[str, Caller],
    redis: aredis.Redis,
) -> None:
    # The key's window is hit in the same script as the address's, but only where the key
    # authenticates: someone who knows a key id cannot use up that key's requests.
    client = await make_client(_limited(settings, per_key_per_window=3, per_ip_per_window=100))
    editor = callers["editor"]
    key_id, _, _secret = editor.key.removeprefix("mg_").partition("_")
    wrong = Caller(f"mg_{key_id}_not-the-secret", editor.id, "editor", "sub_east")
    assert [(await _get(client, wrong))[0] for _ in range(5)] == [401] * 5
    assert await redis.get(_key_window(settings, editor)) is None
    assert [(await _get(client, editor))[0] for _ in range(4)] == [200] * 3 + [429]
    assert int(await redis.get(_key_window(settings, editor)) or 0) == 4  # as before: 429s count

    auditor = callers["auditor"]
    await PrincipalStore(redis, Keys(settings.store.key_prefix)).revoke(auditor.id)
    assert [(await _get(client, auditor))[0] for _ in range(4)] == [401] * 4
    assert await redis.get(_key_window(settings, auditor)) is None


async def test_a_request_over_the_address_limit_does_not_count_against_the_key(
    make_client: MakeClient,
    settings: Settings,
    callers: dict[str, Caller],
    redis: aredis.Redis,
) -> None:
    client = await make_client(_limited(settings, per_key_per_window=10, per_ip_per_window=2))
    editor = callers["editor"]
    statuses = [await _get(client, editor) for _ in range(4)]
    assert [s for s, _, _ in statuses] == [200, 200, 429, 429]
    assert all(body["reason"] == "ip_rate_limit" for s, _, body in statuses if s == 429)
    assert int(await redis.get(_key_window(settings, editor)) or 0) == 2


@pytest.mark.parametrize(
    ("per_key", "per_ip", "expected"),
    [
        (2, 0, [200, 200, 429]),  # no per-address limit: the key's still applies
        (0, 100, [200, 200, 200]),  # no per-key limit
        (2, 100, [200, 200, 429]),
    ],
)
async def test_either_limit_off_leaves_the_other(
    make_client: MakeClient,
    settings: Settings,
    callers: dict[str, Caller],
    per_key: int,
    per_ip: int,
    expected: list[int],
) -> None:
    client = await make_client(
        _limited(settings, per_key_per_window=per_key, per_ip_per_window=per_ip)
    )
    statuses = [await _get(client, callers["editor"]) for _ in range(3)]
    assert [s for s, _, _ in statuses] == expected
    for status, headers, body in statuses:
        if status == 429:
            assert body["reason"] == "key_rate_limit"
            assert 1 <= int(headers["Retry-After"]) <= 60


async def test_a_record_the_script_cannot_read_is_judged_by_authentication(
    make_client: MakeClient,
    settings: Settings,
    callers: dict[str, Caller],
    redis: aredis.Redis,
) -> None:
    # A record naming another id than its key: the script does not count it; the gateway
    # authenticates as before and hits the window of the principal it found, as before.
    keys = Keys(settings.store.key_prefix)
    editor = callers["editor"]
    raw = await redis.get(keys.api_key(editor.id))
    record = json.loads(raw or b"{}")
    record["id"] = "someone-else"
    await redis.set(keys.api_key(editor.id), json.dumps(record))
    client = await make_client(_limited(settings, per_key_per_window=2, per_ip_per_window=100))
    assert [(await _get(client, editor))[0] for _ in range(3)] == [200, 200, 429]
    assert await redis.get(_key_window(settings, editor)) is None
    assert int(await redis.get(keys.rate_limit("key", "someone-else")) or 0) == 3
