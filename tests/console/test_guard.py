"""The console's guard: login and sessions, cookie flags, CSP, CSRF and cross-site refusal.

HTTP-level tests against the real gateway on loopback (gateway/console/guard.py, session.py).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestClient

from gateway.console.guard import CSP
from gateway.console.session import COOKIE
from gateway.keys import Keys
from tests.console.conftest import Caller, OpenDesk, csrf_of


async def test_pages_need_a_session_and_send_strangers_to_login(
    client: TestClient[Any, Any],
) -> None:
    for path in ("/console/", "/console/accounts", "/console/audit"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 303, path
        assert resp.headers["Location"].startswith("/console/login?next=")


async def test_login_sets_a_strict_httponly_session_cookie(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    desk = await open_desk(client)
    _, html = await desk.get("/console/login")
    resp = await desk.post("/console/login", {"key": callers["editor"].key, "csrf": csrf_of(html)})
    assert resp.status == 303
    cookie = resp.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/console/"
    assert not cookie["secure"]  # plain HTTP here; set under TLS (request.secure)
    assert callers["editor"].key not in resp.headers.get("Set-Cookie", "")
    status, page = await desk.get("/console/accounts")
    assert status == 200
    assert 'data-testid="whoami"' in page


async def test_secure_flag_under_tls(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    """Behind a TLS-terminating proxy aiohttp's request.secure follows X-Forwarded-Proto only
    when configured; here the scheme is http, so the flag must follow request.secure exactly."""
    desk = await open_desk(client)
    _, html = await desk.get("/console/login")
    resp = await desk.post("/console/login", {"key": callers["editor"].key, "csrf": csrf_of(html)})
    assert "Secure" not in resp.headers["Set-Cookie"]


@pytest.mark.parametrize(
    "key",
    ["", "mg_nope_nope", "not-a-key", "mg_" + "a" * 40 + "_x", "<script>alert(1)</script>"],
)
async def test_bad_keys_are_refused_without_a_session(
    client: TestClient[Any, Any], open_desk: OpenDesk, key: str
) -> None:
    desk = await open_desk(client)
    _, html = await desk.get("/console/login")
    resp = await desk.post("/console/login", {"key": key, "csrf": csrf_of(html)})
    assert resp.status in (401, 422)
    assert COOKIE not in resp.cookies
    assert "<script>alert(1)</script>" not in await resp.text()


async def test_revoked_key_ends_its_sessions(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    desk = await open_desk(client, callers["editor"].key)
    assert (await desk.get("/console/accounts"))[0] == 200
    resp = await client.delete(
        f"/admin/keys/{callers['editor'].id}", headers=callers["admin"].headers
    )
    assert resp.status == 200, await resp.text()
    status, _ = await desk.get("/console/accounts", allow_redirects=False)
    assert status == 303


async def test_logout_ends_the_session_in_the_store(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    open_desk: OpenDesk,
    redis: aredis.Redis,
) -> None:
    desk = await open_desk(client, callers["editor"].key)
    assert await redis.keys(Keys().console_session("*"))
    resp = await desk.post("/console/logout", {})
    assert resp.status == 303
    assert not await redis.keys(Keys().console_session("*"))
    status, _ = await desk.get("/console/accounts", allow_redirects=False)
    assert status == 303


async def test_session_expires_after_its_lifetime(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    open_desk: OpenDesk,
    redis: aredis.Redis,
) -> None:
    desk = await open_desk(client, callers["editor"].key)
    [key] = await redis.keys(Keys().console_session("*"))
    import json

    record = json.loads(await redis.get(key))
    record["expires_at"] = time.time() - 1
    await redis.set(key, json.dumps(record))
    status, _ = await desk.get("/console/accounts", allow_redirects=False)
    assert status == 303
    assert not await redis.exists(key)


async def test_session_lives_in_the_store_with_a_ttl_and_no_cookie_value(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    open_desk: OpenDesk,
    redis: aredis.Redis,
) -> None:
    desk = await open_desk(client, callers["editor"].key)
    [key] = await redis.keys(Keys().console_session("*"))
    ttl_s = await redis.ttl(key)
    assert 0 < ttl_s <= 3600  # the idle timeout of config/gateway.toml
    cookie = next(c for c in desk.session.cookie_jar if c.key == COOKIE)
    raw = await redis.get(key)
    assert cookie.value.encode() not in raw and cookie.value.encode() not in key
    assert callers["editor"].key.encode() not in raw


async def test_every_answer_carries_the_security_headers(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    desk = await open_desk(client, callers["brand_pr"].key)
    for path in (
        "/console/login",
        "/console/accounts",
        "/console/nope",
        "/console/static/console.css",
    ):
        async with desk.session.get(client.make_url(path), allow_redirects=False) as r:
            assert r.headers["Content-Security-Policy"] == CSP, path
            assert r.headers["X-Frame-Options"] == "DENY"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert "frame-ancestors 'none'" in CSP


async def test_pages_have_no_inline_script_or_style(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    desk = await open_desk(client, callers["admin"].key)
    for path in ("/console/login", "/console/accounts", "/console/audit"):
        status, html = await desk.get(path)
        assert status == 200, path
        assert "<script>" not in html and "style=" not in html and " on" + "click" not in html


# --- CSRF and cross-site form posts ---------------------------------------------------------


async def test_a_form_post_without_the_csrf_token_is_refused(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    open_desk: OpenDesk,
    redis: aredis.Redis,
) -> None:
    desk = await open_desk(client, callers["brand_pr"].key)
    for form in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": desk.csrf + "x"}):
        resp = await desk.post(
            "/console/accounts/freeze", {"scope": "all", "reason": "应急", **form}, csrf=False
        )
        assert resp.status == 403, form
    assert not await redis.hlen(Keys().freezes())


async def test_the_csrf_token_of_another_session_is_refused(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    open_desk: OpenDesk,
    redis: aredis.Redis,
) -> None:
    mine = await open_desk(client, callers["brand_pr"].key)
    theirs = await open_desk(client, callers["brand_pr2"].key)
    resp = await mine.post(
        "/console/accounts/freeze",
        {"scope": "all", "reason": "应急", "csrf": theirs.csrf},
        csrf=False,
    )
    assert resp.status == 403
    assert not await redis.hlen(Keys().freezes())


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_cross_site_form_posts_are_refused_even_with_a_token(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    open_desk: OpenDesk,
    redis: aredis.Redis,
    headers: dict[str, str],
) -> None:
    desk = await open_desk(client, callers["brand_pr"].key)
    resp = await desk.post(
        "/console/accounts/freeze", {"scope": "all", "reason": "应急"}, headers=headers
    )
    assert resp.status == 403
    assert "跨站" in await resp.text()
    assert not await redis.hlen(Keys().freezes())


async def test_a_same_origin_post_with_the_token_goes_through(
    client: TestClient[Any, Any],
    callers: dict[str, Caller],
    open_desk: OpenDesk,
    redis: aredis.Redis,
) -> None:
    desk = await open_desk(client, callers["brand_pr"].key)
    resp = await desk.post(
        "/console/accounts/freeze",
        {"scope": "all", "reason": "应急演练"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert resp.status == 303, await resp.text()
    assert await redis.hlen(Keys().freezes()) == 1


async def test_login_form_needs_its_double_submit_token(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    desk = await open_desk(client)
    await desk.get("/console/login")  # sets the login cookie
    resp = await desk.post(
        "/console/login", {"key": callers["editor"].key, "csrf": "guess"}, csrf=False
    )
    assert resp.status == 403
    assert COOKIE not in resp.cookies
    fresh = await open_desk(client)  # no login cookie at all
    resp = await fresh.post(
        "/console/login", {"key": callers["editor"].key, "csrf": ""}, csrf=False
    )
    assert resp.status == 403


async def test_a_post_without_a_session_is_401_not_a_redirect(
    client: TestClient[Any, Any], open_desk: OpenDesk
) -> None:
    desk = await open_desk(client)
    resp = await desk.post("/console/accounts/freeze", {"scope": "all", "reason": "x", "csrf": "x"})
    assert resp.status == 401


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/console//evil.example",
        "/v1/posts",
        "javascript:alert(1)",
    ],
)
async def test_login_never_redirects_outside_the_console(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk, target: str
) -> None:
    desk = await open_desk(client)
    _, html = await desk.get("/console/login")
    resp = await desk.post(
        "/console/login", {"key": callers["editor"].key, "csrf": csrf_of(html), "next": target}
    )
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/"


async def test_wrong_role_gets_403(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    desk = await open_desk(client, callers["editor"].key)
    status, _ = await desk.get("/console/audit")
    assert status == 403
    resp = await desk.post("/console/accounts/freeze", {"scope": "all", "reason": "x"})
    assert resp.status == 403


async def test_login_is_audited_without_the_key(
    client: TestClient[Any, Any], callers: dict[str, Caller], open_desk: OpenDesk
) -> None:
    from gateway.appkeys import SERVICES

    await open_desk(client, callers["editor"].key)
    records = [r async for _, r in client.app[SERVICES].audit.records()]
    logins = [r for r in records if r["action"] == "console.login"]
    assert logins and logins[-1]["actor"]["id"] == callers["editor"].id
    assert callers["editor"].key not in str(records)


async def test_console_without_a_slash_redirects_to_it(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/console", allow_redirects=False)
    assert resp.status == 308
    assert resp.headers["Location"] == "/console/"


async def test_a_disabled_console_has_no_routes(make_client: Any, settings: Any) -> None:
    import dataclasses

    off = dataclasses.replace(
        settings, console=dataclasses.replace(settings.console, enabled=False)
    )
    client = await make_client(off)
    for path in ("/console/login", "/console/", "/console"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 404, path
