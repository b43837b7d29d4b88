"""A local WeChat Official Account API emulator (reference/platforms.md §1.11).

It speaks the real wire format: HTTP 200 with an ``{"errcode": N, "errmsg": "... rid: ..."}``
envelope for every error, two isolated token pools (``/cgi-bin/stable_token`` in normal/force
mode and the legacy ``/cgi-bin/token`` that invalidates its predecessor after a grace period),
multipart image uploads, drafts that are consumed when published, asynchronous publish jobs that
move 1 → final status after ``publish_delay_s``, ``publish_id`` as a JSON number > 2^31, daily
and per-minute quotas, an IP whitelist and a rejection of ``\\uXXXX`` escapes in JSON bodies.

Control routes (never part of the real API):

* ``GET /_emulator/items`` -- published articles (with their stored content) to read back;
* ``GET /_emulator/counters`` -- calls per endpoint, ``token_fetches`` and ``tokens_issued``;
* ``POST /_emulator/revoke_tokens`` -- every token becomes invalid (40001); with
  ``{"keep_stable": true}`` the stable pool keeps handing out the revoked token (the pathological
  case that justifies ``force_refresh``);
* ``POST /_emulator/console/publish`` ``{title, content, author?}`` → ``{platform_id, url}``,
  ``POST /_emulator/console/edit`` ``{platform_id, title?, content?}`` and
  ``POST /_emulator/console/delete`` ``{platform_id}`` -- what a person does on mp.weixin.qq.com
  outside the API (no token, no quota, no fault switch): the bypass the gateway's reconciler
  must detect (docs/bypass.md);
* ``POST /_emulator/config`` -- set ``publish_delay_s`` / ``publish_outcome`` / quotas /
  ``busy_next`` (the next N API calls answer errcode -1, "system busy") at run time;
* the shared fault switches of :mod:`connectors.emulators.faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from connectors.emulators import faults

logger = logging.getLogger(__name__)

#: Daily quotas of a new normal account (platforms.md §1.9); stable_token per its own doc.
DEFAULT_DAILY_QUOTAS: Mapping[str, int] = {
    "token": 2000,
    "stable_token": 500_000,
    "draft/add": 1000,
    "draft/get": 500,
    "freepublish/submit": 100,
    "freepublish/get": 100,
    "freepublish/delete": 10,
    "freepublish/getarticle": 100,
    "freepublish/batchget": 100,
}
PUBLISH_ID_BASE = 2_247_483_648  # > 2^31: catches int32 handling of publish_id
_UNICODE_ESCAPE = re.compile(rb"\\u[0-9a-fA-F]{4}")
_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']*)["'][^>]*>""", re.IGNORECASE)


@dataclass
class _Token:
    app_id: str
    pool: str  # "stable" | "legacy"
    expires_at: float
    revoked: bool = False
    superseded: bool = False  # a newer /cgi-bin/token was issued: 40001 once the grace ends


@dataclass
class _StablePool:
    current: str = ""
    force_calls_today: int = 0
    last_force_at: float = float("-inf")


@dataclass
class Material:
    media_id: str
    kind: str
    filename: str
    content_type: str
    data: bytes
    url: str


@dataclass
class Draft:
    media_id: str
    articles: list[dict[str, Any]]
    created_at: float


@dataclass
class Job:
    publish_id: int
    draft_media_id: str
    articles: list[dict[str, Any]]
    submitted_at: float
    outcome: int
    status: int = 1
    article_id: str = ""


@dataclass
class Article:
    article_id: str
    publish_id: int
    articles: list[dict[str, Any]]
    url: str
    create_time: int
    deleted: bool = False
    update_time: int = 0


@dataclass
class WeChatState:
    """Everything the emulator knows; tests may read or tweak it in-process."""

    app_id_secrets: dict[str, str]
    ip_whitelist: set[str] | None
    token_ttl_s: float
    grace_s: float
    force_min_interval_s: float
    force_daily_limit: int
    publish_delay_s: float
    publish_outcome: int
    daily_quotas: dict[str, int]
    minute_quota: int | None
    max_articles: int
    uploadimg_max_bytes: int
    clock: Callable[[], float] = time.monotonic
    tokens: dict[str, _Token] = field(default_factory=dict)
    stable: dict[str, _StablePool] = field(default_factory=dict)
    legacy_current: dict[str, str] = field(default_factory=dict)
    stable_keep_revoked: bool = False
    busy_next: int = 0  # the next N API calls answer errcode -1 (system busy), not applied
    callback_url: str | None = None
    outbox: list[str] = field(default_factory=list)  # PUBLISHJOBFINISH XML not yet pushed
    pushed: list[str] = field(default_factory=list)
    materials: dict[str, Material] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    drafts: dict[str, Draft] = field(default_factory=dict)
    jobs: dict[int, Job] = field(default_factory=dict)
    articles: dict[str, Article] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    minute_calls: dict[tuple[str, int], int] = field(default_factory=dict)
    token_fetches: int = 0
    tokens_issued: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> int:
        return next(self._ids)

    def advance(self) -> None:
        """Move due publish jobs to their final status (drafts are consumed on success)."""
        now = self.clock()
        for job in self.jobs.values():
            if job.status != 1 or now < job.submitted_at + self.publish_delay_s:
                continue
            job.status = job.outcome
            if job.outcome == 0:
                n = self.next_id()
                job.article_id = f"emu-article-{n}"
                self.articles[job.article_id] = Article(
                    article_id=job.article_id,
                    publish_id=job.publish_id,
                    articles=job.articles,
                    url=f"https://mp.weixin.qq.com/s/emu{n}",
                    create_time=int(time.time()),
                )
                self.drafts.pop(job.draft_media_id, None)
            if self.callback_url:
                self.outbox.append(self._finish_event(job))

    def _finish_event(self, job: Job) -> str:
        """The PUBLISHJOBFINISH push (platforms.md §1.8; ``fail_idx`` shape unconfirmed)."""
        article = self.articles.get(job.article_id)
        items = (
            "".join(
                f"<item><idx>{i + 1}</idx>"
                f"<article_url><![CDATA[{article.url}]]></article_url></item>"
                for i in range(len(article.articles))
            )
            if article
            else ""
        )
        detail = (
            f"<article_id><![CDATA[{job.article_id}]]></article_id><article_detail>"
            f"<count>{len(article.articles)}</count>{items}</article_detail>"
            if article
            else ""
        )
        fail = "<fail_idx>1</fail_idx>" if job.status in (2, 3, 4) else ""
        return (
            "<xml><ToUserName><![CDATA[gh_emulator]]></ToUserName>"
            "<FromUserName><![CDATA[emulator]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[PUBLISHJOBFINISH]]></Event>"
            f"<PublishEventInfo><publish_id>{job.publish_id}</publish_id>"
            f"<publish_status>{job.status}</publish_status>{detail}{fail}"
            "</PublishEventInfo></xml>"
        )


STATE_KEY = web.AppKey("wechat_emulator_state", WeChatState)


class _Err(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


def _rid() -> str:
    return f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def _envelope(errcode: int, errmsg: str) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": f"{errmsg} rid: {_rid()}"})


def _ok(**payload: Any) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok", **payload})


def _state(request: web.Request) -> WeChatState:
    return request.app[STATE_KEY]


def _count(request: web.Request, endpoint: str) -> WeChatState:
    """Whitelist, quota and counters common to every API call."""
    st = _state(request)
    st.advance()
    remote = request.remote or ""
    if st.ip_whitelist is not None and remote not in st.ip_whitelist:
        raise _Err(40164, f"invalid ip {remote} ipv6 ::ffff:{remote}, not in whitelist")
    if st.busy_next > 0:
        st.busy_next -= 1
        raise _Err(-1, "system error")
    st.calls[endpoint] += 1
    quota = st.daily_quotas.get(endpoint)
    if quota is not None and st.calls[endpoint] > quota:
        raise _Err(45009, "reach max api daily quota limit")
    if st.minute_quota is not None:
        key = (endpoint, int(time.time() // 60))
        st.minute_calls[key] = st.minute_calls.get(key, 0) + 1
        if st.minute_calls[key] > st.minute_quota:
            raise _Err(45011, "api minute-quota reach limit, must slower, retry next minute")
    return st


def _check_token(request: web.Request, st: WeChatState) -> str:
    token = request.query.get("access_token", "")
    if not token:
        raise _Err(41001, "access_token missing")
    info = st.tokens.get(token)
    if info is None:
        raise _Err(40014, "invalid access_token")
    if info.revoked:
        raise _Err(40001, "invalid credential, access_token is invalid or not latest")
    if st.clock() >= info.expires_at:
        if info.superseded:
            raise _Err(40001, "invalid credential, access_token is invalid or not latest")
        raise _Err(42001, "access_token expired")
    return info.app_id


def _check_secret(st: WeChatState, app_id: str, secret: str) -> None:
    if app_id not in st.app_id_secrets:
        raise _Err(40013, "invalid appid")
    if not secrets.compare_digest(st.app_id_secrets[app_id], secret):
        raise _Err(40125, "invalid appsecret")


def _issue(st: WeChatState, app_id: str, pool: str) -> str:
    token = f"EMU_{pool.upper()}_{secrets.token_urlsafe(48)}"
    st.tokens[token] = _Token(app_id=app_id, pool=pool, expires_at=st.clock() + st.token_ttl_s)
    st.tokens_issued += 1
    return token


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        raise _Err(44002, "empty post data")
    if _UNICODE_ESCAPE.search(raw):
        raise _Err(40033, "invalid charset. please check your request, if include \\uxxxx")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Err(47001, "data format error") from exc
    if not isinstance(body, dict):
        raise _Err(47001, "data format error")
    return body


def _api(endpoint: str, *, needs_token: bool = True) -> Callable[..., Any]:
    """Wrap a handler: counters, whitelist, quota, token check, errcode envelope."""

    def decorate(fn: Callable[..., Any]) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                st = _count(request, endpoint)
                app_id = _check_token(request, st) if needs_token else ""
                response: web.StreamResponse = await fn(request, st, app_id)
                return response
            except _Err as err:
                return _envelope(err.errcode, err.errmsg)

        return handler

    return decorate


# --- tokens ---------------------------------------------------------------------------------


@_api("stable_token", needs_token=False)
async def _stable_token(request: web.Request, st: WeChatState, _: str) -> web.Response:
    body = await _json_body(request)
    st.token_fetches += 1
    if body.get("grant_type") != "client_credential":
        raise _Err(40002, "invalid grant_type")
    app_id = str(body.get("appid", ""))
    _check_secret(st, app_id, str(body.get("secret", "")))
    pool = st.stable.setdefault(app_id, _StablePool())
    now = st.clock()
    current = st.tokens.get(pool.current)
    if body.get("force_refresh"):
        allowed = (
            pool.force_calls_today < st.force_daily_limit
            and now - pool.last_force_at >= st.force_min_interval_s
        )
        if allowed or current is None:
            pool.force_calls_today += 1
            pool.last_force_at = now
            if current is not None:
                current.revoked = True  # force mode invalidates the previous token at once
            st.stable_keep_revoked = False
            pool.current = _issue(st, app_id, "stable")
    else:
        usable = current is not None and (not current.revoked or st.stable_keep_revoked)
        if not usable or current is None or now >= current.expires_at - st.grace_s:
            # Renewed early: the previous token stays valid until its own expiry (the grace).
            pool.current = _issue(st, app_id, "stable")
    info = st.tokens[pool.current]
    expires_in = max(0, int(info.expires_at - now))
    return web.json_response({"access_token": pool.current, "expires_in": expires_in})


@_api("token", needs_token=False)
async def _legacy_token(request: web.Request, st: WeChatState, _: str) -> web.Response:
    st.token_fetches += 1
    if request.query.get("grant_type") != "client_credential":
        raise _Err(40002, "invalid grant_type")
    app_id = request.query.get("appid", "")
    _check_secret(st, app_id, request.query.get("secret", ""))
    previous = st.tokens.get(st.legacy_current.get(app_id, ""))
    if previous is not None:  # the old token dies after the grace period
        previous.expires_at = min(previous.expires_at, st.clock() + st.grace_s)
        previous.superseded = True
    token = _issue(st, app_id, "legacy")
    st.legacy_current[app_id] = token
    return web.json_response({"access_token": token, "expires_in": int(st.token_ttl_s)})


# --- media ----------------------------------------------------------------------------------


async def _read_media(request: web.Request) -> tuple[str, str, bytes]:
    try:
        form = await request.post()
    except ValueError as exc:
        raise _Err(47001, "data format error") from exc
    for value in form.values():  # read and close every uploaded file (no leaked temp files)
        if isinstance(value, web.FileField) and value is not form.get("media"):
            value.file.close()
    media = form.get("media")
    if not isinstance(media, web.FileField):
        raise _Err(41005, "media data missing")
    with media.file:
        return media.filename, media.content_type, media.file.read()


def _image_kind(filename: str, content_type: str, data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    return ""


@_api("media/uploadimg")
async def _uploadimg(request: web.Request, st: WeChatState, _: str) -> web.Response:
    filename, content_type, data = await _read_media(request)
    if _image_kind(filename, content_type, data) not in ("jpg", "png"):
        raise _Err(40005, "invalid file type")
    if len(data) >= st.uploadimg_max_bytes:
        raise _Err(40009, "invalid image size")
    url = f"http://mmbiz.qpic.cn/mmbiz_emu/{secrets.token_hex(12)}/0"
    st.images[url] = data
    return _ok(url=url)


@_api("material/add_material")
async def _add_material(request: web.Request, st: WeChatState, _: str) -> web.Response:
    kind = request.query.get("type", "")
    if kind not in ("image", "thumb", "voice", "video"):
        raise _Err(40004, "invalid media type")
    filename, content_type, data = await _read_media(request)
    image_kind = _image_kind(filename, content_type, data)
    if kind == "image":
        if not image_kind:
            raise _Err(40005, "invalid file type")
        if len(data) > 10 * 1024 * 1024:
            raise _Err(40009, "invalid image size")
    if kind == "thumb":
        if image_kind != "jpg":
            raise _Err(40005, "invalid file type")
        if len(data) > 64 * 1024:
            raise _Err(40009, "invalid image size")
    media_id = f"emu_media_{secrets.token_urlsafe(24)}"
    url = f"http://mmbiz.qpic.cn/mmbiz_emu/{secrets.token_hex(12)}/0" if kind == "image" else ""
    st.materials[media_id] = Material(media_id, kind, filename, content_type, data, url)
    if url:
        st.images[url] = data
        return web.json_response({"media_id": media_id, "url": url})
    return web.json_response({"media_id": media_id})


# --- drafts and publishing -------------------------------------------------------------------


def _clean_article(st: WeChatState, article: Any) -> dict[str, Any]:
    if not isinstance(article, dict):
        raise _Err(47001, "data format error")
    title = str(article.get("title", ""))
    content = str(article.get("content", ""))
    if not title:
        raise _Err(44003, "empty news data")
    if len(title) > 32:
        raise _Err(45003, "title size out of limit")
    if len(str(article.get("author", ""))) > 16:
        raise _Err(45110, "author size out of limit")
    if len(str(article.get("digest", ""))) > 128:
        raise _Err(45004, "description size out of limit")
    if not content:
        raise _Err(44003, "empty news data")
    if len(content) >= 20_000 or len(content.encode()) >= 1024 * 1024:
        raise _Err(45002, "content size out of limit")
    if len(str(article.get("content_source_url", "")).encode()) > 1024:
        raise _Err(45005, "url size out of limit")
    thumb = str(article.get("thumb_media_id", ""))
    material = st.materials.get(thumb)
    if article.get("article_type", "news") == "news" and (
        material is None or material.kind not in ("image", "thumb")
    ):
        raise _Err(40007, "invalid media_id")
    # Like the platform: images not uploaded through uploadimg/add_material are filtered out.
    content = _IMG_SRC.sub(lambda m: m.group(0) if m.group(1) in st.images else "", content)
    return {
        "title": title,
        "author": str(article.get("author", "")),
        "digest": str(article.get("digest", "")) or re.sub(r"<[^>]+>", "", content)[:54],
        "content": content,
        "content_source_url": str(article.get("content_source_url", "")),
        "thumb_media_id": thumb,
        "need_open_comment": int(article.get("need_open_comment", 0)),
        "only_fans_can_comment": int(article.get("only_fans_can_comment", 0)),
    }


@_api("draft/add")
async def _draft_add(request: web.Request, st: WeChatState, _: str) -> web.Response:
    body = await _json_body(request)
    articles = body.get("articles")
    if not isinstance(articles, list) or not articles:
        raise _Err(44003, "empty news data")
    if len(articles) > st.max_articles:
        raise _Err(45008, "article size out of limit")
    cleaned = [_clean_article(st, a) for a in articles]
    media_id = f"emu_draft_{secrets.token_urlsafe(24)}"
    st.drafts[media_id] = Draft(media_id=media_id, articles=cleaned, created_at=st.clock())
    return web.json_response({"media_id": media_id})


@_api("draft/get")
async def _draft_get(request: web.Request, st: WeChatState, _: str) -> web.Response:
    body = await _json_body(request)
    draft = st.drafts.get(str(body.get("media_id", "")))
    if draft is None:
        raise _Err(40007, "invalid media_id")
    return web.json_response({"news_item": draft.articles})


@_api("freepublish/submit")
async def _submit(request: web.Request, st: WeChatState, _: str) -> web.Response:
    body = await _json_body(request)
    draft = st.drafts.get(str(body.get("media_id", "")))
    if draft is None:
        raise _Err(40007, "invalid media_id")
    publish_id = PUBLISH_ID_BASE + st.next_id()
    st.jobs[publish_id] = Job(
        publish_id=publish_id,
        draft_media_id=draft.media_id,
        articles=draft.articles,
        submitted_at=st.clock(),
        outcome=st.publish_outcome,
    )
    st.advance()
    # A JSON *number* > 2^31, as real responses show (platforms.md §1.6).
    return _ok(publish_id=publish_id, msg_data_id=publish_id + 1)


def _publish_id(body: Mapping[str, Any]) -> int:
    try:
        return int(str(body.get("publish_id", "")))
    except ValueError as exc:
        raise _Err(40007, "invalid publish_id") from exc


@_api("freepublish/get")
async def _get(request: web.Request, st: WeChatState, _: str) -> web.Response:
    body = await _json_body(request)
    job = st.jobs.get(_publish_id(body))
    if job is None:
        raise _Err(40007, "invalid publish_id")
    status = job.status
    article = st.articles.get(job.article_id)
    if article is not None and article.deleted:
        status = 5
    payload: dict[str, Any] = {"publish_id": job.publish_id, "publish_status": status}
    if status in (0, 5) and article is not None:
        payload["article_id"] = article.article_id
        payload["article_detail"] = {
            "count": len(article.articles),
            "item": [
                {"idx": i + 1, "article_url": article.url} for i in range(len(article.articles))
            ],
        }
    payload["fail_idx"] = [1] if status in (2, 3, 4) else []
    return web.json_response(payload)


def _news_items(article: Article, *, with_content: bool = True) -> list[dict[str, Any]]:
    return [
        {
            **{k: v for k, v in a.items() if with_content or k != "content"},
            "url": article.url,
            "is_deleted": article.deleted,
        }
        for a in article.articles
    ]


@_api("freepublish/batchget")
async def _batchget(request: web.Request, st: WeChatState, _: str) -> web.Response:
    body = await _json_body(request)
    offset = int(body.get("offset", 0))
    count = int(body.get("count", 0))
    if not 1 <= count <= 20:
        raise _Err(40097, "invalid args")
    live = [a for a in reversed(st.articles.values()) if not a.deleted]
    page = live[offset : offset + count]
    items = [
        {
            "article_id": a.article_id,
            "content": {
                "news_item": _news_items(a, with_content=not body.get("no_content")),
                "create_time": a.create_time,
                "update_time": a.update_time or a.create_time,
            },
            "update_time": a.update_time or a.create_time,
        }
        for a in page
    ]
    return web.json_response({"total_count": len(live), "item_count": len(items), "item": items})


@_api("freepublish/getarticle")
async def _getarticle(request: web.Request, st: WeChatState, _: str) -> web.Response:
    body = await _json_body(request)
    article = st.articles.get(str(body.get("article_id", "")))
    if article is None:
        raise _Err(40007, "invalid article_id")
    return web.json_response({"news_item": _news_items(article)})


@_api("freepublish/delete")
async def _delete(request: web.Request, st: WeChatState, _: str) -> web.Response:
    body = await _json_body(request)
    article = st.articles.get(str(body.get("article_id", "")))
    if article is None or article.deleted:
        raise _Err(40007, "invalid article_id")
    article.deleted = True
    return _ok()


# --- control routes --------------------------------------------------------------------------


async def _items(request: web.Request) -> web.Response:
    st = _state(request)
    st.advance()
    return web.json_response(
        [
            {
                "article_id": a.article_id,
                "publish_id": str(a.publish_id),
                "url": a.url,
                "deleted": a.deleted,
                "articles": a.articles,
            }
            for a in st.articles.values()
        ]
    )


async def _counters(request: web.Request) -> web.Response:
    st = _state(request)
    return web.json_response(
        {
            "calls": dict(st.calls),
            "token_fetches": st.token_fetches,
            "tokens_issued": st.tokens_issued,
            "jobs": len(st.jobs),
            "drafts": len(st.drafts),
            "materials": len(st.materials),
            "images": len(st.images),
        }
    )


async def _revoke(request: web.Request) -> web.Response:
    st = _state(request)
    body = await request.json() if request.can_read_body else {}
    for token in st.tokens.values():
        token.revoked = True
    st.stable_keep_revoked = bool(body.get("keep_stable", False))
    return web.json_response({"revoked": len(st.tokens)})


async def _console_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="console: body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="console: body must be an object")
    return body


def _console_article(st: WeChatState, body: Mapping[str, Any]) -> Article:
    article = st.articles.get(str(body.get("platform_id", "")))
    if article is None or article.deleted:
        raise web.HTTPNotFound(text="console: no such article")
    return article


async def _console_publish(request: web.Request) -> web.Response:
    """Publish an article from the MP web console: no draft, no token, immediately live."""
    st = _state(request)
    body = await _console_body(request)
    title, content = str(body.get("title", "")), str(body.get("content", ""))
    if not title or not content:
        raise web.HTTPBadRequest(text="console: title and content are required")
    n = st.next_id()
    article = Article(
        article_id=f"emu-article-{n}",
        publish_id=PUBLISH_ID_BASE + n,
        articles=[
            {
                "title": title,
                "author": str(body.get("author", "")),
                "digest": re.sub(r"<[^>]+>", "", content)[:54],
                "content": content,
                "content_source_url": "",
                "thumb_media_id": "",
                "need_open_comment": 0,
                "only_fans_can_comment": 0,
            }
        ],
        url=f"https://mp.weixin.qq.com/s/emu{n}",
        create_time=int(time.time()),
    )
    st.articles[article.article_id] = article
    return web.json_response({"platform_id": article.article_id, "url": article.url})


async def _console_edit(request: web.Request) -> web.Response:
    """Edit a published article from the console (its first news item)."""
    st = _state(request)
    body = await _console_body(request)
    article = _console_article(st, body)
    first = dict(article.articles[0])
    for key in ("title", "content"):
        if key in body:
            first[key] = str(body[key])
    article.articles = [first, *article.articles[1:]]
    article.update_time = int(time.time())
    return web.json_response({"platform_id": article.article_id, "url": article.url})


async def _console_delete(request: web.Request) -> web.Response:
    st = _state(request)
    article = _console_article(st, await _console_body(request))
    article.deleted = True
    return web.json_response({"platform_id": article.article_id, "deleted": True})


_CONFIGURABLE = (
    "publish_delay_s",
    "publish_outcome",
    "minute_quota",
    "token_ttl_s",
    "grace_s",
    "busy_next",
)


async def _config(request: web.Request) -> web.Response:
    st = _state(request)
    body = await request.json()
    unknown = sorted(set(body) - {*_CONFIGURABLE, "daily_quotas"})
    if unknown:
        return web.json_response({"error": f"unknown keys: {unknown}"}, status=400)
    for key in _CONFIGURABLE:
        if key in body:
            setattr(st, key, body[key])
    st.daily_quotas.update(body.get("daily_quotas", {}))
    return web.json_response({k: getattr(st, k) for k in _CONFIGURABLE})


async def _ticker(app: web.Application) -> AsyncIterator[None]:
    """Finish due jobs without waiting for a request, and push PUBLISHJOBFINISH events."""
    st = app[STATE_KEY]

    async def run(session: aiohttp.ClientSession) -> None:
        while True:
            st.advance()
            while st.callback_url and st.outbox:
                xml = st.outbox.pop(0)
                try:
                    async with session.post(
                        st.callback_url, data=xml.encode(), headers={"Content-Type": "text/xml"}
                    ) as resp:
                        await resp.read()
                    st.pushed.append(xml)
                except (aiohttp.ClientError, TimeoutError):
                    logger.warning("wechat emulator: push to the callback URL failed")
            await asyncio.sleep(0.05)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        task = asyncio.create_task(run(session))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def make_app(
    *,
    app_id_secrets: Mapping[str, str] | None = None,
    ip_whitelist: set[str] | frozenset[str] | None = None,
    token_ttl_s: float = 7200.0,
    grace_s: float = 300.0,
    force_min_interval_s: float = 30.0,
    force_daily_limit: int = 20,
    publish_delay_s: float = 0.0,
    publish_outcome: int = 0,
    daily_quotas: Mapping[str, int] | None = None,
    minute_quota: int | None = None,
    max_articles: int = 8,
    uploadimg_max_bytes: int = 1024 * 1024,
    clock: Callable[[], float] = time.monotonic,
    callback_url: str | None = None,
) -> web.Application:
    """Build the emulator. ``app_id_secrets`` maps each AppID to its AppSecret (default one
    demo account); ``ip_whitelist`` of caller addresses (``None`` = allow all); a publish job
    stays in status 1 for ``publish_delay_s`` and then ends in ``publish_outcome`` (0 = success,
    2/3/4 = failures); with ``callback_url`` a PUBLISHJOBFINISH XML event is POSTed there when
    a job ends."""
    app = web.Application()
    state = WeChatState(
        app_id_secrets=dict(app_id_secrets or {"wx_demo_appid": "demo_app_secret"}),
        ip_whitelist=set(ip_whitelist) if ip_whitelist is not None else None,
        token_ttl_s=token_ttl_s,
        grace_s=grace_s,
        force_min_interval_s=force_min_interval_s,
        force_daily_limit=force_daily_limit,
        publish_delay_s=publish_delay_s,
        publish_outcome=publish_outcome,
        daily_quotas=dict(DEFAULT_DAILY_QUOTAS if daily_quotas is None else daily_quotas),
        minute_quota=minute_quota,
        max_articles=max_articles,
        uploadimg_max_bytes=uploadimg_max_bytes,
        clock=clock,
        callback_url=callback_url,
    )
    app[STATE_KEY] = state
    app.cleanup_ctx.append(_ticker)
    faults.install(app)
    app.router.add_post("/cgi-bin/stable_token", _stable_token)
    app.router.add_get("/cgi-bin/token", _legacy_token)
    app.router.add_post("/cgi-bin/media/uploadimg", _uploadimg)
    app.router.add_post("/cgi-bin/material/add_material", _add_material)
    app.router.add_post("/cgi-bin/draft/add", _draft_add)
    app.router.add_post("/cgi-bin/draft/get", _draft_get)
    app.router.add_post("/cgi-bin/freepublish/submit", _submit)
    app.router.add_post("/cgi-bin/freepublish/get", _get)
    app.router.add_post("/cgi-bin/freepublish/batchget", _batchget)
    app.router.add_post("/cgi-bin/freepublish/getarticle", _getarticle)
    app.router.add_post("/cgi-bin/freepublish/delete", _delete)
    app.router.add_get("/_emulator/items", _items)
    app.router.add_get("/_emulator/counters", _counters)
    app.router.add_post("/_emulator/revoke_tokens", _revoke)
    app.router.add_post("/_emulator/config", _config)
    app.router.add_post("/_emulator/console/publish", _console_publish)
    app.router.add_post("/_emulator/console/edit", _console_edit)
    app.router.add_post("/_emulator/console/delete", _console_delete)
    return app


__all__ = ["DEFAULT_DAILY_QUOTAS", "PUBLISH_ID_BASE", "STATE_KEY", "WeChatState", "make_app"]
