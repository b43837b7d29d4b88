"""A reference receiver of the signed-webhook CMS contract (docs/platforms/website-webhook.md).

Every request must carry ``X-Gateway-Timestamp`` (unix seconds, within ``replay_window_s``) and
``X-Gateway-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``; a ``POST``
with an ``Idempotency-Key`` already seen returns the first answer again (200, same ``id``) when the
body is the same and 409 ``idempotency_conflict`` when it differs. Images travel inline
(base64) and in-article ``<img src="image:N">`` references are rewritten to where the CMS stores
``images[N]``.

``GET /posts?since=<epoch s>&limit=<1..100>[&cursor=]`` lists the articles updated at or after
``since``, most recently updated first, ``{"items": [...], "next_cursor": "…" | null}`` (the
cursor is opaque: the last item's update time and sequence number, so paging is stable while
articles change).

Console calls -- what an editor does in the CMS itself, not through the gateway (bypass
detection, docs/bypass.md); unsigned, and the fault switches do not apply to them:

* ``POST /_emulator/console/publish`` ``{"title"?, "content"}`` -> ``{"platform_id", "url"}``;
* ``POST /_emulator/console/edit`` ``{"platform_id", "title"?, "content"?}``;
* ``POST /_emulator/console/delete`` ``{"platform_id"}``.

Control routes (besides :mod:`connectors.emulators.faults`):

* ``GET /_emulator/items`` -- every article, deleted included;
* ``GET /_emulator/counters`` -- calls, articles created, idempotent replays, signature failures;
* ``POST /_emulator/revoke`` -- rotate the secret (the gateway's secret stops working);
* ``GET /media/{name}`` -- the stored image bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.emulators import faults

_IMG_RE = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*["'])image:(\d+)(["'])""", re.I)


@dataclass
class Article:
    """One article as the CMS stores it."""

    id: str
    external_id: str
    body: dict[str, Any]
    url: str
    status: str = "published"
    deleted: bool = False
    images: list[str] = field(default_factory=list)
    cover: str | None = None
    polls_left: int = 0
    seq: int = 0
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "url": self.url,
            "status": self.status,
            "title": self.body.get("title", ""),
            "content_html": self.body.get("content_html", ""),
            "cover_image": self.cover,
            "images": self.images,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class WebhookState:
    """Everything the receiver remembers; tests may read and change it in-process."""

    secret: str
    replay_window_s: float
    pending_polls: int = 0
    articles: dict[str, Article] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)


STATE_KEY = web.AppKey("webhook_cms_state", WebhookState)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _error(status: int, code: str, message: str, *, retryable: bool = False) -> web.Response:
    body = {"error": {"code": code, "message": message, "retryable": retryable, "details": {}}}
    return web.json_response(body, status=status)


async def _verified(request: web.Request) -> bytes | web.Response:
    """The raw body if the signature and timestamp check out, else the 401 to send."""
    state = request.app[STATE_KEY]
    body = await request.read()
    ts = request.headers.get("X-Gateway-Timestamp", "")
    sig = request.headers.get("X-Gateway-Signature", "")
    try:
        age_s = abs(time.time() - int(ts))
    except ValueError:
        state.counters["bad_signature"] += 1
        return _error(401, "missing_timestamp", "X-Gateway-Timestamp is required")
    if age_s > state.replay_window_s:
        state.counters["bad_signature"] += 1
        return _error(401, "stale_timestamp", "timestamp outside the replay window")
    if not hmac.compare_digest(sig, sign(state.secret, ts, body)):
        state.counters["bad_signature"] += 1
        return _error(401, "invalid_signature", "signature does not match")
    return body


def _store_media(request: web.Request, image: Any) -> str:
    if not isinstance(image, dict):
        raise ValueError("image must be an object")
    data = base64.b64decode(str(image.get("data_base64", "")), validate=True)
    digest = hashlib.sha256(data).hexdigest()
    if image.get("sha256") and image["sha256"] != digest:
        raise ValueError("image sha256 mismatch")
    ext = {"image/png": "png", "image/gif": "gif"}.get(str(image.get("content_type")), "jpg")
    name = f"{digest[:24]}.{ext}"
    request.app[STATE_KEY].media[name] = (str(image.get("content_type", "image/jpeg")), data)
    return f"{request.scheme}://{request.host}/media/{name}"


def _materialise(request: web.Request, article: Article, body: dict[str, Any]) -> None:
    """Store the images of ``body`` on ``article`` and rewrite ``image:N`` references."""
    images = [_store_media(request, img) for img in body.get("images") or []]
    cover = body.get("cover_image")
    article.cover = _store_media(request, cover) if cover else None
    html = str(body.get("content_html", ""))

    def _swap(m: re.Match[str]) -> str:
        index = int(m.group(2))
        if index >= len(images):
            raise ValueError(f"image:{index} has no matching images[] entry")
        return m.group(1) + images[index] + m.group(3)

    article.body = {**body, "content_html": _IMG_RE.sub(_swap, html), "images": None}
    article.images = images


def _parse(raw: bytes) -> dict[str, Any]:
    body = json.loads(raw.decode("utf-8"))
    if not isinstance(body, dict) or not str(body.get("title", "")).strip():
        raise ValueError("body must be an object with a title")
    return body


async def _create(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["create"] += 1
    raw = await _verified(request)
    if isinstance(raw, web.Response):
        return raw
    key = request.headers.get("Idempotency-Key")
    digest = hashlib.sha256(raw).hexdigest()
    if key and key in state.idempotency:
        first_digest, _status, first_body = state.idempotency[key]
        if first_digest != digest:
            return _error(409, "idempotency_conflict", "Idempotency-Key reused with another body")
        state.counters["replayed"] += 1
        return web.json_response(first_body, status=200)
    try:
        body = _parse(raw)
        article_id = f"cms-{len(state.articles) + 1}"
        article = Article(
            id=article_id,
            external_id=str(body.get("external_id", "")),
            body={},
            url=f"{request.scheme}://{request.host}/articles/{article_id}",
            status="draft" if body.get("status") == "draft" else "published",
            seq=len(state.articles) + 1,
        )
        if state.pending_polls and article.status == "published":
            article.status, article.polls_left = "pending", state.pending_polls
        _materialise(request, article, body)
    except (ValueError, binascii.Error) as exc:
        return _error(400, "invalid_body", str(exc))
    state.articles[article_id] = article
    state.counters["created"] += 1
    answer = {"id": article.id, "url": article.url, "status": article.status}
    code = 202 if article.status == "pending" else 201
    if key:
        state.idempotency[key] = (digest, code, answer)
    return web.json_response(answer, status=code)


def _article(request: web.Request) -> Article | None:
    article = request.app[STATE_KEY].articles.get(request.match_info["id"])
    return None if article is None or article.deleted else article


async def _get(request: web.Request) -> web.Response:
    request.app[STATE_KEY].counters["get"] += 1
    raw = await _verified(request)
    if isinstance(raw, web.Response):
        return raw
    article = _article(request)
    if article is None:
        return _error(404, "not_found", "no such article")
    if article.status == "pending":
        article.polls_left -= 1
        if article.polls_left <= 0:
            article.status = "published"
    return web.json_response(article.as_json())


async def _list(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["list"] += 1
    raw = await _verified(request)
    if isinstance(raw, web.Response):
        return raw
    q = request.query
    if "since" in q or "limit" in q or "cursor" in q:
        return _listing(state, q)
    wanted = q.get("external_id")
    found = [
        a.as_json()
        for a in state.articles.values()
        if not a.deleted and (wanted is None or a.external_id == wanted)
    ]
    return web.json_response({"items": found})


def _listing(state: WebhookState, q: Any) -> web.Response:
    """``since``/``limit``/``cursor`` listing, most recently updated first."""
    try:
        since = float(q.get("since", "0"))
        limit = int(q.get("limit", "50"))
        if not (since >= 0 and 1 <= limit <= 100):
            raise ValueError
    except ValueError:
        return _error(400, "invalid_param", "since must be >= 0 and limit 1..100")
    after: tuple[float, int] | None = None
    if q.get("cursor"):
        try:
            stamp, _, seq = base64.urlsafe_b64decode(q["cursor"]).decode().partition(":")
            after = (float(stamp), int(seq))
        except (ValueError, binascii.Error):
            return _error(400, "invalid_param", "cursor is not one this CMS gave out")
    ordered = sorted(
        (a for a in state.articles.values() if not a.deleted and a.updated_at >= since),
        key=lambda a: (a.updated_at, a.seq),
        reverse=True,
    )
    if after is not None:
        ordered = [a for a in ordered if (a.updated_at, a.seq) < after]
    chunk = ordered[:limit]
    next_cursor = None
    if len(ordered) > limit:
        last = chunk[-1]
        next_cursor = base64.urlsafe_b64encode(f"{last.updated_at!r}:{last.seq}".encode()).decode()
    return web.json_response({"items": [a.as_json() for a in chunk], "next_cursor": next_cursor})


async def _replace(request: web.Request) -> web.Response:
    request.app[STATE_KEY].counters["update"] += 1
    raw = await _verified(request)
    if isinstance(raw, web.Response):
        return raw
    article = _article(request)
    if article is None:
        return _error(404, "not_found", "no such article")
    try:
        _materialise(request, article, _parse(raw))
    except (ValueError, binascii.Error) as exc:
        return _error(400, "invalid_body", str(exc))
    article.updated_at = time.time()
    return web.json_response({"id": article.id, "url": article.url, "status": article.status})


async def _delete(request: web.Request) -> web.Response:
    request.app[STATE_KEY].counters["delete"] += 1
    raw = await _verified(request)
    if isinstance(raw, web.Response):
        return raw
    article = _article(request)
    if article is None:
        return _error(404, "not_found", "no such article")
    article.deleted = True
    return web.Response(status=204)


async def _media(request: web.Request) -> web.Response:
    found = request.app[STATE_KEY].media.get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    return web.Response(body=found[1], content_type=found[0])


async def _items(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return web.json_response(
        [{**a.as_json(), "deleted": a.deleted} for a in state.articles.values()]
    )


async def _counters(request: web.Request) -> web.Response:
    return web.json_response(dict(request.app[STATE_KEY].counters))


async def _revoke(request: web.Request) -> web.Response:
    request.app[STATE_KEY].secret = secrets.token_hex(16)
    return web.json_response({"ok": True})


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


def _console_article(state: WebhookState, raw_id: str) -> Article:
    article = state.articles.get(raw_id)
    if article is None or article.deleted:
        raise web.HTTPNotFound(text=f"no article {raw_id}")
    return article


async def _console_publish(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _console_body(request, "content")
    article_id = f"cms-{len(state.articles) + 1}"
    article = Article(
        id=article_id,
        external_id="",
        body={"title": str(body.get("title") or ""), "content_html": body["content"]},
        url=f"{request.scheme}://{request.host}/articles/{article_id}",
        seq=len(state.articles) + 1,
    )
    state.articles[article_id] = article
    state.counters["console.publish"] += 1
    return web.json_response({"platform_id": article_id, "url": article.url}, status=201)


async def _console_edit(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _console_body(request, "platform_id")
    article = _console_article(state, body["platform_id"])
    if "title" in body:
        article.body = {**article.body, "title": body["title"]}
    if "content" in body:
        article.body = {**article.body, "content_html": body["content"]}
    article.updated_at = time.time()
    state.counters["console.edit"] += 1
    return web.json_response({"platform_id": article.id, "updated_at": article.updated_at})


async def _console_delete(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _console_body(request, "platform_id")
    _console_article(state, body["platform_id"]).deleted = True
    state.counters["console.delete"] += 1
    return web.json_response({"platform_id": body["platform_id"], "deleted": True})


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def make_app(
    *, secret: str = "webhook-secret", replay_window_s: float = 300.0, pending_polls: int = 0
) -> web.Application:
    """A webhook CMS that trusts requests signed with ``secret``.

    ``pending_polls`` > 0 makes it asynchronous: a create answers 202 ``pending`` and the item
    becomes ``published`` on the ``pending_polls``-th ``GET /posts/{id}``.
    """
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[STATE_KEY] = WebhookState(
        secret=secret, replay_window_s=replay_window_s, pending_polls=pending_polls
    )
    faults.install(app)
    r = app.router
    r.add_get("/health", _health)
    r.add_post("/posts", _create)
    r.add_get("/posts", _list)
    r.add_get("/posts/{id}", _get)
    r.add_put("/posts/{id}", _replace)
    r.add_delete("/posts/{id}", _delete)
    r.add_get("/media/{name}", _media)
    r.add_get("/_emulator/items", _items)
    r.add_get("/_emulator/counters", _counters)
    r.add_post("/_emulator/revoke", _revoke)
    r.add_post("/_emulator/console/publish", _console_publish)
    r.add_post("/_emulator/console/edit", _console_edit)
    r.add_post("/_emulator/console/delete", _console_delete)
    return app


__all__ = ["STATE_KEY", "Article", "WebhookState", "make_app", "sign"]
