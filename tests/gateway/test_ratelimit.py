"""Per-key and per-address rate limits in the store: 429 with ``Retry-After`` (issue #11 item 12).

Real app, real Valkey: the counters live in the store, so two gateway processes (two apps on
one store here) share them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

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
