"""A local Weibo open-API emulator: ``statuses/share`` and the calls a publisher reconciles with.

It speaks the real wire format (reference/platforms.md §2): form or multipart bodies with
``access_token``, the error envelope ``{"error", "error_code", "request"}`` with an int code,
``idstr`` next to an ``id`` above 2^53, and the rules a publisher trips over:

* the status must contain a URL on the app's bound safe domain (else 10017 "appkey not bind
  domain!"), must not carry ``#话题#`` and must not exceed ``max_chars`` (Weibo counting: a
  half-width character is half a character) (20012); ``rip`` is required (10016);
* the same text as one of the user's recent statuses is refused with 20019, a text that differs
  only in spacing/punctuation with 20017;
* posting is rate-limited per user and hour (10024), all calls per token and hour (10023) and
  per client IP and hour (10022);
* tokens expire (21327) or are revoked (21317 by default); an unknown token gives 21332.

Control routes (besides the shared fault switches of :mod:`connectors.emulators.faults`):

* ``GET /_emulator/items`` -- every status ever created (with ``deleted``);
* ``GET /_emulator/counters`` -- calls per endpoint and statuses created;
* ``POST /_emulator/tokens`` ``{"token", "uid"?, "expires_in_s"?}`` -- add a token;
* ``POST /_emulator/revoke`` ``{"token"?, "code"?: 21317}`` -- revoke one token (or all);
* ``POST /_emulator/errors`` ``{"code", "times"?: 1}`` -- answer the next ``share`` calls with
  this Weibo error code; 20032 ("update success, server slow") *does* create the status;
* ``POST /_emulator/timeline`` ``{"hidden": bool}`` -- hide new statuses from
  ``user_timeline``/``show`` (the lag Weibo warns about with 20032).

Console calls -- what a person does on weibo.com itself, not through the API (bypass detection,
docs/bypass.md); no token, no rate limit, no safe-domain rule, and the fault switches do not
apply to them:

* ``POST /_emulator/console/publish`` ``{"title"?, "content", "uid"?}`` -> ``{"platform_id",
  "url"}`` -- a new status (``【title】content`` when a title is given; the first user's when no
  ``uid``);
* ``POST /_emulator/console/edit`` ``{"platform_id", "title"?, "content"?}`` -- Weibo's member
  edit ("已编辑"): the text changes (a leading ``【title】`` is the title: kept when only the
  content is edited), ``edit_count`` and ``edit_at`` appear, ``created_at`` and the id stay;
* ``POST /_emulator/console/delete`` ``{"platform_id"}`` -- the status is deleted.

``user_timeline`` pages with ``page``/``count`` (at most 100) and, like Weibo, takes ``since_id``
(only newer statuses) and ``max_id`` (this id and older). With ``shorten_links=True`` every URL in
a stored text becomes a ``http://t.cn/...`` short link, as Weibo does.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from connectors.emulators import faults

_ID_BASE = 10_000_000_000_000_000  # above 2**53: clients must use idstr
_PIC_MAX_BYTES = 5 * 1024 * 1024
_PIC_TYPES = ("image/jpeg", "image/png", "image/gif")
_URL_RE = re.compile(r"https?://[^\s<>\"']+")
_HALF_WIDTH = frozenset({"N", "Na", "H"})
_TOPIC_RE = re.compile(r"#[^#\s]+#")
_TOKEN_ERRORS = {
    21314: "Token used",
    21315: "Token expired",
    21316: "Token revoked",
    21317: "Token rejected",
    21318: "Verifier fail",
    21319: "Accessor was revoked",
    21327: "expired_token",
    21332: "invalid_access_token",
}
_MESSAGES = {
    10001: "System error",
    10002: "Service unavailable",
    10009: "Too many pending tasks, system is busy",
    10016: "Miss required parameter",
    10017: "appkey not bind domain!",
    10023: "User requests out of rate limit!",
    10024: "User requests for (statuses/share) out of rate limit!",
    20005: "Unsupported image type, only suport JPG, GIF, PNG!",
    20006: "Image size too large!",
    20008: "Content is null!",
    20012: "Text too long, please input text less than 140 characters!",
    20016: "Out of limit!",
    20017: "Repeat content!",
    20019: "Repeat content!",
    20032: "Update success, while server slow now, please wait 1-2 minutes",
    20101: "Target weibo does not exist!",
    20111: "Repeated weibo text!",
}


@dataclass
class TokenInfo:
    """One OAuth2 access token of one user."""

    uid: str
    expires_at: float | None = None
    revoked_code: int | None = None


@dataclass
class Status:
    """One status as Weibo stores it."""

    id: int
    uid: str
    text: str
    created_at: float
    pic_sha256: str | None = None
    rip: str = ""
    deleted: bool = False
    hidden: bool = False
    edit_count: int = 0
    edit_at: float = 0.0

    def as_json(self) -> dict[str, Any]:
        created = datetime.fromtimestamp(self.created_at, UTC).astimezone()
        body: dict[str, Any] = {
            "created_at": created.strftime("%a %b %d %H:%M:%S %z %Y"),
            "id": self.id,
            "idstr": str(self.id),
            "mid": str(self.id),
            "text": self.text,
            "source": '<a href="https://emulator.local" rel="nofollow">mediagate</a>',
            "favorited": False,
            "truncated": False,
            "reposts_count": 0,
            "comments_count": 0,
            "user": {"id": int(self.uid), "idstr": self.uid},
        }
        if self.edit_count:
            edited = datetime.fromtimestamp(self.edit_at, UTC).astimezone()
            body["edit_count"] = self.edit_count
            body["edit_at"] = edited.strftime("%a %b %d %H:%M:%S %z %Y")
        if self.pic_sha256:
            body["original_pic"] = f"https://wx1.sinaimg.cn/large/{self.pic_sha256[:32]}.jpg"
            body["thumbnail_pic"] = body["original_pic"].replace("/large/", "/thumbnail/")
            body["bmiddle_pic"] = body["original_pic"].replace("/large/", "/bmiddle/")
        return body


@dataclass
class WeiboState:
    """Everything the emulator remembers; tests may read and change it in-process."""

    safe_domains: tuple[str, ...]
    max_chars: int
    posts_per_hour: int
    calls_per_hour: int
    ip_calls_per_hour: int
    duplicate_window: int
    tokens: dict[str, TokenInfo] = field(default_factory=dict)
    statuses: list[Status] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    calls: dict[str, list[float]] = field(default_factory=dict)
    ip_calls: dict[str, list[float]] = field(default_factory=dict)
    posts: dict[str, list[float]] = field(default_factory=dict)
    injected: list[int] = field(default_factory=list)
    timeline_hidden: bool = False
    shorten_links: bool = False


STATE_KEY = web.AppKey("weibo_state", WeiboState)


class _WeiboError(Exception):
    def __init__(self, code: int, http_status: int = 400, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.http_status = http_status
        self.message = message or _MESSAGES.get(code) or _TOKEN_ERRORS.get(code, "error")


def weibo_length(text: str) -> int:
    """Weibo's count: a full-width (CJK) character is 1, a half-width one is 1/2 (rounded up)."""
    halves = sum(1 if unicodedata.east_asian_width(ch) in _HALF_WIDTH else 2 for ch in text)
    return (halves + 1) // 2


def _normalise(text: str) -> str:
    """What the "similar content" check compares: no URLs, spaces or punctuation."""
    text = _URL_RE.sub("", text)
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def _shorten(state: WeiboState, text: str) -> str:
    """Weibo stores every link as a t.cn short link (when ``shorten_links`` is on)."""
    if not state.shorten_links:
        return text

    def _short(match: re.Match[str]) -> str:
        digest = hashlib.sha256(match.group(0).encode()).hexdigest()
        return f"http://t.cn/{digest[:7]}"

    return _URL_RE.sub(_short, text)


def _envelope(request: web.Request, err: _WeiboError) -> web.Response:
    body = {"error": err.message, "error_code": err.code, "request": request.path}
    return web.json_response(body, status=err.http_status)


def _authorise(state: WeiboState, token: str | None, remote: str | None = None) -> TokenInfo:
    """The token's owner, after the token checks and the hourly call limits (IP, then user)."""
    now = time.time()
    ip_calls = [t for t in state.ip_calls.get(remote or "", []) if now - t < 3600]
    if len(ip_calls) >= state.ip_calls_per_hour:
        raise _WeiboError(10022, 403)
    ip_calls.append(now)
    state.ip_calls[remote or ""] = ip_calls
    if not token:
        raise _WeiboError(21332, 401)  # Weibo answers an absent token like an invalid one
    info = state.tokens.get(token)
    if info is None:
        raise _WeiboError(21332, 401)
    if info.revoked_code is not None:
        raise _WeiboError(info.revoked_code, 401)
    if info.expires_at is not None and now >= info.expires_at:
        raise _WeiboError(21327, 401)
    calls = [t for t in state.calls.get(token, []) if now - t < 3600]
    if len(calls) >= state.calls_per_hour:
        raise _WeiboError(10023, 403)
    calls.append(now)
    state.calls[token] = calls
    return info


def _token_of(request: web.Request, form: Any) -> str | None:
    token = form.get("access_token") if form is not None else None
    if not token:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("OAuth2 "):
            token = auth[len("OAuth2 ") :]
    return str(token) if token else None


def _visible(state: WeiboState, uid: str) -> list[Status]:
    return [s for s in state.statuses if s.uid == uid and not s.deleted and not s.hidden]


def _check_text(state: WeiboState, text: str) -> None:
    if not text.strip():
        raise _WeiboError(20008)
    hosts = [(urlsplit(u).hostname or "").lower() for u in _URL_RE.findall(text)]
    if not any(h == d or h.endswith("." + d) for h in hosts for d in state.safe_domains):
        raise _WeiboError(10017)
    if _TOPIC_RE.search(text):
        raise _WeiboError(10017, message="status must not contain #topic# words")
    if weibo_length(text) > state.max_chars:
        raise _WeiboError(
            20012,
            message=f"Text too long, please input text less than {state.max_chars} characters!",
        )


def _check_duplicate(state: WeiboState, uid: str, text: str) -> None:
    recent = [s for s in state.statuses if s.uid == uid and not s.deleted]
    recent = recent[-state.duplicate_window :]
    if any(s.text == _shorten(state, text) for s in recent):
        raise _WeiboError(20019)
    if any(_normalise(s.text) == _normalise(text) for s in recent):
        raise _WeiboError(20017)


async def _share(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["share"] += 1
    form = await request.post()
    try:
        return _share_form(request, state, form)
    finally:
        for value in form.values():
            if isinstance(value, web.FileField):
                value.file.close()


def _share_form(request: web.Request, state: WeiboState, form: Any) -> web.Response:
    try:
        info = _authorise(state, _token_of(request, form), request.remote)
        text = str(form.get("status") or "")
        rip = str(form.get("rip") or "")
        if not rip:
            raise _WeiboError(10016, message="miss required parameter (rip)")
        _check_text(state, text)
        now = time.time()
        posts = [t for t in state.posts.get(info.uid, []) if now - t < 3600]
        if len(posts) >= state.posts_per_hour:
            raise _WeiboError(10024, 403)
        pic_sha = None
        pic = form.get("pic")
        if pic is not None:
            if not isinstance(pic, web.FileField):
                raise _WeiboError(20007, message="use multi-part to upload pic")
            data = pic.file.read()
            if pic.content_type not in _PIC_TYPES:
                raise _WeiboError(20005)
            if len(data) >= _PIC_MAX_BYTES:
                raise _WeiboError(20006)
            pic_sha = hashlib.sha256(data).hexdigest()
        injected = state.injected.pop(0) if state.injected else None
        if injected is not None and injected != 20032:
            raise _WeiboError(injected, 500 if injected < 20000 else 400)
        _check_duplicate(state, info.uid, text)
        status = Status(
            id=_ID_BASE + len(state.statuses) + 1,
            uid=info.uid,
            text=_shorten(state, text),
            created_at=now,
            pic_sha256=pic_sha,
            rip=rip,
            hidden=state.timeline_hidden,
        )
        state.statuses.append(status)
        posts.append(now)
        state.posts[info.uid] = posts
        state.counters["created"] += 1
        if injected == 20032:
            raise _WeiboError(20032)
        return web.json_response(status.as_json())
    except _WeiboError as err:
        return _envelope(request, err)


def _find(state: WeiboState, uid: str, raw_id: str) -> Status:
    for s in _visible(state, uid):
        if str(s.id) == raw_id:
            return s
    raise _WeiboError(20101)


async def _show(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["show"] += 1
    try:
        info = _authorise(state, _token_of(request, request.query), request.remote)
        return web.json_response(_find(state, info.uid, request.query.get("id", "")).as_json())
    except _WeiboError as err:
        return _envelope(request, err)


async def _user_timeline(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["user_timeline"] += 1
    try:
        info = _authorise(state, _token_of(request, request.query), request.remote)
        count = min(max(int(request.query.get("count", "20")), 1), 100)
        page = max(int(request.query.get("page", "1")), 1)
        since_id = int(request.query.get("since_id", "0") or 0)
        max_id = int(request.query.get("max_id", "0") or 0)
        mine = [
            s
            for s in reversed(_visible(state, info.uid))
            if s.id > since_id and (not max_id or s.id <= max_id)
        ]
        chunk = mine[(page - 1) * count : page * count]
        return web.json_response(
            {"statuses": [s.as_json() for s in chunk], "total_number": len(mine)}
        )
    except ValueError:
        return _envelope(request, _WeiboError(10008, message="param error"))
    except _WeiboError as err:
        return _envelope(request, err)


async def _destroy(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.counters["destroy"] += 1
    try:
        form = await request.post()
        info = _authorise(state, _token_of(request, form), request.remote)
        status = _find(state, info.uid, str(form.get("id") or ""))
        status.deleted = True
        state.counters["destroyed"] += 1
        return web.json_response(status.as_json())
    except _WeiboError as err:
        return _envelope(request, err)


async def _token_info(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    try:
        form = await request.post()
        token = _token_of(request, form)
        info = _authorise(state, token)
        expire_in = int(info.expires_at - time.time()) if info.expires_at else 157_679_471
        return web.json_response(
            {"uid": info.uid, "appkey": "emulator", "scope": "", "expire_in": expire_in}
        )
    except _WeiboError as err:
        return _envelope(request, err)


async def _items(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    items = [
        {**s.as_json(), "deleted": s.deleted, "rip": s.rip, "pic_sha256": s.pic_sha256}
        for s in state.statuses
    ]
    return web.json_response(items)


async def _counters(request: web.Request) -> web.Response:
    return web.json_response(dict(request.app[STATE_KEY].counters))


async def _add_token(request: web.Request) -> web.Response:
    body = await request.json()
    expires_in_s = body.get("expires_in_s")
    request.app[STATE_KEY].tokens[str(body["token"])] = TokenInfo(
        uid=str(body.get("uid", "1404376560")),
        expires_at=None if expires_in_s is None else time.time() + float(expires_in_s),
    )
    return web.json_response({"ok": True}, status=201)


async def _revoke(request: web.Request) -> web.Response:
    body = await request.json() if request.can_read_body else {}
    code = int(body.get("code", 21317))
    state = request.app[STATE_KEY]
    for token, info in state.tokens.items():
        if body.get("token") in (None, token):
            info.revoked_code = code
    return web.json_response({"ok": True})


async def _inject(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[STATE_KEY].injected.extend([int(body["code"])] * int(body.get("times", 1)))
    return web.json_response({"ok": True})


async def _timeline_switch(request: web.Request) -> web.Response:
    body = await request.json()
    state = request.app[STATE_KEY]
    state.timeline_hidden = bool(body.get("hidden"))
    if not state.timeline_hidden:
        for s in state.statuses:
            s.hidden = False
    return web.json_response({"hidden": state.timeline_hidden})


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
    for key in ("title", "content", "uid"):
        if key in body and not isinstance(body[key], str):
            raise web.HTTPBadRequest(text=f"{key!r} must be a string")
    return body


def _console_text(body: dict[str, Any]) -> str:
    title = str(body.get("title") or "").strip()
    return (f"【{title}】" if title else "") + str(body.get("content") or "")


def _console_status(state: WeiboState, raw_id: str) -> Status:
    for s in state.statuses:
        if str(s.id) == raw_id and not s.deleted:
            return s
    raise web.HTTPNotFound(text=f"no status {raw_id}")


async def _console_publish(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _console_body(request, "content")
    uid = str(body.get("uid") or next(iter(state.tokens.values())).uid)
    status = Status(
        id=_ID_BASE + len(state.statuses) + 1,
        uid=uid,
        text=_shorten(state, _console_text(body)),
        created_at=time.time(),
        rip="console",
    )
    state.statuses.append(status)
    state.counters["console.publish"] += 1
    url = f"https://weibo.com/{uid}/{status.id}"
    return web.json_response({"platform_id": str(status.id), "url": url}, status=201)


async def _console_edit(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _console_body(request, "platform_id")
    status = _console_status(state, body["platform_id"])
    if "content" in body or "title" in body:
        shown_title, rest = "", status.text
        if status.text.startswith("【") and "】" in status.text:
            shown_title, _, rest = status.text[1:].partition("】")
        edited = {
            "title": body.get("title", shown_title),
            "content": body.get("content", rest),
        }
        status.text = _shorten(state, _console_text(edited))
    status.edit_count += 1
    status.edit_at = time.time()
    state.counters["console.edit"] += 1
    return web.json_response({"platform_id": str(status.id), "text": status.text})


async def _console_delete(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    body = await _console_body(request, "platform_id")
    _console_status(state, body["platform_id"]).deleted = True
    state.counters["console.delete"] += 1
    return web.json_response({"platform_id": body["platform_id"], "deleted": True})


def make_app(
    *,
    tokens: dict[str, str] | None = None,
    safe_domains: tuple[str, ...] = ("example.com",),
    max_chars: int = 140,
    posts_per_hour: int = 30,
    calls_per_hour: int = 1000,
    ip_calls_per_hour: int = 10000,
    duplicate_window: int = 20,
    token_ttl_s: float | None = None,
    shorten_links: bool = False,
) -> web.Application:
    """A Weibo emulator; ``tokens`` maps access token → uid (default: ``"weibo-token"``);
    ``shorten_links`` stores links as t.cn short links, as Weibo does."""
    state = WeiboState(
        safe_domains=tuple(d.lower() for d in safe_domains),
        max_chars=max_chars,
        posts_per_hour=posts_per_hour,
        calls_per_hour=calls_per_hour,
        ip_calls_per_hour=ip_calls_per_hour,
        duplicate_window=duplicate_window,
        shorten_links=shorten_links,
    )
    expires_at = None if token_ttl_s is None else time.time() + token_ttl_s
    for token, uid in (tokens or {"weibo-token": "1404376560"}).items():
        state.tokens[token] = TokenInfo(uid=uid, expires_at=expires_at)
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[STATE_KEY] = state
    faults.install(app)
    app.router.add_post("/2/statuses/share.json", _share)
    app.router.add_get("/2/statuses/show.json", _show)
    app.router.add_get("/2/statuses/user_timeline.json", _user_timeline)
    app.router.add_post("/2/statuses/destroy.json", _destroy)
    app.router.add_post("/oauth2/get_token_info", _token_info)
    app.router.add_get("/_emulator/items", _items)
    app.router.add_get("/_emulator/counters", _counters)
    app.router.add_post("/_emulator/tokens", _add_token)
    app.router.add_post("/_emulator/revoke", _revoke)
    app.router.add_post("/_emulator/errors", _inject)
    app.router.add_post("/_emulator/timeline", _timeline_switch)
    # comments, replies and reposts (docs/interactions.md)
    from connectors.emulators import weibo_comments

    weibo_comments.install(app)
    app.router.add_post("/_emulator/console/publish", _console_publish)
    app.router.add_post("/_emulator/console/edit", _console_edit)
    app.router.add_post("/_emulator/console/delete", _console_delete)
    return app


__all__ = ["STATE_KEY", "Status", "TokenInfo", "WeiboState", "make_app", "weibo_length"]
