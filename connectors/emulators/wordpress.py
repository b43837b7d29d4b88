"""A local WordPress REST API emulator (``/wp-json/wp/v2``) for the website connector.

It follows wp-core's controllers as summarised in reference/platforms.md §3 and, where they
differ, what a real WordPress 6.1 (Debian's package, Apache + mod_php, MariaDB) answers:

* Application Passwords over HTTP Basic (spaces stripped). A wrong or revoked password or an
  unknown user is **not** an error of its own: the request runs as a visitor, exactly as when the
  host strips the Authorization header (switchable) -- ``POST /posts`` answers 401
  ``rest_cannot_create`` "Sorry, you are not allowed to create posts as this user.",
  ``/users/me`` 401 ``rest_not_logged_in``, and a search with ``status=any`` 400
  ``rest_invalid_param`` "Invalid parameter(s): status" (``rest_forbidden_status``);
* posts with slug de-duplication (``-2``, ``-3``), 201 + ``Location``, 400 ``empty_content`` when
  title, content and excerpt are all empty, EDITABLE verbs (POST/PUT/PATCH); an update with a
  ``status`` brings a trashed post back (slug restored), one without leaves it in the trash;
* trash and ``force=true`` delete (410 ``rest_already_trashed``, 404 after force, 501 when trash
  is off); list with ``search``/``slug``/``status`` (comma list)/``per_page``/``page``,
  ``modified_after`` (exclusive, like ``WP_Date_Query``: an ISO 8601 time with an offset is
  converted to the site's time zone, one without is taken as site time), ``orderby``
  (``date``/``id``/``modified``/``title``), ``order``, and ``X-WP-Total``/``X-WP-TotalPages``;
* ``date``/``modified`` in the site's time zone (``utc_offset_h``), ``date_gmt``/``modified_gmt``
  in GMT, both without an offset, as WordPress writes them;
* ``content.rendered`` passed through a ``wpautop``-like filter: a comment standing alone after
  the last block becomes ``<p><!-- … --></p>``;
* media upload as a raw body with ``Content-Disposition`` (``filename=`` only: ``filename*=`` is
  400 ``rest_upload_invalid_disposition``; the name is not percent-decoded, ``%`` is dropped, so
  ``%E5%B0%81%E9%9D%A2.png`` is stored as ``E5B081E99DA2.png`` with that title) or multipart
  ``file``; the bytes must be an image WordPress allows (sniffed like ``finfo``), otherwise 500
  ``rest_upload_sideload_error``; a visitor gets 401 and a Contributor 403 ``rest_cannot_create``;
  ``POST /media/{id}`` sets ``post`` (the parent), ``title``, ``alt_text``;
* the 5.7+ error envelope ``{"code", "message", "data": {"status"}}``.

PHP's own misbehaviour, switchable with ``POST /_emulator/php``:
``{"notice": n}`` -- the next n creates print a PHP notice before the JSON of their 201;
``{"late_insert_s": s}`` -- the next create sleeps ``s`` seconds and then inserts the post, even
when the client has long gone (mod_php does not stop such a request);
``{"pretty_permalinks": false}`` -- every ``/wp-json/`` URL is an HTML 404 (Debian's shipped
``.htaccess`` has every rewrite rule commented out);
``{"app_passwords": false}`` -- Application Passwords unavailable (plain HTTP on a site that is
not ``local``): Basic credentials are ignored and the REST index lists no authentication.

Console calls -- what a person does in wp-admin, not through the REST API (bypass detection,
docs/bypass.md); no credentials, and the fault switches do not apply to them:

* ``POST /_emulator/console/publish`` ``{"title"?, "content"}`` -> ``{"platform_id", "url"}``;
* ``POST /_emulator/console/edit`` ``{"platform_id", "title"?, "content"?}`` (``modified`` moves);
* ``POST /_emulator/console/delete`` ``{"platform_id", "force"?: false}`` -- to the trash, or
  deleted for good with ``force``.

Control routes (besides :mod:`connectors.emulators.faults`):

* ``GET /_emulator/items`` -- ``{"posts": [...], "media": [...]}``, trashed and deleted included;
* ``GET /_emulator/counters`` -- calls per endpoint, posts and media created;
* ``POST /_emulator/revoke`` ``{"user"?}`` -- revoke the application passwords of one user (or all);
* ``POST /_emulator/strip_auth`` ``{"on": bool}`` -- behave as if a proxy strips Authorization;
* ``POST /_emulator/php`` -- PHP faults and permalinks (above).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from aiohttp import web

from connectors.emulators import faults

_PREFIX = "/wp-json/wp/v2"
_EXTENSIONS = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "jpe": "image/jpeg",
               "png": "image/png", "gif": "image/gif", "webp": "image/webp"}  # fmt: skip
# sanitize_file_name(): these characters are dropped (``%`` included: no percent-decoding)
_FILENAME_DROP_RE = re.compile(r"""[?\[\]/\\=<>:;,'"&$#*()|~`!{}%+\x00]""")
_BLOCKS = (
    "table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|"
    "area|blockquote|address|math|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|"
    "hgroup|header|footer|nav|figure|figcaption|details|menu|summary"
)
_BLOCK_OPEN_RE = re.compile(rf"(<(?:{_BLOCKS})[\s/>])", re.I)
_BLOCK_CLOSE_RE = re.compile(rf"(</(?:{_BLOCKS})>)", re.I)
_P_BEFORE_BLOCK_RE = re.compile(rf"<p>\s*(</?(?:{_BLOCKS})[^>]*>)", re.I)
_P_AFTER_BLOCK_RE = re.compile(rf"(</?(?:{_BLOCKS})[^>]*>)\s*</p>", re.I)
_NOTICE = (
    "<br />\n<b>Notice</b>:  Undefined index: layout in <b>/var/www/wp-content/themes/legacy/"
    "functions.php</b> on line <b>42</b><br />\n"
)
_ANON_CREATE = "Sorry, you are not allowed to create posts as this user."


@dataclass
class WordPressState:
    """Everything the emulator remembers; tests may read and change it in-process."""

    users: dict[str, list[str]]
    contributors: frozenset[str] = frozenset()
    categories: dict[int, str] = field(default_factory=lambda: {1: "Uncategorized"})
    tags: dict[int, str] = field(default_factory=dict)
    trash_enabled: bool = True
    strip_auth: bool = False
    app_passwords: bool = True
    pretty_permalinks: bool = True
    notices: int = 0
    utc_offset_h: float = 0.0
    late_insert_s: float = 0.0
    next_id: int = 1
    posts: dict[int, dict[str, Any]] = field(default_factory=dict)
    media: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    late: set[asyncio.Task[None]] = field(default_factory=set)


STATE_KEY = web.AppKey("wordpress_state", WordPressState)


class _WPError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.data = data


def _error_response(err: _WPError) -> web.Response:
    body = {"code": err.code, "message": err.message, "data": {**err.data, "status": err.status}}
    return web.json_response(body, status=err.status)


@web.middleware
async def _wp_errors(request: web.Request, handler: faults.Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except _WPError as err:
        return _error_response(err)


_WP_TIME = "%Y-%m-%dT%H:%M:%S"


def _now() -> str:
    """GMT now, as WordPress writes ``*_gmt`` fields (stored times are GMT)."""
    return datetime.now(UTC).strftime(_WP_TIME)


def _local(state: WordPressState, gmt: str) -> str:
    """A stored GMT time in the site's time zone (``date``/``modified``)."""
    moment = datetime.strptime(gmt, _WP_TIME) + timedelta(hours=state.utc_offset_h)
    return moment.strftime(_WP_TIME)


def _after_gmt(state: WordPressState, raw: str, param: str) -> datetime:
    """``modified_after`` as a naive GMT time (WP_Date_Query: an offset is honoured, a time
    without one is the site's)."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _WPError(
            400,
            "rest_invalid_param",
            f"Invalid parameter(s): {param}",
            params={param: "Invalid date."},
        ) from None
    if moment.tzinfo is None:
        return moment - timedelta(hours=state.utc_offset_h)
    return moment.astimezone(UTC).replace(tzinfo=None)


def _user(request: web.Request) -> str | None:
    """The authenticated user, None for a visitor.

    Like WordPress 6.1 on Apache + mod_php, bad credentials (unknown user, wrong or revoked
    application password) make the request a visitor's, not an error of their own.
    """
    state = request.app[STATE_KEY]
    header = request.headers.get("Authorization", "")
    if state.strip_auth or not state.app_passwords or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    if user not in state.users:
        return None
    password = "".join(ch for ch in password if ch.isalnum())
    if password not in ["".join(c for c in p if c.isalnum()) for p in state.users[user]]:
        return None
    return user


def _require(request: web.Request, code: str, what: str) -> str:
    user = _user(request)
    if user is None:
        raise _WPError(401, code, f"Sorry, you are not allowed to {what} as this user.")
    return user


def _slugify(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    slug = re.sub(r"[\s_-]+", "-", text).strip("-")
    return quote(slug, safe="-").lower() if slug else ""


def _unique_slug(state: WordPressState, slug: str, own_id: int | None) -> str:
    taken = {p["slug"] for pid, p in state.posts.items() if pid != own_id and not p.get("_deleted")}
    if slug not in taken:
        return slug
    n = 2
    while f"{slug}-{n}" in taken:
        n += 1
    return f"{slug}-{n}"


def autop(text: str) -> str:
    """A small ``wpautop``: paragraphs around what is not a block (enough to show where a lone
    HTML comment after the last block ends up)."""
    if not text.strip():
        return ""
    text = _BLOCK_OPEN_RE.sub("\n\n\\1", text)
    text = _BLOCK_CLOSE_RE.sub("\\1\n\n", text)
    chunks = [c.strip("\n") for c in re.split(r"\n\s*\n", text) if c.strip()]
    out = "".join(f"<p>{chunk}</p>\n" for chunk in chunks)
    out = re.sub(r"<p>\s*</p>", "", out)
    out = _P_BEFORE_BLOCK_RE.sub("\\1", out)
    return _P_AFTER_BLOCK_RE.sub("\\1", out)


def _render(request: web.Request, post: dict[str, Any], context: str) -> dict[str, Any]:
    base = f"{request.scheme}://{request.host}"
    state = request.app[STATE_KEY]
    body: dict[str, Any] = {
        "id": post["id"],
        "date": _local(state, post["date"]),
        "date_gmt": post["date"],
        "modified": _local(state, post["modified"]),
        "modified_gmt": post["modified"],
        "slug": post["slug"],
        "status": post["status"],
        "type": "post",
        "link": f"{base}/{post['slug']}/"
        if post["status"] == "publish"
        else f"{base}/?p={post['id']}",
        "guid": {"rendered": f"{base}/?p={post['id']}"},
        "title": {"rendered": post["title"]},
        "content": {"rendered": autop(post["content"]), "protected": False},
        "excerpt": {"rendered": post["excerpt"], "protected": False},
        "author": post["author"],
        "featured_media": post["featured_media"],
        "categories": post["categories"],
        "tags": post["tags"],
        "meta": post["meta"],
    }
    if context == "edit":
        for key in ("title", "content", "excerpt"):
            body[key]["raw"] = post[key]
    return body


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise _WPError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
    if not isinstance(body, dict):
        raise _WPError(400, "rest_invalid_json", "Invalid JSON body passed.")
    return body


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("raw", ""))
    return "" if value is None else str(value)


def _apply(state: WordPressState, post: dict[str, Any], body: dict[str, Any]) -> None:
    for key in ("title", "content", "excerpt"):
        if key in body:
            post[key] = _text(body[key])
    if "status" in body:
        if body["status"] not in ("publish", "future", "draft", "pending", "private", "trash"):
            raise _WPError(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): status",
                params={"status": "status is not one of publish, future, draft, pending, private."},
            )
        if post["status"] == "trash" and body["status"] != "trash":
            # wp_insert_post() untrashes: the slug from before the trash comes back
            post["slug"] = post.pop("_desired_slug", post["slug"].removesuffix("__trashed"))
        post["status"] = body["status"]
    if "featured_media" in body:
        media_id = int(body["featured_media"] or 0)
        # wp-core ignores handle_featured_media()'s result on create: an unknown id is dropped
        post["featured_media"] = media_id if media_id in state.media else 0
    for key in ("categories", "tags"):
        if key in body:
            post[key] = [int(v) for v in body[key]]
    if "meta" in body and isinstance(body["meta"], dict):
        post["meta"].update(body["meta"])
    if body.get("slug"):
        post["slug"] = _unique_slug(state, _slugify(str(body["slug"])), post["id"])
    elif not post["slug"] and post["title"]:
        post["slug"] = _unique_slug(state, _slugify(post["title"]), post["id"])
    if not post["slug"]:
        post["slug"] = str(post["id"])
    post["modified"] = _now()


async def _create_post(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["posts.create"] += 1
    user = _require(request, "rest_cannot_create", "create posts")
    body = await _json_body(request)
    if "id" in body:
        raise _WPError(400, "rest_post_exists", "Cannot create existing post.")
    if not any(_text(body.get(k)).strip() for k in ("title", "content", "excerpt")):
        raise _WPError(400, "empty_content", "Content, title, and excerpt are empty.")
    if user in state.contributors and body.get("status") in ("publish", "future", "private"):
        raise _WPError(
            403,
            "rest_cannot_publish",
            "Sorry, you are not allowed to publish posts in this post type.",
        )
    post_id = state.next_id
    state.next_id += 1
    post: dict[str, Any] = {
        "id": post_id,
        "date": _now(),
        "modified": _now(),
        "slug": "",
        "status": "draft",
        "title": "",
        "content": "",
        "excerpt": "",
        "author": sorted(state.users).index(user) + 1,
        "featured_media": 0,
        "categories": [1],
        "tags": [],
        "meta": {},
    }
    _apply(state, post, body)
    if state.late_insert_s > 0:
        # a PHP request that outlives its client: the insert happens anyway, later
        delay_s, state.late_insert_s = state.late_insert_s, 0.0
        task = asyncio.ensure_future(_insert_later(state, post, delay_s))
        state.late.add(task)
        task.add_done_callback(state.late.discard)
        await asyncio.shield(task)
    else:
        _insert(state, post)
    location = f"{request.scheme}://{request.host}{_PREFIX}/posts/{post_id}"
    rendered = _render(request, post, "edit")
    if state.notices > 0:
        state.notices -= 1
        text = _NOTICE + json.dumps(rendered, ensure_ascii=False)
        return web.Response(
            text=text, status=201, content_type="application/json", headers={"Location": location}
        )
    response = web.json_response(rendered, status=201)
    response.headers["Location"] = location
    return response


def _insert(state: WordPressState, post: dict[str, Any]) -> None:
    state.posts[post["id"]] = post
    state.counters["posts.created"] += 1


async def _insert_later(state: WordPressState, post: dict[str, Any], delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    _insert(state, post)


def _get(state: WordPressState, raw_id: str) -> dict[str, Any]:
    try:
        post = state.posts.get(int(raw_id))
    except ValueError:
        post = None
    if post is None or post.get("_deleted"):
        raise _WPError(404, "rest_post_invalid_id", "Invalid post ID.")
    return post


async def _list_posts(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["posts.list"] += 1
    q = request.query
    context = q.get("context", "view")
    statuses = q.get("status", "publish").split(",")
    user = _user(request)
    if statuses != ["publish"] and user is None:
        # the status parameter is validated (and refused to a visitor) before the context
        raise _WPError(
            400,
            "rest_invalid_param",
            "Invalid parameter(s): status",
            params={"status": "Status is forbidden."},
            details={
                "status": {
                    "code": "rest_forbidden_status",
                    "message": "Status is forbidden.",
                    "data": {"status": 401},
                }
            },
        )
    if context == "edit" and user is None:
        raise _WPError(
            401,
            "rest_forbidden_context",
            "Sorry, you are not allowed to edit posts in this post type.",
        )
    try:
        per_page = int(q.get("per_page", "10"))
        page = int(q.get("page", "1"))
    except ValueError:
        raise _WPError(400, "rest_invalid_param", "Invalid parameter(s): per_page") from None
    if not 1 <= per_page <= 100:
        raise _WPError(
            400,
            "rest_invalid_param",
            "Invalid parameter(s): per_page",
            params={"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"},
        )
    posts = [p for p in state.posts.values() if not p.get("_deleted")]
    if "any" not in statuses:
        posts = [p for p in posts if p["status"] in statuses]
    else:
        posts = [p for p in posts if p["status"] != "trash"]
    if "slug" in q:
        slugs = q["slug"].split(",")
        posts = [p for p in posts if p["slug"] in slugs]
    if q.get("search"):
        needle = q["search"].lower()
        posts = [
            p for p in posts if any(needle in p[k].lower() for k in ("title", "content", "excerpt"))
        ]
    if q.get("modified_after"):
        after = _after_gmt(state, q["modified_after"], "modified_after")
        posts = [p for p in posts if datetime.strptime(p["modified"], _WP_TIME) > after]
    orderby = q.get("orderby", "date")
    keys = {
        "id": lambda p: (p["id"],),
        "date": lambda p: (p["date"], p["id"]),
        "modified": lambda p: (p["modified"], p["id"]),
        "title": lambda p: (p["title"], p["id"]),
    }
    if orderby not in keys or q.get("order", "desc") not in ("asc", "desc"):
        bad = "orderby" if orderby not in keys else "order"
        raise _WPError(400, "rest_invalid_param", f"Invalid parameter(s): {bad}")
    posts.sort(key=keys[orderby], reverse=q.get("order", "desc") == "desc")
    total = len(posts)
    pages = max(1, math.ceil(total / per_page))
    if page > pages and total:
        raise _WPError(
            400,
            "rest_post_invalid_page_number",
            "The page number requested is larger than the number of pages available.",
        )
    chunk = posts[(page - 1) * per_page : page * per_page]
    response = web.json_response([_render(request, p, context) for p in chunk])
    response.headers["X-WP-Total"] = str(total)
    response.headers["X-WP-TotalPages"] = str(pages)
    return response


async def _get_post(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["posts.get"] += 1
    post = _get(state, request.match_info["id"])
    context = request.query.get("context", "view")
    if (post["status"] != "publish" or context == "edit") and _user(request) is None:
        raise _WPError(401, "rest_forbidden", "Sorry, you are not allowed to do that.")
    return web.json_response(_render(request, post, context))


async def _update_post(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["posts.update"] += 1
    _require(request, "rest_cannot_edit", "edit this post")
    post = _get(state, request.match_info["id"])
    _apply(state, post, await _json_body(request))
    return web.json_response(_render(request, post, "edit"))


async def _delete_post(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["posts.delete"] += 1
    _require(request, "rest_cannot_delete", "delete this post")
    post = _get(state, request.match_info["id"])
    if request.query.get("force") in ("true", "1"):
        previous = _render(request, post, "edit")
        post["_deleted"] = True
        return web.json_response({"deleted": True, "previous": previous})
    if not state.trash_enabled:
        raise _WPError(
            501,
            "rest_trash_not_supported",
            "The post does not support trashing. Set 'force' to 'true' to delete.",
        )
    if post["status"] == "trash":
        raise _WPError(410, "rest_already_trashed", "The post has already been deleted.")
    post["_previous_status"] = post["status"]
    post["_desired_slug"] = post["slug"]
    post["status"] = "trash"
    post["slug"] = f"{post['slug']}__trashed"
    post["modified"] = _now()  # wp_trash_post() saves the post
    return web.json_response(_render(request, post, "edit"))


async def _upload(request: web.Request) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) from either upload form."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        file = form.get("file")
        if not isinstance(file, web.FileField):
            raise _WPError(400, "rest_upload_no_data", "No data supplied.")
        with file.file:
            return file.filename, file.content_type, file.file.read()
    data = await request.read()
    if not data:
        raise _WPError(400, "rest_upload_no_data", "No data supplied.")
    if "Content-Type" not in request.headers:
        raise _WPError(400, "rest_upload_no_content_type", "No Content-Type supplied.")
    disposition = request.headers.get("Content-Disposition")
    if not disposition:
        raise _WPError(
            400, "rest_upload_no_content_disposition", "No Content-Disposition supplied."
        )
    filename = _disposition_filename(disposition)
    if not filename:
        raise _WPError(
            400,
            "rest_upload_invalid_disposition",
            "Invalid Content-Disposition supplied. Content-Disposition needs to be formatted"
            ' as `attachment; filename="image.png"` or similar.',
        )
    return filename, request.content_type, data


def _disposition_filename(header: str) -> str:
    """The ``filename`` attribute as WordPress reads it: no ``filename*``, no decoding."""
    _, semicolon, attrs = header.strip().partition(";")
    filename = ""
    if not semicolon:
        return ""
    for part in attrs.split(";"):
        key, eq, value = part.partition("=")
        if eq and key.strip() == "filename":
            filename = value.strip()
    if len(filename) >= 2 and filename[0] == filename[-1] == '"':
        filename = filename[1:-1]
    return filename


def _sanitize_filename(name: str) -> str:
    name = _FILENAME_DROP_RE.sub("", name)
    name = re.sub(r"[\s-]+", "-", name).strip(".-_")
    return name


def _sniff(data: bytes) -> str | None:
    """The image type of the bytes, as ``finfo`` would tell; None when not an allowed image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def _create_media(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["media.create"] += 1
    user = _user(request)
    if user is None:
        raise _WPError(401, "rest_cannot_create", _ANON_CREATE)
    if user in state.contributors:
        raise _WPError(403, "rest_cannot_create", _ANON_CREATE)
    filename, _declared_type, data = await _upload(request)
    filename = _sanitize_filename(filename)
    name, _dot, ext = filename.rpartition(".")
    content_type = _sniff(data)
    if not name or ext.lower() not in _EXTENSIONS or content_type is None:
        raise _WPError(
            500,
            "rest_upload_sideload_error",
            "Sorry, you are not allowed to upload this file type.",
        )
    title = name
    stem = name
    folder = f"/wp-content/uploads/{datetime.now(UTC):%Y/%m}"
    path = f"{folder}/{stem}.{ext}"
    n = 1
    while path in state.files:
        path = f"{folder}/{stem}-{n}.{ext}"
        n += 1
    state.files[path] = (content_type, data)
    media_id = state.next_id
    state.next_id += 1
    item = {
        "id": media_id,
        "date": _now(),
        "slug": _slugify(stem) or str(state.next_id - 1),
        "status": "inherit",
        "type": "attachment",
        "post": 0,
        "author": sorted(state.users).index(user) + 1,
        "alt_text": "",
        "title": {"raw": title, "rendered": title},
        "mime_type": content_type,
        "media_type": "image",
        "source_url": f"{request.scheme}://{request.host}{path}",
        "media_details": {"filesize": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        "_path": path,
    }
    state.media[media_id] = item
    state.counters["media.created"] += 1
    public = {k: v for k, v in item.items() if not k.startswith("_")}
    response = web.json_response(public, status=201)
    response.headers["Location"] = f"{request.scheme}://{request.host}{_PREFIX}/media/{media_id}"
    return response


def _media_item(state: WordPressState, raw_id: str) -> dict[str, Any]:
    try:
        return state.media[int(raw_id)]
    except (KeyError, ValueError):
        raise _WPError(404, "rest_post_invalid_id", "Invalid post ID.") from None


async def _get_media(request: web.Request) -> web.Response:
    item = _media_item(request.app[STATE_KEY], request.match_info["id"])
    return web.json_response({k: v for k, v in item.items() if not k.startswith("_")})


async def _update_media(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["media.update"] += 1
    _require(request, "rest_cannot_edit", "edit this post")
    item = _media_item(state, request.match_info["id"])
    body = await _json_body(request)
    if "post" in body:
        parent = int(body["post"] or 0)
        if parent and (parent not in state.posts or state.posts[parent].get("_deleted")):
            raise _WPError(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): post",
                params={"post": "Invalid post ID."},
            )
        item["post"] = parent
    if "title" in body:
        title = _text(body["title"])
        item["title"] = {"raw": title, "rendered": title}
    if "alt_text" in body:
        item["alt_text"] = str(body["alt_text"])
    return web.json_response({k: v for k, v in item.items() if not k.startswith("_")})


async def _file(request: web.Request) -> web.Response:
    found = request.app[STATE_KEY].files.get(request.path)
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(body=found[1], content_type=found[0])


async def _me(request: web.Request) -> web.Response:
    user = _user(request)
    if user is None:
        raise _WPError(401, "rest_not_logged_in", "You are not currently logged in.")
    return web.json_response(
        {"id": sorted(request.app[STATE_KEY].users).index(user) + 1, "name": user, "slug": user}
    )


def _terms(kind: str) -> faults.Handler:
    async def handler(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        terms: dict[int, str] = getattr(state, kind)
        try:
            per_page = int(request.query.get("per_page", "10"))
        except ValueError:
            raise _WPError(400, "rest_invalid_param", "Invalid parameter(s): per_page") from None
        if not 1 <= per_page <= 100:
            raise _WPError(400, "rest_invalid_param", "Invalid parameter(s): per_page")
        items = [
            {"id": tid, "name": name, "slug": _slugify(name) or str(tid), "taxonomy": kind}
            for tid, name in sorted(terms.items())
        ][:per_page]
        response = web.json_response(items)
        response.headers["X-WP-Total"] = str(len(terms))
        response.headers["X-WP-TotalPages"] = str(max(1, math.ceil(len(terms) / per_page)))
        return response

    return handler


async def _index(request: web.Request) -> web.Response:
    base = f"{request.scheme}://{request.host}"
    authentication: dict[str, Any] | list[Any] = []
    if request.app[STATE_KEY].app_passwords:
        authentication = {
            "application-passwords": {
                "endpoints": {"authorization": f"{base}/wp-admin/authorize-application.php"}
            }
        }
    return web.json_response(
        {
            "name": "Emulated WordPress",
            "url": base,
            "namespaces": ["wp/v2"],
            "authentication": authentication,
        }
    )


_NOT_FOUND_HTML = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found'
    "</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this "
    "server.</p>\n</body></html>\n"
)


@web.middleware
async def _permalinks(request: web.Request, handler: faults.Handler) -> web.StreamResponse:
    """Without rewrite rules Apache has no ``/wp-json/`` file to serve: an HTML 404."""
    if request.path.startswith("/wp-json") and not request.app[STATE_KEY].pretty_permalinks:
        return web.Response(status=404, text=_NOT_FOUND_HTML, content_type="text/html")
    return await handler(request)


async def _php(request: web.Request) -> web.Response:
    body = await request.json()
    state = request.app[STATE_KEY]
    if "notice" in body:
        state.notices = int(body["notice"])
    if "late_insert_s" in body:
        state.late_insert_s = float(body["late_insert_s"])
    if "pretty_permalinks" in body:
        state.pretty_permalinks = bool(body["pretty_permalinks"])
    if "app_passwords" in body:
        state.app_passwords = bool(body["app_passwords"])
    return web.json_response(
        {
            "notice": state.notices,
            "late_insert_s": state.late_insert_s,
            "pretty_permalinks": state.pretty_permalinks,
            "app_passwords": state.app_passwords,
        }
    )


async def _finish_late(app: web.Application) -> None:
    for task in list(app[STATE_KEY].late):
        task.cancel()


async def _items(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    posts = []
    for post in state.posts.values():
        posts.append({**_render(request, post, "edit"), "deleted": bool(post.get("_deleted"))})
    media = [{k: v for k, v in m.items() if not k.startswith("_")} for m in state.media.values()]
    return web.json_response({"posts": posts, "media": media})


async def _counters(request: web.Request) -> web.Response:
    return web.json_response(dict(request.app[STATE_KEY].counters))


async def _console_body(request: web.Request, *required: str) -> dict[str, Any]:
    """The JSON object of a console call; 400 naming what is missing or wrong."""
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    for key in required:
        if not isinstance(body.get(key), str) or not body[key].strip():
            raise web.HTTPBadRequest(text=f"{key!r} is required (a non-empty string)")
    for key in ("title", "content"):
        if key in body and not isinstance(body[key], str):
            raise web.HTTPBadRequest(text=f"{key!r} must be a string")
    return body


def _console_post(state: WordPressState, raw_id: str) -> dict[str, Any]:
    try:
        return _get(state, raw_id)
    except _WPError:
        raise web.HTTPNotFound(text=f"no post {raw_id}") from None


async def _console_publish(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _console_body(request, "content")
    post_id = state.next_id
    state.next_id += 1
    post: dict[str, Any] = {
        "id": post_id, "date": _now(), "modified": _now(), "slug": "", "status": "publish",
        "title": str(body.get("title") or ""), "content": body["content"], "excerpt": "",
        "author": 1, "featured_media": 0, "categories": [1], "tags": [], "meta": {},
    }  # fmt: skip
    post["slug"] = _unique_slug(state, _slugify(post["title"]), post_id) or str(post_id)
    _insert(state, post)
    state.counters["console.publish"] += 1
    url = _render(request, post, "view")["link"]
    return web.json_response({"platform_id": str(post_id), "url": url}, status=201)


async def _console_edit(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _console_body(request, "platform_id")
    post = _console_post(state, body["platform_id"])
    for key in ("title", "content"):
        if key in body:
            post[key] = body[key]
    post["modified"] = _now()
    state.counters["console.edit"] += 1
    return web.json_response({"platform_id": str(post["id"]), "modified": post["modified"]})


async def _console_delete(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _console_body(request, "platform_id")
    post = _console_post(state, body["platform_id"])
    if body.get("force") is True:
        post["_deleted"] = True
    elif post["status"] != "trash":
        post["_desired_slug"] = post["slug"]
        post["status"] = "trash"
        post["slug"] = f"{post['slug']}__trashed"
        post["modified"] = _now()
    state.counters["console.delete"] += 1
    return web.json_response({"platform_id": str(post["id"]), "status": post["status"]})


async def _revoke(request: web.Request) -> web.Response:
    body = await request.json() if request.can_read_body else {}
    state = request.app[STATE_KEY]
    for user in state.users:
        if body.get("user") in (None, user):
            state.users[user] = []
    return web.json_response({"ok": True})


async def _strip_auth(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[STATE_KEY].strip_auth = bool(body.get("on"))
    return web.json_response({"strip_auth": request.app[STATE_KEY].strip_auth})


def make_app(
    *,
    users: dict[str, list[str]] | None = None,
    contributors: tuple[str, ...] = (),
    categories: dict[int, str] | None = None,
    tags: dict[int, str] | None = None,
    trash_enabled: bool = True,
    strip_auth: bool = False,
    utc_offset_h: float = 0.0,
) -> web.Application:
    """A WordPress emulator; ``users`` maps username → application passwords; ``contributors``
    may write but not publish (403 ``rest_cannot_publish``); ``utc_offset_h`` is the site's time
    zone (e.g. 8 for Asia/Shanghai)."""
    state = WordPressState(
        users={
            u: list(p) for u, p in (users or {"editor": ["abcd EFGH 1234 ijkl MNOP 5678"]}).items()
        },
        contributors=frozenset(contributors),
        categories=dict(categories or {1: "Uncategorized"}),
        tags=dict(tags or {}),
        trash_enabled=trash_enabled,
        strip_auth=strip_auth,
        utc_offset_h=utc_offset_h,
    )
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[STATE_KEY] = state
    faults.install(app)
    app.middlewares.append(_permalinks)
    app.middlewares.append(_wp_errors)
    app.on_shutdown.append(_finish_late)
    r = app.router
    r.add_get("/wp-json/", _index)
    r.add_get(f"{_PREFIX}/posts", _list_posts)
    r.add_post(f"{_PREFIX}/posts", _create_post)
    r.add_get(f"{_PREFIX}/posts/{{id}}", _get_post)
    for method in ("POST", "PUT", "PATCH"):
        r.add_route(method, f"{_PREFIX}/posts/{{id}}", _update_post)
    r.add_delete(f"{_PREFIX}/posts/{{id}}", _delete_post)
    r.add_post(f"{_PREFIX}/media", _create_media)
    r.add_get(f"{_PREFIX}/media/{{id}}", _get_media)
    for method in ("POST", "PUT", "PATCH"):
        r.add_route(method, f"{_PREFIX}/media/{{id}}", _update_media)
    r.add_get(f"{_PREFIX}/users/me", _me)
    r.add_get(f"{_PREFIX}/categories", _terms("categories"))
    r.add_get(f"{_PREFIX}/tags", _terms("tags"))
    r.add_get("/wp-content/uploads/{path:.+}", _file)
    r.add_get("/_emulator/items", _items)
    r.add_get("/_emulator/counters", _counters)
    r.add_post("/_emulator/revoke", _revoke)
    r.add_post("/_emulator/strip_auth", _strip_auth)
    r.add_post("/_emulator/php", _php)
    # comments (docs/interactions.md)
    from connectors.emulators import wordpress_comments

    wordpress_comments.install(app)
    r.add_post("/_emulator/console/publish", _console_publish)
    r.add_post("/_emulator/console/edit", _console_edit)
    r.add_post("/_emulator/console/delete", _console_delete)
    return app


__all__ = ["STATE_KEY", "WordPressState", "autop", "make_app"]
