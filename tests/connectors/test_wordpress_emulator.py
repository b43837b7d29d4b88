"""Fidelity of the WordPress emulator, spoken to over plain HTTP.

The codes and messages asserted here are what a real WordPress 6.1 (Debian's package on Apache
with mod_php and MariaDB) answered to the same requests; tests/connectors/test_wordpress_real.py
asks the real site the same questions when the packages are installed.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from connectors.emulators.wordpress import STATE_KEY, make_app

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


ANON_CREATE = "Sorry, you are not allowed to create posts as this user."
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


@pytest.mark.parametrize(
    ("kw", "status", "code", "message"),
    [
        ({}, 401, "rest_cannot_create", ANON_CREATE),
        # a real WordPress 6.1 treats bad credentials as a visitor: the same answer as no header
        ({"headers": basic("nobody")}, 401, "rest_cannot_create", ANON_CREATE),
        ({"headers": basic(password="wrong")}, 401, "rest_cannot_create", ANON_CREATE),
        (
            {"headers": basic("writer", "wwwwxxxxyyyyzzzz")},
            403,
            "rest_cannot_publish",
            "Sorry, you are not allowed to publish posts in this post type.",
        ),
        (
            {"headers": basic(), "json_extra": {"id": 5}},
            400,
            "rest_post_exists",
            "Cannot create existing post.",
        ),
        (
            {"headers": basic(), "json_extra": {"status": "bogus"}},
            400,
            "rest_invalid_param",
            "Invalid parameter(s): status",
        ),
        (
            {"headers": basic(), "json": {}},
            400,
            "empty_content",
            "Content, title, and excerpt are empty.",
        ),
    ],
    ids=["anonymous", "unknown-user", "wrong-password", "contributor", "id", "status", "empty"],
)
async def test_create_errors_match_real_wordpress(
    server: TestServer, session: Any, kw: dict[str, Any], status: int, code: str, message: str
) -> None:
    body = kw.pop("json", {"title": "x", "status": "publish", **kw.pop("json_extra", {})})
    got, _, answer = await call(session, server, "POST", POSTS, json=body, **kw)
    assert (got, answer["code"], answer["message"]) == (status, code, message)
    assert answer["data"]["status"] == status
    assert set(answer) >= {"code", "message", "data"}


@pytest.mark.parametrize(
    "headers",
    [{}, basic(password="wrong"), basic("nobody")],
    ids=["anonymous", "wrong-password", "unknown-user"],
)
async def test_status_any_search_without_a_login_is_400_invalid_param(
    server: TestServer, session: Any, headers: dict[str, str]
) -> None:
    params = {"search": "mediagate:job=x", "status": "any", "context": "edit"}
    status, _, body = await call(session, server, "GET", POSTS, params=params, headers=headers)
    assert (status, body["code"], body["message"]) == (
        400,
        "rest_invalid_param",
        "Invalid parameter(s): status",
    )
    assert body["data"]["params"] == {"status": "Status is forbidden."}
    assert body["data"]["details"]["status"]["code"] == "rest_forbidden_status"
    status, _, me = await call(session, server, "GET", "/wp-json/wp/v2/users/me", headers=headers)
    assert (status, me["code"], me["message"]) == (
        401,
        "rest_not_logged_in",
        "You are not currently logged in.",
    )


def _raw(name: str, ctype: str = "image/png", **extra: str) -> dict[str, str]:
    return {"Content-Type": ctype, "Content-Disposition": f'attachment; filename="{name}"', **extra}


SIDELOAD = ("rest_upload_sideload_error", "Sorry, you are not allowed to upload this file type.")


@pytest.mark.parametrize(
    ("data", "headers", "status", "code", "message"),
    [
        (PNG, _raw("a.png"), 401, "rest_cannot_create", ANON_CREATE),
        (PNG, _raw("a.png", **basic("writer", "wwww xxxx yyyy zzzz")), 403,
         "rest_cannot_create", ANON_CREATE),
        (b"\x89PNGxx", _raw("a.png", **basic()), 500, *SIDELOAD),
        (b"plain text", _raw("a.jpg", "image/jpeg", **basic()), 500, *SIDELOAD),
        (b"<svg/>", _raw("a.svg", "image/svg+xml", **basic()), 500, *SIDELOAD),
        (PNG, {**_raw("a.png", **basic()),
               "Content-Disposition": "attachment; filename*=UTF-8''%E5%B0%81%E9%9D%A2.png"},
         400, "rest_upload_invalid_disposition",
         "Invalid Content-Disposition supplied. Content-Disposition needs to be formatted as "
         '`attachment; filename="image.png"` or similar.'),
    ],
    ids=["anonymous", "contributor", "not-an-image", "text-as-jpeg", "svg", "filename-star"],
)  # fmt: skip
async def test_media_errors_match_real_wordpress(
    server: TestServer,
    session: Any,
    data: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
    message: str,
) -> None:
    got, _, body = await call(
        session, server, "POST", "/wp-json/wp/v2/media", data=data, headers=headers
    )
    assert (got, body["code"], body["message"]) == (status, code, message)
    assert server.app[STATE_KEY].media == {}


async def test_chinese_filename_is_not_percent_decoded(server: TestServer, session: Any) -> None:
    headers = {**_raw("%E5%B0%81%E9%9D%A2.png"), **basic()}
    status, _, body = await call(
        session, server, "POST", "/wp-json/wp/v2/media", data=PNG, headers=headers
    )
    assert status == 201
    assert body["source_url"].endswith("/E5B081E99DA2.png")
    assert body["title"]["raw"] == "E5B081E99DA2" and body["post"] == 0


async def test_media_parent_and_title_can_be_set(server: TestServer, session: Any) -> None:
    _, _, post = await call(session, server, "POST", POSTS, json={"title": "t"}, headers=basic())
    headers = {**_raw("a.jpg", "image/jpeg"), **basic()}
    _, _, media = await call(
        session, server, "POST", "/wp-json/wp/v2/media", data=JPEG, headers=headers
    )
    url = f"/wp-json/wp/v2/media/{media['id']}"
    status, _, body = await call(
        session, server, "POST", url, json={"post": post["id"], "title": "封面"}, headers=basic()
    )
    assert status == 200 and body["post"] == post["id"] and body["title"]["raw"] == "封面"
    status, _, body = await call(session, server, "POST", url, json={"post": 9999}, headers=basic())
    assert status == 400 and body["code"] == "rest_invalid_param"


async def test_rendered_content_wraps_a_lone_trailing_comment(
    server: TestServer, session: Any
) -> None:
    """What a real WordPress renders: the comment after the last block is an empty paragraph;
    inside the last element it stays there."""
    cases = {
        "<p>开场</p><p>中段</p><!-- mediagate:job=a -->": (
            "<p>开场</p>\n<p>中段</p>\n<p><!-- mediagate:job=a --></p>\n"
        ),
        "<p>开场</p><p>中段<!-- mediagate:job=b --></p>": (
            "<p>开场</p>\n<p>中段<!-- mediagate:job=b --></p>\n"
        ),
        "plain text<!-- mediagate:job=c -->": "<p>plain text<!-- mediagate:job=c --></p>\n",
        "<ul><li>a<!-- mediagate:job=d --></li></ul>": (
            "<ul>\n<li>a<!-- mediagate:job=d --></li>\n</ul>\n"
        ),
    }
    for content, rendered in cases.items():
        _, _, body = await call(
            session, server, "POST", POSTS, json={"title": "t", "content": content},
            headers=basic(),
        )  # fmt: skip
        assert body["content"]["rendered"] == rendered, content
        assert body["content"]["raw"] == content


async def test_an_update_with_a_status_restores_a_trashed_post(
    server: TestServer, session: Any
) -> None:
    _, _, post = await call(
        session, server, "POST", POSTS, json={"title": "Kept", "status": "publish"},
        headers=basic(),
    )  # fmt: skip
    url = f"{POSTS}/{post['id']}"
    _, _, trashed = await call(session, server, "DELETE", url, headers=basic())
    assert trashed["status"] == "trash" and trashed["slug"] == "kept__trashed"
    _, _, body = await call(session, server, "POST", url, json={"title": "x"}, headers=basic())
    assert body["status"] == "trash"  # no status: stays in the trash
    _, _, body = await call(
        session, server, "POST", url, json={"status": "publish"}, headers=basic()
    )
    assert body["status"] == "publish" and body["slug"] == "kept"


async def test_without_rewrite_rules_wp_json_is_an_html_404(
    server: TestServer, session: Any
) -> None:
    async with session.post(
        server.make_url("/_emulator/php"), json={"pretty_permalinks": False}
    ) as resp:
        assert resp.status == 200
    for path in ("/wp-json/", POSTS):
        async with session.get(server.make_url(path)) as resp:
            assert resp.status == 404 and resp.content_type == "text/html"


async def test_php_notice_before_the_json_of_a_201(server: TestServer, session: Any) -> None:
    async with session.post(server.make_url("/_emulator/php"), json={"notice": 1}):
        pass
    async with session.post(
        server.make_url(POSTS), json={"title": "t", "status": "publish"}, headers=basic()
    ) as resp:
        text = await resp.text()
        assert resp.status == 201 and text.startswith("<br />\n<b>Notice</b>")
    assert len(server.app[STATE_KEY].posts) == 1


async def test_late_insert_outlives_the_client(server: TestServer, session: Any) -> None:
    async with session.post(server.make_url("/_emulator/php"), json={"late_insert_s": 0.6}):
        pass
    with pytest.raises(TimeoutError):
        async with session.post(
            server.make_url(POSTS),
            json={"title": "late", "status": "publish"},
            headers=basic(),
            timeout=aiohttp.ClientTimeout(total=0.2),
        ):
            pass
    assert server.app[STATE_KEY].posts == {}
    await asyncio.sleep(0.8)
    assert [p["title"] for p in server.app[STATE_KEY].posts.values()] == ["late"]


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
    form.add_field("file", PNG, filename="图.png", content_type="image/png")
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
        session, server, "POST", "/wp-json/wp/v2/media", data=JPEG, headers=headers
    )
    assert status == 201 and raw["source_url"].endswith("/a.jpg") and raw["id"] != body["id"]
    status, _, again = await call(
        session, server, "POST", "/wp-json/wp/v2/media", data=JPEG, headers=headers
    )
    assert again["source_url"].endswith("/a-1.jpg")


async def test_terms_and_me(server: TestServer, session: Any) -> None:
    status, headers, cats = await call(
        session, server, "GET", "/wp-json/wp/v2/categories", params={"per_page": "100"}
    )
    assert status == 200 and cats[0]["name"] == "Uncategorized" and headers["X-WP-Total"] == "1"
    status, _, tags = await call(session, server, "GET", "/wp-json/wp/v2/tags")
    assert status == 200 and tags == []
    status, _, me = await call(session, server, "GET", "/wp-json/wp/v2/users/me", headers=basic())
    assert status == 200 and me["name"] == "editor"
