"""Fidelity of the WordPress emulator to reference/platforms.md §3, spoken to over plain HTTP."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from connectors.emulators.wordpress import make_app

PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"
POSTS = "/wp-json/wp/v2/posts"


def basic(user: str = "editor", password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def server(aiohttp_server: Any) -> TestServer:
    users = {"editor": [PASSWORD], "writer": ["wwww xxxx yyyy zzzz"]}
    return await aiohttp_server(make_app(users=users, contributors=("writer",)))


async def call(
    session: aiohttp.ClientSession, server: TestServer, method: str, path: str, **kw: Any
) -> tuple[int, Any, Any]:
    async with session.request(method, server.make_url(path), **kw) as resp:
        return resp.status, resp.headers, await resp.json()


async def test_create_answers_201_with_location_and_edit_context(
    server: TestServer, session: Any
) -> None:
    status, headers, body = await call(
        session,
        server,
        "POST",
        POSTS,
        json={"title": "Hello", "status": "publish"},
        headers=basic(),
    )
    assert status == 201 and headers["Location"].endswith(f"{POSTS}/{body['id']}")
    assert body["title"]["raw"] == "Hello" and body["slug"] == "hello"


@pytest.mark.parametrize(
    ("kw", "status", "code"),
    [
        ({}, 401, "rest_cannot_create"),
        ({"headers": basic("nobody")}, 401, "invalid_username"),
        ({"headers": basic(password="wrong")}, 401, "incorrect_password"),
        ({"headers": basic("writer", "wwwwxxxxyyyyzzzz")}, 403, "rest_cannot_publish"),
        ({"headers": basic(), "json_extra": {"id": 5}}, 400, "rest_post_exists"),
        ({"headers": basic(), "json_extra": {"status": "bogus"}}, 400, "rest_invalid_param"),
    ],
)
async def test_create_errors_use_the_wp_envelope(
    server: TestServer, session: Any, kw: dict[str, Any], status: int, code: str
) -> None:
    body = {"title": "x", "status": "publish", **kw.pop("json_extra", {})}
    got, _, answer = await call(session, server, "POST", POSTS, json=body, **kw)
    assert got == status and answer["code"] == code and answer["data"]["status"] == status
    assert set(answer) >= {"code", "message", "data"}


async def test_strip_auth_switch(server: TestServer, session: Any) -> None:
    async with session.post(server.make_url("/_emulator/strip_auth"), json={"on": True}):
        pass
    status, _, body = await call(
        session, server, "POST", POSTS, json={"title": "x"}, headers=basic()
    )
    assert status == 401 and body["code"] == "rest_cannot_create"


async def test_slugs_trash_and_force(server: TestServer, session: Any) -> None:
    ids = []
    for _ in range(3):
        _, _, body = await call(
            session,
            server,
            "POST",
            POSTS,
            json={"title": "Same", "status": "publish"},
            headers=basic(),
        )
        ids.append(body["id"])
    _, _, posts = await call(session, server, "GET", POSTS, params={"slug": "same-2"})
    assert [p["id"] for p in posts] == [ids[1]]
    status, _, body = await call(session, server, "DELETE", f"{POSTS}/{ids[0]}", headers=basic())
    assert status == 200 and body["status"] == "trash"
    status, _, body = await call(session, server, "DELETE", f"{POSTS}/{ids[0]}", headers=basic())
    assert status == 410 and body["code"] == "rest_already_trashed"
    # the trashed post releases its slug
    _, _, body = await call(
        session, server, "POST", POSTS, json={"title": "Same", "status": "publish"}, headers=basic()
    )
    assert body["slug"] == "same"
    status, _, body = await call(
        session, server, "DELETE", f"{POSTS}/{ids[1]}", params={"force": "true"}, headers=basic()
    )
    assert status == 200 and body["deleted"] is True and body["previous"]["id"] == ids[1]
    status, _, body = await call(
        session, server, "DELETE", f"{POSTS}/{ids[1]}", params={"force": "true"}, headers=basic()
    )
    assert status == 404 and body["code"] == "rest_post_invalid_id"


async def test_trash_disabled(aiohttp_server: Any, session: Any) -> None:
    server = await aiohttp_server(make_app(users={"editor": [PASSWORD]}, trash_enabled=False))
    _, _, body = await call(session, server, "POST", POSTS, json={"title": "t"}, headers=basic())
    status, _, answer = await call(
        session, server, "DELETE", f"{POSTS}/{body['id']}", headers=basic()
    )
    assert status == 501 and answer["code"] == "rest_trash_not_supported"


async def test_update_verbs(server: TestServer, session: Any) -> None:
    _, _, body = await call(session, server, "POST", POSTS, json={"title": "t"}, headers=basic())
    for method in ("POST", "PUT", "PATCH"):
        status, _, updated = await call(
            session,
            server,
            method,
            f"{POSTS}/{body['id']}",
            json={"title": method},
            headers=basic(),
        )
        assert status == 200 and updated["title"]["raw"] == method
    status, _, answer = await call(session, server, "PUT", f"{POSTS}/999", json={}, headers=basic())
    assert status == 404 and answer["code"] == "rest_post_invalid_id"


async def test_list_pagination_search_and_context(server: TestServer, session: Any) -> None:
    for i in range(5):
        await call(
            session,
            server,
            "POST",
            POSTS,
            json={"title": f"文章{i}", "content": f"<!-- m{i} -->", "status": "publish"},
            headers=basic(),
        )
    status, headers, posts = await call(session, server, "GET", POSTS, params={"per_page": "2"})
    assert status == 200 and len(posts) == 2
    assert headers["X-WP-Total"] == "5" and headers["X-WP-TotalPages"] == "3"
    status, _, posts = await call(
        session,
        server,
        "GET",
        POSTS,
        params={"search": "m3", "status": "any", "context": "edit"},
        headers=basic(),
    )
    assert [p["title"]["raw"] for p in posts] == ["文章3"]
    status, _, body = await call(session, server, "GET", POSTS, params={"context": "edit"})
    assert status == 401
    status, _, body = await call(session, server, "GET", POSTS, params={"per_page": "101"})
    assert status == 400 and body["code"] == "rest_invalid_param"


async def test_media_multipart_and_raw(server: TestServer, session: Any) -> None:
    form = aiohttp.FormData()
    form.add_field("file", b"\x89PNG", filename="图.png", content_type="image/png")
    status, _, body = await call(
        session, server, "POST", "/wp-json/wp/v2/media", data=form, headers=basic()
    )
    assert status == 201 and body["mime_type"] == "image/png"
    headers = {
        **basic(),
        "Content-Type": "image/jpeg",
        "Content-Disposition": 'attachment; filename="a.jpg"',
    }
    status, _, raw = await call(
        session, server, "POST", "/wp-json/wp/v2/media", data=b"\xff\xd8", headers=headers
    )
    assert status == 201 and raw["source_url"].endswith("/a.jpg") and raw["id"] != body["id"]
    status, _, again = await call(
        session, server, "POST", "/wp-json/wp/v2/media", data=b"\xff\xd8", headers=headers
    )
    assert again["source_url"].endswith("/a-1.jpg")
    headers["Content-Type"] = "image/svg+xml"
    status, _, err = await call(
        session, server, "POST", "/wp-json/wp/v2/media", data=b"<svg/>", headers=headers
    )
    assert status == 400 and err["code"] == "rest_upload_sideload_error"
    status, _, err = await call(session, server, "POST", "/wp-json/wp/v2/media", data=b"x")
    assert status == 400 and err["code"] == "rest_cannot_create"


async def test_terms_and_me(server: TestServer, session: Any) -> None:
    status, headers, cats = await call(
        session, server, "GET", "/wp-json/wp/v2/categories", params={"per_page": "100"}
    )
    assert status == 200 and cats[0]["name"] == "Uncategorized" and headers["X-WP-Total"] == "1"
    status, _, tags = await call(session, server, "GET", "/wp-json/wp/v2/tags")
    assert status == 200 and tags == []
    status, _, me = await call(session, server, "GET", "/wp-json/wp/v2/users/me", headers=basic())
    assert status == 200 and me["name"] == "editor"
