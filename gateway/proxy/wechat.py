"""The WeChat surface of the proxy: ``/proxy/wechat/cgi-bin/…`` in WeChat's own API shapes.

A tool that speaks the WeChat Official Account API only changes its API host and credentials
(a proxy client's ``appid``/``secret``). Every call answers WeChat's envelope exactly (HTTP 200,
``{"errcode", "errmsg"}``), so SDK retry logic behaves: ``41001`` no token, ``40001`` an unknown
or superseded token, ``42001`` an expired one, ``40013``/``40125`` a wrong appid/secret,
``45009``/``45011`` the client's daily/minute budget, ``48001`` anything outside the subset or
an account the client may not use, ``87014`` content screening blocks. When the store, the audit
log or screening is unavailable the answer is HTTP 503 with ``errcode -1``: nothing is kept,
nothing is published.

Nothing is passed to WeChat from here. Images and drafts are kept by the gateway; a draft is
screened when it is added or updated; ``freepublish/submit`` turns it into a desk submission
(``gateway.desk``) and answers a ``publish_id``; the desk publishes it through the gate once the
approvals are complete, with the platform credentials from the vault, which never leave the
gateway. ``freepublish/get`` mirrors the submission: ``publish_status`` 1 while it awaits
approval or is being published, 0 with the article id and URL once published, 4 when an approver
rejected it, 3 when it failed or was withdrawn (``fail_reason`` says why). Deleting a published
article goes through the gate (Art. 19).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from connectors.base import Image
from gateway.accounts import Account
from gateway.appkeys import DESK, GATE, SERVICES
from gateway.audit import Actor
from gateway.desk.model import EDITABLE_STATES, Submission
from gateway.desk.service import DeskService
from gateway.errors import (
    ContentBlocked,
    Forbidden,
    GatewayError,
    Locked,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from gateway.gate import nfc_post, post_hash
from gateway.middleware import REQUEST_ID
from gateway.postmodel import IMAGE_TYPES, Post, post_from_stored, post_to_stored
from gateway.proxy.clients import (
    CallBudget,
    Caller,
    ProxyClient,
    ProxyClientStore,
    ProxyTokens,
)
from gateway.proxy.wechat_store import KeptDraft, PublishRecord, WeChatStore
from gateway.services import Services

log = logging.getLogger(__name__)

MEDIA_PATH = "/proxy/wechat/mmbiz/"
_MEDIA_REF = re.compile(r"/proxy/wechat/mmbiz/(mgm_[A-Za-z0-9_-]{1,40})")
_IMG_TAG = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']*)["'][^>]*>""", re.IGNORECASE)
_IMG_SRC = re.compile(r"""(\bsrc\s*=\s*["'])([^"']*)(["'])""", re.IGNORECASE)
UPLOADIMG_MAX_BYTES = 1024 * 1024
MATERIAL_MAX_BYTES = 10 * 1024 * 1024


class WxError(Exception):
    def __init__(self, errcode: int, errmsg: str, status: int = 200) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg
        self.status = status


def unauthorized(why: str) -> WxError:
    return WxError(48001, f"api unauthorized: {why}")


def _envelope(request: web.Request, errcode: int, errmsg: str, status: int = 200) -> web.Response:
    rid = request.get(REQUEST_ID, "")
    body = {"errcode": errcode, "errmsg": f"{errmsg} rid: {rid}" if rid else errmsg}
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type="application/json",
        charset="utf-8",
    )


def _from_gateway_error(exc: GatewayError) -> WxError:
    """The desk's and the gate's refusals in WeChat's envelope (Chinese reason, codes SDKs know)."""
    if isinstance(exc, ServiceUnavailable):
        return WxError(-1, f"system error: 网关暂不可用，未保存也未发布（{exc.detail}）", 503)
    if isinstance(exc, ContentBlocked):
        return WxError(87014, f"risky content: 内容被拦截，不能发布（{exc.detail}）")
    if isinstance(exc, Locked):
        return unauthorized(f"账号已冻结，暂停发布（{exc.detail}）")
    if isinstance(exc, (Forbidden, NotFound)):
        return unauthorized(f"网关拒绝（{exc.detail}）")
    if isinstance(exc, ValidationFailed):
        messages = "; ".join(e.get("message", "") for e in exc.extra.get("errors", []))
        return WxError(47001, f"data format error: {messages or exc.detail}")
    return WxError(48001, f"api unauthorized: 网关拒绝（{exc.slug}: {exc.detail}）")


ApiFn = Callable[[web.Request], Awaitable[Mapping[str, Any]]]


def wechat_api(fn: ApiFn) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Answer ``fn``'s result with ``errcode 0`` or any refusal in WeChat's envelope."""

    @functools.wraps(fn)
    async def handler(request: web.Request) -> web.Response:
        try:
            result = await fn(request)
        except WxError as err:
            return _envelope(request, err.errcode, err.errmsg, err.status)
        except GatewayError as exc:
            mapped = _from_gateway_error(exc)
            return _envelope(request, mapped.errcode, mapped.errmsg, mapped.status)
        except RedisError as exc:
            log.error("store unavailable in %s: %s", request.path, type(exc).__name__)
            return _envelope(request, -1, "system error: 存储不可用，未保存也未发布", 503)
        return web.json_response(dict(result), dumps=lambda v: json.dumps(v, ensure_ascii=False))

    return handler


# --- who is calling -------------------------------------------------------------------------


class WeChatProxy:
    """The proxy's services for one request (cheap: wrappers over the app's store)."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.svc: Services = request.app[SERVICES]
        self.desk: DeskService = request.app[DESK]
        settings = self.svc.settings.proxy
        self.clients = ProxyClientStore(self.svc.redis, self.svc.keys)
        self.tokens = ProxyTokens(self.svc.redis, self.svc.keys, settings)
        self.budget = CallBudget(self.svc.redis, self.svc.keys, settings)
        self.store = WeChatStore(self.svc.redis, self.svc.keys, settings.media_keep_s)

    @property
    def request_id(self) -> str:
        return str(self.request.get(REQUEST_ID, ""))

    async def audit(
        self,
        caller: Caller | None,
        action: str,
        target: str,
        *,
        client: ProxyClient | None = None,
        result: str = "ok",
        decision: str = "",
        reasons: tuple[str, ...] = (),
        content_sha256: str = "",
        **details: Any,
    ) -> None:
        client = caller.client if caller else client
        actor = caller.actor() if caller else Actor("proxy", "proxy client", "proxy", "")
        await self.svc.audit.append(
            actor=actor,
            action=action,
            target=target,
            result=result,
            decision=decision,
            reasons=reasons,
            content_sha256=content_sha256,
            request_id=self.request_id,
            details={
                "proxy_client": client.appid if client else "",
                "proxy_client_name": client.name if client else "",
                "principal": client.principal if client else "",
                **details,
            },
        )

    async def spend(self, client: ProxyClient) -> None:
        spent = await self.budget.spend(client.appid)
        if spent == "day":
            raise WxError(45009, "reach max api daily quota limit")
        if spent == "minute":
            raise WxError(45011, "api minute-quota reach limit, must slower, retry next minute")

    async def caller(self) -> Caller:
        token = self.request.query.get("access_token", "")
        if not token:
            raise WxError(41001, "access_token missing")
        state, appid = await self.tokens.check(token)
        if state == "expired":
            raise WxError(42001, "access_token expired")
        client = await self.clients.get(appid) if state == "ok" else None
        if client is None or client.revoked or client.kind != "wechat":
            raise WxError(40001, "invalid credential, access_token is invalid or not latest")
        await self.spend(client)
        principal = await self.svc.principals.get(client.principal)
        if principal is None or principal.revoked:
            raise unauthorized("代理客户端所代表的人员已停用")
        account = self.request.query.get("account", "") or client.accounts[0]
        if account not in client.accounts:
            await self.audit(
                None,
                "proxy.refused",
                account,
                client=client,
                result="refused",
                decision="account_not_bound",
                path=self.request.path,
            )
            raise unauthorized(f"此代理客户端无权使用账号 {account[:64]}")
        return Caller(client, client.acting(principal), account)


# --- request bodies -------------------------------------------------------------------------


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        raise WxError(44002, "empty post data")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WxError(47001, "data format error") from None
    if not isinstance(data, dict):
        raise WxError(47001, "data format error")
    return data


def _str(data: Mapping[str, Any], name: str, cap: int = 200) -> str:
    value = data.get(name, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > cap:
        raise WxError(40097, f"invalid args: {name}")
    return value


def _int(data: Mapping[str, Any], name: str, default: int) -> int:
    value = data.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise WxError(40097, f"invalid args: {name}") from None


def _image_type(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return ""


async def _media(request: web.Request) -> tuple[str, bytes]:
    try:
        form = await request.post()
    except ValueError:
        raise WxError(47001, "data format error") from None
    media = form.get("media")
    for value in form.values():
        if isinstance(value, web.FileField) and value is not media:
            value.file.close()
    if not isinstance(media, web.FileField):
        raise WxError(41005, "media data missing")
    with media.file:
        return media.filename or "image", media.file.read()


def _media_url(proxy: WeChatProxy, media_id: str) -> str:
    base = proxy.svc.settings.server.public_url.rstrip("/") or str(proxy.request.url.origin())
    return f"{base}{MEDIA_PATH}{media_id}"


# --- tokens ---------------------------------------------------------------------------------


async def _secret_checked(proxy: WeChatProxy, appid: str, secret: str) -> ProxyClient:
    client, ok = await proxy.clients.check_secret(appid[:64], secret[:128])
    if client is None:
        raise WxError(40013, "invalid appid")
    if not ok:
        await proxy.audit(None, "proxy.token", appid, client=client, result="refused",
                          decision="invalid_appsecret")  # fmt: skip
        raise WxError(40125, "invalid appsecret")
    await proxy.spend(client)
    return client


@wechat_api
async def token(request: web.Request) -> Mapping[str, Any]:
    """``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=``."""
    proxy = WeChatProxy(request)
    if request.query.get("grant_type") != "client_credential":
        raise WxError(40002, "invalid grant_type")
    client = await _secret_checked(
        proxy, request.query.get("appid", ""), request.query.get("secret", "")
    )
    issued = await proxy.tokens.issue_legacy(client.appid)
    await proxy.audit(None, "proxy.token", client.appid, client=client, pool="legacy")
    return {"access_token": issued.token, "expires_in": issued.expires_in}


@wechat_api
async def stable_token(request: web.Request) -> Mapping[str, Any]:
    """``POST /cgi-bin/stable_token`` ``{"grant_type", "appid", "secret", "force_refresh"}``."""
    proxy = WeChatProxy(request)
    data = await _json(request)
    if data.get("grant_type") != "client_credential":
        raise WxError(40002, "invalid grant_type")
    secret = _str(data, "secret", 128)
    client = await _secret_checked(proxy, _str(data, "appid", 64), secret)
    issued = await proxy.tokens.issue_stable(
        client.appid, secret, force=bool(data.get("force_refresh"))
    )
    await proxy.audit(None, "proxy.token", client.appid, client=client, pool="stable")
    return {"access_token": issued.token, "expires_in": issued.expires_in}


# --- images ---------------------------------------------------------------------------------


async def _keep_upload(proxy: WeChatProxy, caller: Caller, kind: str, cap: int) -> str:
    filename, data = await _media(proxy.request)
    ctype = _image_type(data)
    if kind == "uploadimg" and ctype not in ("image/jpeg", "image/png"):
        raise WxError(40005, "invalid file type")
    if not ctype or ctype not in IMAGE_TYPES:
        raise WxError(40005, "invalid file type")
    limit = min(cap, proxy.svc.settings.limits.max_image_bytes)
    if not data or len(data) >= limit:
        raise WxError(40009, "invalid image size")
    image = Image(filename[:200], ctype, data, hashlib.sha256(data).hexdigest())
    media_id = await proxy.store.keep_image(caller.client.appid, image, kind)
    await proxy.audit(caller, "proxy.media.add", media_id, account=caller.account, kind=kind,
                      sha256=image.sha256, bytes=len(data))  # fmt: skip
    return media_id


@wechat_api
async def uploadimg(request: web.Request) -> Mapping[str, Any]:
    """``POST /cgi-bin/media/uploadimg`` (multipart ``media``) → ``{"url"}`` for article bodies."""
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    media_id = await _keep_upload(proxy, caller, "uploadimg", UPLOADIMG_MAX_BYTES)
    return {"errcode": 0, "errmsg": "ok", "url": _media_url(proxy, media_id)}


@wechat_api
async def add_material(request: web.Request) -> Mapping[str, Any]:
    """``POST /cgi-bin/material/add_material?type=image|thumb`` → ``{"media_id", "url"}``."""
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    kind = request.query.get("type", "")
    if kind in ("voice", "video"):
        raise unauthorized(f"网关代理只接受图片素材，不接受 {kind}")
    if kind not in ("image", "thumb"):
        raise WxError(40004, "invalid media type")
    media_id = await _keep_upload(proxy, caller, kind, MATERIAL_MAX_BYTES)
    return {"media_id": media_id, "url": _media_url(proxy, media_id)}


# --- drafts ---------------------------------------------------------------------------------


def _article_fields(article: Any) -> dict[str, Any]:
    """WeChat's own checks on one article (same codes as the platform)."""
    if not isinstance(article, dict):
        raise WxError(47001, "data format error")
    fields: dict[str, Any] = {
        "title": _str(article, "title", 10_000),
        "author": _str(article, "author", 10_000),
        "digest": _str(article, "digest", 10_000),
        "content": _str(article, "content", 2_000_000),
        "content_source_url": _str(article, "content_source_url", 10_000),
        "thumb_media_id": _str(article, "thumb_media_id", 200),
        "need_open_comment": _int(article, "need_open_comment", 0),
        "only_fans_can_comment": _int(article, "only_fans_can_comment", 0),
    }
    if article.get("article_type", "news") != "news":
        raise unauthorized("网关代理只接受图文消息（article_type news）")
    if not fields["title"] or not fields["content"]:
        raise WxError(44003, "empty news data")
    if len(fields["title"]) > 32:
        raise WxError(45003, "title size out of limit")
    if len(fields["author"]) > 16:
        raise WxError(45110, "author size out of limit")
    if len(fields["digest"]) > 128:
        raise WxError(45004, "description size out of limit")
    if len(fields["content"]) >= 20_000 or len(fields["content"].encode()) >= 1024 * 1024:
        raise WxError(45002, "content size out of limit")
    if len(fields["content_source_url"].encode()) > 1024:
        raise WxError(45005, "url size out of limit")
    return fields


def _point(tag: str, n: int) -> str:
    """An ``<img>`` tag pointing at the post's image ``n`` (``image:N``, as the connectors read)."""
    return _IMG_SRC.sub(lambda m: f"{m.group(1)}image:{n}{m.group(3)}", tag, count=1)


async def _post_of(proxy: WeChatProxy, caller: Caller, fields: Mapping[str, Any]) -> Post:
    """The gateway post an article becomes: its images resolved to the kept ones (``image:N``),
    images the gateway did not receive dropped (as WeChat drops foreign images)."""
    appid = caller.client.appid
    cover = await proxy.store.image(appid, fields["thumb_media_id"])
    if cover is None:
        raise WxError(40007, "invalid media_id")
    images: list[Image] = []
    index: dict[str, int] = {}
    content = fields["content"]
    parts: list[str] = []
    last = 0
    for tag in _IMG_TAG.finditer(content):
        parts.append(content[last : tag.start()])
        last = tag.end()
        ref = _MEDIA_REF.search(tag.group(1))
        image = await proxy.store.image(appid, ref.group(1)) if ref else None
        if ref is None or image is None:
            continue  # not an image the gateway kept: dropped
        if ref.group(1) not in index:
            index[ref.group(1)] = len(images)
            images.append(image)
        parts.append(_point(tag.group(0), index[ref.group(1)]))
    parts.append(content[last:])
    if len(images) > proxy.svc.settings.limits.max_images:
        raise WxError(45008, "article size out of limit: 图片过多")
    return nfc_post(
        Post(
            title=fields["title"],
            digest=fields["digest"],
            author=fields["author"],
            content="".join(parts),
            source=fields["content_source_url"] or caller.client.source,
            category=caller.client.category,
            cover=cover,
            images=tuple(images),
        )
    )


async def _screened(proxy: WeChatProxy, caller: Caller, post: Post) -> tuple[Account, str]:
    """Authorise the account, validate for the platform and screen; block → 87014 naming the
    finding (audited, Art. 8 alert like the desk's)."""
    gate = proxy.request.app[GATE]
    digest = post_hash(post)
    account = await gate.authorise(caller.principal, caller.account)
    gate.validate(post, account, digest)
    screen = await gate.screening.screen(post.texts())
    if screen.decision == "block":
        blocking = [f for f in screen.findings if f.action == "block"]
        await proxy.audit(
            caller,
            "proxy.draft.refused",
            caller.account,
            result="refused",
            decision="block",
            reasons=tuple(f"{f.category}:{f.rule}" for f in blocking),
            content_sha256=digest,
        )
        await proxy.desk.notices.blocked(
            proxy.desk.policy, caller.principal, [account.id], blocking, digest
        )
        named = "；".join(f"{f.field} 中的「{f.text}」（{f.category}）" for f in blocking[:3])
        raise WxError(87014, f"risky content: 内容含有不得发布的内容：{named}")
    return account, digest


def _as_article(fields: Mapping[str, Any], thumb_url: str) -> dict[str, Any]:
    return {**fields, "thumb_url": thumb_url, "url": ""}


@wechat_api
async def draft_add(request: web.Request) -> Mapping[str, Any]:
    """``POST /cgi-bin/draft/add`` ``{"articles": [ARTICLE]}`` (one article per draft)."""
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    data = await _json(request)
    articles = data.get("articles")
    if not isinstance(articles, list) or not articles:
        raise WxError(44003, "empty news data")
    if len(articles) > 1:
        raise WxError(45008, "article size out of limit: 网关代理每篇草稿只接受一篇图文")
    fields = _article_fields(articles[0])
    post = await _post_of(proxy, caller, fields)
    _, digest = await _screened(proxy, caller, post)
    now = time.time()
    media_id = f"mgd_{secrets.token_urlsafe(24)}"
    draft = KeptDraft(
        media_id=media_id,
        account=caller.account,
        articles=(_as_article(fields, _media_url(proxy, fields["thumb_media_id"])),),
        post=post_to_stored(post),
        content_sha256=digest,
        created_at=now,
        updated_at=now,
    )
    await proxy.store.add_draft(caller.client.appid, draft)
    await proxy.audit(caller, "proxy.draft.add", media_id, content_sha256=digest,
                      account=caller.account)  # fmt: skip
    return {"media_id": media_id}


async def _draft(proxy: WeChatProxy, caller: Caller, data: Mapping[str, Any]) -> KeptDraft:
    draft = await proxy.store.draft(caller.client.appid, _str(data, "media_id", 64))
    if draft is None:
        raise WxError(40007, "invalid media_id")
    return draft


@wechat_api
async def draft_get(request: web.Request) -> Mapping[str, Any]:
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    draft = await _draft(proxy, caller, await _json(request))
    return {"news_item": list(draft.articles)}


@wechat_api
async def draft_update(request: web.Request) -> Mapping[str, Any]:
    """``POST /cgi-bin/draft/update`` ``{"media_id", "index": 0, "articles": ARTICLE}``: screened
    again; a draft already submitted becomes a new version on the desk (earlier approvals void);
    once it is being published or published it is no longer a draft (Art. 19: edits of
    published articles go through the review desk)."""
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    data = await _json(request)
    draft = await _draft(proxy, caller, data)
    if _int(data, "index", 0) != 0:
        raise WxError(40097, "invalid args: index")
    fields = _article_fields(data.get("articles"))
    post = await _post_of(proxy, caller, fields)
    _, digest = await _screened(proxy, caller, post)
    if draft.publish_id:
        record = await proxy.store.publish(caller.client.appid, draft.publish_id)
        if record is None:
            raise WxError(40007, "invalid media_id")
        sub = await proxy.desk.get(caller.principal, record.submission)
        if sub.state not in EDITABLE_STATES:
            raise unauthorized(
                f"此稿已进入发布（{sub.state}），不能再修改；修改已发布文章须经审核台审批（第十九条）"
            )
        new = await proxy.desk.resubmit(caller.principal, sub.id, post, proxy.request_id)
        await proxy.store.follow(caller.client.appid, record, new.id)
    now = time.time()
    updated = KeptDraft(
        media_id=draft.media_id,
        account=draft.account,
        articles=(_as_article(fields, _media_url(proxy, fields["thumb_media_id"])),),
        post=post_to_stored(post),
        content_sha256=digest,
        created_at=draft.created_at,
        updated_at=now,
        publish_id=draft.publish_id,
    )
    await proxy.store.put_draft(caller.client.appid, updated)
    await proxy.audit(caller, "proxy.draft.update", draft.media_id, content_sha256=digest,
                      account=draft.account, publish_id=draft.publish_id)  # fmt: skip
    return {"errcode": 0, "errmsg": "ok"}


@wechat_api
async def draft_delete(request: web.Request) -> Mapping[str, Any]:
    """``POST /cgi-bin/draft/delete``: a submitted draft still awaiting approval is withdrawn
    from the desk; one being published or published is not a draft any more (40007)."""
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    draft = await _draft(proxy, caller, await _json(request))
    if draft.publish_id:
        record = await proxy.store.publish(caller.client.appid, draft.publish_id)
        sub = await proxy.desk.get(caller.principal, record.submission) if record else None
        if sub is not None and sub.state in EDITABLE_STATES:
            await proxy.desk.withdraw(caller.principal, sub.id, proxy.request_id)
        elif sub is not None and sub.state not in ("withdrawn", "rejected", "failed"):
            raise WxError(40007, "invalid media_id: 此稿已发布或正在发布")
    await proxy.store.delete_draft(caller.client.appid, draft.media_id)
    await proxy.audit(caller, "proxy.draft.delete", draft.media_id,
                      content_sha256=draft.content_sha256, account=draft.account)  # fmt: skip
    return {"errcode": 0, "errmsg": "ok"}


def _page(data: Mapping[str, Any]) -> tuple[int, int]:
    offset, count = _int(data, "offset", 0), _int(data, "count", 0)
    if offset < 0 or not 1 <= count <= 20:
        raise WxError(40097, "invalid args")
    return offset, count


@wechat_api
async def draft_batchget(request: web.Request) -> Mapping[str, Any]:
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    data = await _json(request)
    offset, count = _page(data)
    total, drafts = await proxy.store.drafts(caller.client.appid, offset, count)
    no_content = bool(_int(data, "no_content", 0))
    items = [
        {
            "media_id": d.media_id,
            "content": {
                "news_item": [
                    {k: v for k, v in a.items() if not (no_content and k == "content")}
                    for a in d.articles
                ],
                "create_time": int(d.created_at),
                "update_time": int(d.updated_at),
            },
            "update_time": int(d.updated_at),
        }
        for d in drafts
    ]
    return {"total_count": total, "item_count": len(items), "item": items}


@wechat_api
async def draft_count(request: web.Request) -> Mapping[str, Any]:
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    return {"total_count": await proxy.store.draft_count(caller.client.appid)}


# --- publishing -----------------------------------------------------------------------------


@wechat_api
async def freepublish_submit(request: web.Request) -> Mapping[str, Any]:
    """``POST /cgi-bin/freepublish/submit`` ``{"media_id"}``: the draft becomes a submission on
    the review desk (approvers are told); answers the ``publish_id`` to follow it by."""
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    draft = await _draft(proxy, caller, await _json(request))
    appid = caller.client.appid
    if draft.publish_id or not await proxy.store.claim(appid, draft.media_id):
        raise WxError(40007, "invalid media_id: 此稿已提交发布")
    try:
        sub = await proxy.desk.submit(
            caller.principal,
            accounts=[draft.account],
            post=post_from_stored(draft.post),
            note=f"经代理客户端 {caller.client.name}（{appid}）提交",
            request_id=proxy.request_id,
        )
    except BaseException:
        await proxy.store.unclaim(appid, draft.media_id)
        raise
    record = await proxy.store.new_publish(appid, draft, sub.id)
    await proxy.audit(caller, "proxy.freepublish.submit", record.publish_id,
                      content_sha256=sub.content_sha256, account=draft.account,
                      submission=sub.id, draft=draft.media_id)  # fmt: skip
    publish_id = int(record.publish_id)
    return {"errcode": 0, "errmsg": "ok", "publish_id": publish_id, "msg_data_id": publish_id + 1}


async def _record(proxy: WeChatProxy, caller: Caller, data: Mapping[str, Any]) -> PublishRecord:
    record = await proxy.store.publish(caller.client.appid, _str(data, "publish_id", 20))
    if record is None:
        raise WxError(40007, "invalid publish_id")
    return record


async def _submission(proxy: WeChatProxy, caller: Caller, record: PublishRecord) -> Submission:
    """The submission a publish follows, the newest version of it."""
    sub = await proxy.desk.get(caller.principal, record.submission)
    for _ in range(20):
        if sub.state != "superseded" or not sub.superseded_by:
            break
        sub = await proxy.desk.get(caller.principal, sub.superseded_by)
    return sub


async def _deleted(proxy: WeChatProxy, sub: Submission) -> bool:
    """Whether the published article was deleted since (the gate's delete job marks the job)."""
    if not sub.jobs or not sub.jobs[0].platform_id:
        return False
    job = await proxy.request.app[GATE].jobs.get(sub.jobs[0].id)
    return job is not None and job.state == "deleted"


def _status(sub: Submission, deleted: bool) -> tuple[int, str]:
    """WeChat's publish_status for a submission, and the reason when it failed."""
    if deleted:
        return 5, ""
    if sub.state in ("awaiting_approval", "approved", "publishing", "unconfirmed"):
        return 1, ""
    if sub.state == "published":
        return 0, ""
    if sub.state == "rejected":
        reason = sub.rejection.reason if sub.rejection else ""
        return 4, f"审核不通过：{reason}"
    reasons = "; ".join(j.reason for j in sub.jobs if j.reason)
    if sub.state == "withdrawn":
        return 3, "已撤回"
    return 3, f"发布失败：{reasons or sub.state}"


@wechat_api
async def freepublish_get(request: web.Request) -> Mapping[str, Any]:
    """``POST /cgi-bin/freepublish/get`` ``{"publish_id"}``: the desk's state in WeChat's terms."""
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    record = await _record(proxy, caller, await _json(request))
    sub = await _submission(proxy, caller, record)
    status, reason = _status(sub, await _deleted(proxy, sub))
    answer: dict[str, Any] = {"publish_id": int(record.publish_id), "publish_status": status}
    if status in (0, 5):
        job = sub.jobs[0]
        answer["article_id"] = job.platform_id
        answer["article_detail"] = {"count": 1, "item": [{"idx": 1, "article_url": job.url}]}
    answer["fail_idx"] = [1] if status in (2, 3, 4) else []
    if reason:
        answer["fail_reason"] = reason
    return answer


@dataclass(frozen=True)
class _Published:
    sub: Submission
    draft: KeptDraft
    deleted: bool

    def news_items(self, with_content: bool = True) -> list[dict[str, Any]]:
        return [
            {
                **{k: v for k, v in a.items() if with_content or k != "content"},
                "url": self.sub.jobs[0].url,
                "is_deleted": self.deleted,
            }
            for a in self.draft.articles
        ]


async def _published(proxy: WeChatProxy, caller: Caller) -> list[_Published]:
    """The client's articles that reached WeChat (deleted ones too, marked)."""
    found = []
    for record in await proxy.store.publishes(caller.client.appid):
        sub = await _submission(proxy, caller, record)
        draft = await proxy.store.draft(caller.client.appid, record.draft)
        deleted = await _deleted(proxy, sub)
        if draft is not None and (sub.state == "published" or deleted):
            found.append(_Published(sub, draft, deleted))
    return found


@wechat_api
async def freepublish_batchget(request: web.Request) -> Mapping[str, Any]:
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    data = await _json(request)
    offset, count = _page(data)
    live = [p for p in await _published(proxy, caller) if not p.deleted]
    page = live[offset : offset + count]
    with_content = not _int(data, "no_content", 0)
    items = [
        {
            "article_id": p.sub.jobs[0].platform_id,
            "content": {
                "news_item": p.news_items(with_content),
                "create_time": int(p.sub.updated_at),
                "update_time": int(p.sub.updated_at),
            },
            "update_time": int(p.sub.updated_at),
        }
        for p in page
    ]
    return {"total_count": len(live), "item_count": len(items), "item": items}


async def _article(proxy: WeChatProxy, caller: Caller, data: Mapping[str, Any]) -> _Published:
    article_id = _str(data, "article_id", 200)
    for found in await _published(proxy, caller):
        if article_id and found.sub.jobs[0].platform_id == article_id:
            return found
    raise WxError(40007, "invalid article_id")


@wechat_api
async def freepublish_getarticle(request: web.Request) -> Mapping[str, Any]:
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    found = await _article(proxy, caller, await _json(request))
    return {"news_item": found.news_items()}


@wechat_api
async def freepublish_delete(request: web.Request) -> Mapping[str, Any]:
    """``POST /cgi-bin/freepublish/delete`` ``{"article_id"}``: through the gate (Art. 19): only
    a proxy client acting for Brand-PR or the owning unit's head may delete; an editor's tool is
    refused (48001) and the refusal is audited."""
    proxy = WeChatProxy(request)
    caller = await proxy.caller()
    found = await _article(proxy, caller, await _json(request))
    sub, job = found.sub, found.sub.jobs[0]
    if found.deleted:
        raise WxError(40007, "invalid article_id")
    gate = proxy.request.app[GATE]
    reason = f"经代理客户端 {caller.client.name}（{caller.client.appid}）删除"
    try:
        await gate.delete(caller.principal, job.id, reason, proxy.request_id)
    except Forbidden as exc:
        raise unauthorized(
            f"删除已发布文章须经品牌部或所属单位负责人（第十九条）：{exc.detail}"
        ) from None
    await proxy.audit(caller, "proxy.freepublish.delete", job.platform_id, account=job.account,
                      job=job.id, submission=sub.id)  # fmt: skip
    return {"errcode": 0, "errmsg": "ok"}


@wechat_api
async def outside(request: web.Request) -> Mapping[str, Any]:
    """Every other ``/cgi-bin/…`` call: not offered, nothing passed through."""
    api = request.path.removeprefix("/proxy/wechat/cgi-bin/")[:100]
    raise unauthorized(f"{api} 不在网关代理支持的接口范围内，未转发")
