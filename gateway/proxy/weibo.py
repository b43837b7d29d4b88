"""The Weibo surface of the proxy: ``/proxy/weibo/2/…`` in Weibo's own API shapes.

A tool that speaks Weibo's API v2 only changes its API host and its access token (a Weibo-kind
proxy client's, ``2.00…``), passed as Weibo takes it: the ``access_token`` form or query field,
or ``Authorization: OAuth2 <token>``. Refusals answer Weibo's envelope exactly, ``{"error",
"error_code", "request"}`` with an int code: ``21332`` an unknown token (HTTP 401), ``21327`` an
expired one (401), ``10014`` an account the client may not use or a delete the gate refuses
(403), ``10023``/``10024`` the client's call budget (403), ``20008`` empty text, ``20012`` text
too long, ``20005``/``20006`` a bad picture, ``20021`` content screening blocks (naming the
finding in Chinese), ``10017`` anything else the gate finds wrong, ``10001`` (HTTP 503) when the
store, the audit log or screening is unavailable: nothing kept, nothing published.

``statuses/share.json`` does not publish: it screens the text and picture and makes a submission
on the review desk, then answers HTTP 200 with a status object whose ``id``/``idstr``/``mid`` are
the gateway's pending handle (not a Weibo id) and whose ``mediagate`` field says the status awaits
approval (docs/proxy.md explains the choice). ``statuses/show.json?id=<handle>`` follows it; once
the desk has published it, ``mediagate`` carries the real Weibo id and URL.
``statuses/destroy.json`` withdraws a pending status from the desk, or deletes a published one
through the gate (Art. 19: only Brand-PR or the owning unit's head).
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from redis.exceptions import RedisError

from connectors.base import Image
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
from gateway.keys import text
from gateway.middleware import REQUEST_ID
from gateway.postmodel import IMAGE_TYPES, Post
from gateway.proxy.clients import (
    CallBudget,
    Caller,
    ProxyClient,
    ProxyClientStore,
    ProxyTokens,
)
from gateway.proxy.wechat_store import PUBLISH_ID_BASE, PublishRecord
from gateway.services import Services

log = logging.getLogger(__name__)

PREFIX = "/proxy/weibo"
MAX_STATUS_CHARS = 140  # statuses/share.json's own limit (20012)
PIC_MAX_BYTES = 5 * 1024 * 1024  # Weibo's picture limit (20006)
_PENDING_STATES = ("awaiting_approval", "approved", "publishing", "unconfirmed")


class WbError(Exception):
    def __init__(self, code: int, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.code = code
        self.error = error
        self.status = status


def _envelope(request: web.Request, err: WbError) -> web.Response:
    body = {
        "error": err.error,
        "error_code": err.code,
        "request": request.path.removeprefix(PREFIX),
    }
    return web.Response(
        status=err.status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type="application/json",
        charset="utf-8",
    )


def _from_gateway_error(exc: GatewayError) -> WbError:
    """The desk's and the gate's refusals in Weibo's envelope (Chinese reason, real codes)."""
    if isinstance(exc, ServiceUnavailable):
        return WbError(10001, f"system error: 网关暂不可用，未保存也未发布（{exc.detail}）", 503)
    if isinstance(exc, ContentBlocked):
        return WbError(20021, f"Contain illegal content: 内容被拦截，不能发布（{exc.detail}）")
    if isinstance(exc, Locked):
        return WbError(10014, f"Insufficient app permissions: 账号已冻结（{exc.detail}）", 403)
    if isinstance(exc, (Forbidden, NotFound)):
        return WbError(10014, f"Insufficient app permissions: 网关拒绝（{exc.detail}）", 403)
    if isinstance(exc, ValidationFailed):
        messages = "; ".join(e.get("message", "") for e in exc.extra.get("errors", []))
        return WbError(10017, f"invalid value: {messages or exc.detail}")
    return WbError(
        10014, f"Insufficient app permissions: 网关拒绝（{exc.slug}: {exc.detail}）", 403
    )


ApiFn = Callable[[web.Request], Awaitable[Mapping[str, Any]]]


def weibo_api(fn: ApiFn) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Answer ``fn``'s result as JSON, or any refusal in Weibo's envelope."""

    @functools.wraps(fn)
    async def handler(request: web.Request) -> web.Response:
        try:
            result = await fn(request)
        except WbError as err:
            return _envelope(request, err)
        except GatewayError as exc:
            return _envelope(request, _from_gateway_error(exc))
        except RedisError as exc:
            log.error("store unavailable in %s: %s", request.path, type(exc).__name__)
            return _envelope(
                request, WbError(10001, "system error: 存储不可用，未保存也未发布", 503)
            )
        return web.json_response(dict(result), dumps=lambda v: json.dumps(v, ensure_ascii=False))

    return handler


class WeiboProxy:
    """The proxy's services for one Weibo call; the form is read once (multipart or urlencoded)."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.svc: Services = request.app[SERVICES]
        self.desk: DeskService = request.app[DESK]
        settings = self.svc.settings.proxy
        self.clients = ProxyClientStore(self.svc.redis, self.svc.keys)
        self.tokens = ProxyTokens(self.svc.redis, self.svc.keys, settings)
        self.budget = CallBudget(self.svc.redis, self.svc.keys, settings)
        self.form: MultiDictProxy[Any] = MultiDictProxy(MultiDict(request.query))

    @property
    def request_id(self) -> str:
        return str(self.request.get(REQUEST_ID, ""))

    async def read_form(self) -> None:
        if self.request.method != "POST":
            return
        try:
            self.form = await self.request.post()
        except ValueError:
            raise WbError(10008, "param error") from None

    def field(self, name: str, cap: int = 200) -> str:
        value = self.form.get(name) or self.request.query.get(name, "")
        if not isinstance(value, str) or len(value) > cap:
            raise WbError(10017, f"invalid value: {name}")
        return value

    def token(self) -> str:
        header = self.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "oauth2" and value.strip():
            return value.strip()
        value = self.form.get("access_token") or self.request.query.get("access_token", "")
        return value if isinstance(value, str) else ""

    async def audit(
        self, caller: Caller | None, action: str, target: str, *, client: ProxyClient | None = None,
        result: str = "ok", decision: str = "", reasons: tuple[str, ...] = (),
        content_sha256: str = "", **details: Any,
    ) -> None:  # fmt: skip
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
                "surface": "weibo",
                **details,
            },
        )

    async def caller(self, *, posting: bool = False) -> Caller:
        await self.read_form()
        state, appid = await self.tokens.check(self.token())
        if state == "expired":
            raise WbError(21327, "expired_token", 401)
        client = await self.clients.get(appid) if state == "ok" else None
        if client is None or client.revoked or client.kind != "weibo":
            raise WbError(21332, "invalid_access_token", 401)
        spent = await self.budget.spend(client.appid)
        if spent != "ok":
            api = self.request.path.removeprefix(PREFIX + "/2/").removesuffix(".json")
            if posting:
                raise WbError(10024, f"User requests for ({api}) out of rate limit!", 403)
            raise WbError(10023, "User requests out of rate limit!", 403)
        principal = await self.svc.principals.get(client.principal)
        if principal is None or principal.revoked:
            raise WbError(10014, "Insufficient app permissions: 代理客户端所代表的人员已停用", 403)
        account = self.field("account", 64) or client.accounts[0]
        if account not in client.accounts:
            await self.audit(None, "proxy.refused", account, client=client, result="refused",
                             decision="account_not_bound", path=self.request.path)  # fmt: skip
            raise WbError(
                10014, f"Insufficient app permissions: 此代理客户端无权使用账号 {account}", 403
            )
        return Caller(client, client.acting(principal), account)

    # the pending handles: the WeChat store's publish records, namespaced by the client's id

    async def new_handle(self, caller: Caller, submission_id: str) -> PublishRecord:
        keys, appid = self.svc.keys, caller.client.appid
        seq = int(await self.svc.redis.incr(keys.proxy_publish_seq()))
        now = time.time()
        record = PublishRecord(str(PUBLISH_ID_BASE + seq), submission_id, "", caller.account, now)
        async with self.svc.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.proxy_publish(appid, record.publish_id), record.dump())
            pipe.zadd(keys.proxy_publishes(appid), {record.publish_id: now})
            await pipe.execute()
        return record

    async def record(self, caller: Caller) -> PublishRecord:
        handle = self.field("id", 20)
        if not handle.isdigit():
            raise WbError(10017, "invalid value: id")
        raw = await self.svc.redis.get(self.svc.keys.proxy_publish(caller.client.appid, handle))
        if raw is None:
            raise WbError(20101, "target weibo does not exist: 此代理客户端没有这条待审或已发微博")
        return PublishRecord.load(text(raw))

    async def submission(self, caller: Caller, record: PublishRecord) -> Submission:
        sub = await self.desk.get(caller.principal, record.submission)
        for _ in range(20):
            if sub.state != "superseded" or not sub.superseded_by:
                break
            sub = await self.desk.get(caller.principal, sub.superseded_by)
        return sub

    async def deleted(self, sub: Submission) -> bool:
        if not sub.jobs or not sub.jobs[0].platform_id:
            return False
        job = await self.request.app[GATE].jobs.get(sub.jobs[0].id)
        return job is not None and job.state == "deleted"


def _pic(proxy: WeiboProxy) -> Image | None:
    pic = proxy.form.get("pic")
    for value in proxy.form.values():
        if isinstance(value, web.FileField) and value is not pic:
            value.file.close()
    if pic is None:
        return None
    if not isinstance(pic, web.FileField):
        raise WbError(20007, "use multi-part to upload pic")
    with pic.file:
        data = pic.file.read()
    if data.startswith(b"\xff\xd8\xff"):
        ctype = "image/jpeg"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        ctype = "image/png"
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        ctype = "image/gif"
    else:
        ctype = ""
    if ctype not in IMAGE_TYPES:
        raise WbError(20005, "unsupported image type, only suport JPG, GIF, PNG!")
    if len(data) > min(PIC_MAX_BYTES, proxy.svc.settings.limits.max_image_bytes):
        raise WbError(20006, "image size too large.")
    return Image((pic.filename or "pic")[:200], ctype, data, hashlib.sha256(data).hexdigest())


def _status_object(
    record: PublishRecord, status: str, mediagate: Mapping[str, Any]
) -> dict[str, Any]:
    created = time.strftime("%a %b %d %H:%M:%S +0800 %Y", time.gmtime(record.created_at + 8 * 3600))
    return {
        "created_at": created,
        "id": int(record.publish_id),
        "idstr": record.publish_id,
        "mid": record.publish_id,
        "text": status,
        "source": '<a href="" rel="nofollow">mediagate</a>',
        "favorited": False,
        "truncated": False,
        "reposts_count": 0,
        "comments_count": 0,
        "attitudes_count": 0,
        "mediagate": dict(mediagate),
    }


def _state(sub: Submission, deleted: bool) -> dict[str, Any]:
    """The ``mediagate`` field: where the status stands on the desk, in plain words."""
    if deleted:
        return {"state": "deleted", "published": False, "message": "已发布的微博已经删除"}
    if sub.state in _PENDING_STATES:
        state = "awaiting_approval" if sub.state == "awaiting_approval" else "publishing"
        message = "已提交审核台，尚未发布；此 id 是网关的待审编号，不是微博 id"
        return {"state": state, "published": False, "message": message}
    if sub.state == "published":
        job = sub.jobs[0]
        return {"state": "published", "published": True, "weibo_id": job.platform_id,
                "url": job.url, "message": "已经审核台批准并发布"}  # fmt: skip
    if sub.state == "rejected":
        reason = sub.rejection.reason if sub.rejection else ""
        return {"state": "rejected", "published": False, "message": f"审核不通过：{reason}"}
    if sub.state == "withdrawn":
        return {"state": "withdrawn", "published": False, "message": "已撤回，未发布"}
    reasons = "; ".join(j.reason for j in sub.jobs if j.reason)
    return {"state": "failed", "published": False, "message": f"发布失败：{reasons or sub.state}"}


async def _screened(proxy: WeiboProxy, caller: Caller, post: Post) -> str:
    """Authorise the account, validate for Weibo and screen; block → 20021 naming the finding."""
    gate = proxy.request.app[GATE]
    digest = post_hash(post)
    account = await gate.authorise(caller.principal, caller.account)
    gate.validate(post, account, digest)
    screen = await gate.screening.screen(post.texts())
    if screen.decision == "block":
        blocking = [f for f in screen.findings if f.action == "block"]
        reasons = tuple(f"{f.category}:{f.rule}" for f in blocking)
        await proxy.audit(caller, "proxy.status.refused", caller.account, result="refused",
                          decision="block", reasons=reasons, content_sha256=digest)  # fmt: skip
        await proxy.desk.notices.blocked(
            proxy.desk.policy, caller.principal, [account.id], blocking, digest
        )
        named = "；".join(f"「{f.text}」（{f.category}）" for f in blocking[:3])
        raise WbError(20021, f"Contain illegal content: 内容含有不得发布的内容：{named}")
    return digest


@weibo_api
async def share(request: web.Request) -> Mapping[str, Any]:
    """``POST /2/statuses/share.json`` (``status``, optional ``pic``): screened, then a desk
    submission; answers the pending status object (nothing is on Weibo yet)."""
    proxy = WeiboProxy(request)
    caller = await proxy.caller(posting=True)
    status = proxy.field("status", 10_000)
    pic = _pic(proxy)
    if not status.strip():
        raise WbError(20008, "content is null!")
    if len(status) > MAX_STATUS_CHARS:
        raise WbError(
            20012, f"Text too long, please input text less than {MAX_STATUS_CHARS} characters!"
        )
    post = nfc_post(
        Post(title="", digest=status, author="", content=f"<p>{html.escape(status)}</p>",
             source=caller.client.source, category=caller.client.category, cover=pic)
    )  # fmt: skip
    await _screened(proxy, caller, post)
    sub = await proxy.desk.submit(
        caller.principal,
        accounts=[caller.account],
        post=post,
        note=f"经代理客户端 {caller.client.name}（{caller.client.appid}）提交的微博",
        request_id=proxy.request_id,
    )
    record = await proxy.new_handle(caller, sub.id)
    await proxy.audit(caller, "proxy.status.share", record.publish_id, account=caller.account,
                      content_sha256=sub.content_sha256, submission=sub.id)  # fmt: skip
    return _status_object(record, status, {**_state(sub, False), "submission": sub.id})


async def _text_of(sub: Submission) -> str:
    return str(sub.post.get("digest", ""))


@weibo_api
async def show(request: web.Request) -> Mapping[str, Any]:
    """``GET /2/statuses/show.json?id=<handle>``: the pending status and where it stands."""
    proxy = WeiboProxy(request)
    caller = await proxy.caller()
    record = await proxy.record(caller)
    sub = await proxy.submission(caller, record)
    state = _state(sub, await proxy.deleted(sub))
    return _status_object(record, await _text_of(sub), {**state, "submission": sub.id})


@weibo_api
async def destroy(request: web.Request) -> Mapping[str, Any]:
    """``POST /2/statuses/destroy.json`` (``id``): a status still awaiting approval is withdrawn
    from the desk; a published one is deleted through the gate (Art. 19): only a client acting
    for Brand-PR or the owning unit's head may; an editor's tool gets 10014 naming the rule."""
    proxy = WeiboProxy(request)
    caller = await proxy.caller()
    record = await proxy.record(caller)
    sub = await proxy.submission(caller, record)
    if await proxy.deleted(sub):
        raise WbError(20101, "target weibo does not exist: 已删除")
    if sub.state in EDITABLE_STATES:
        sub = await proxy.desk.withdraw(caller.principal, sub.id, proxy.request_id)
        await proxy.audit(caller, "proxy.status.withdraw", record.publish_id, submission=sub.id,
                          account=record.account)  # fmt: skip
        return _status_object(
            record, await _text_of(sub), {**_state(sub, False), "submission": sub.id}
        )
    if sub.state != "published":
        raise WbError(20101, f"target weibo does not exist: 未发布（{sub.state}）")
    job = sub.jobs[0]
    reason = f"经代理客户端 {caller.client.name}（{caller.client.appid}）删除"
    try:
        await proxy.request.app[GATE].delete(caller.principal, job.id, reason, proxy.request_id)
    except Forbidden as exc:
        raise WbError(
            10014,
            "Insufficient app permissions: 删除已发布微博须经品牌部或所属单位负责人"
            f"（第十九条）：{exc.detail}",
            403,
        ) from None
    await proxy.audit(caller, "proxy.status.destroy", job.platform_id, account=job.account,
                      job=job.id, submission=sub.id)  # fmt: skip
    deleting = {"state": "deleting", "published": True, "weibo_id": job.platform_id,
                "url": job.url, "submission": sub.id,
                "message": "删除已交由网关执行，完成后 show.json 显示 deleted"}  # fmt: skip
    return _status_object(record, await _text_of(sub), deleting)


@weibo_api
async def outside(request: web.Request) -> Mapping[str, Any]:
    """Every other ``/2/…`` call: not offered, nothing passed through."""
    api = request.path.removeprefix(PREFIX)[:100]
    raise WbError(
        10014, f"Insufficient app permissions: {api} 不在网关代理支持的接口范围内，未转发", 403
    )
