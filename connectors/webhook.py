"""Generic website connector: a signed JSON webhook to any CMS that implements the contract in
``docs/platforms/website-webhook.md`` (reference/platforms.md §3.7).

Every request is signed: ``X-Gateway-Timestamp: <unix s>`` and
``X-Gateway-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``; the secret comes
from the vault at call time and never leaves this module in a log line or message.

A create carries ``Idempotency-Key: <job id>`` and ``external_id = <job id>``. The contract obliges
the CMS to answer a repeat of the same key and body with the first result (for ≥ 24 h), so unlike
the other platforms a create whose answer was lost **may** be repeated: the connector first looks
the job up by ``external_id`` (``GET /posts?external_id=``), and if it is not there it reports
:class:`RetryLater` -- repeating the request with the same key cannot publish twice. The lookup
before each repeat also covers a CMS that forgot the key (after its retention period).

Images travel inline (base64 with their sha256); in-article images stay ``<img src="image:N">`` and
the CMS rewrites them to where it stores ``images[N]``.

Bypass detection (:class:`connectors.base.Lister`, docs/bypass.md): :meth:`recent` pages
``GET /posts?since=<epoch s>&limit=<n>[&cursor=]`` (the contract's listing call, most recently
updated first, ``next_cursor`` until the end); drafts are left out. :meth:`fetch` is
``GET /posts/{id}`` (404 → gone). Both compare the CMS's ``title`` and ``content_html`` in
``visible_text`` form; the CMS's rewritten image URLs are markup and drop out.

Config section keys: ``base_url`` (default CMS), ``timeout_s``, ``poll_interval_s`` (5; how long
after a ``202 pending`` the item is looked at again), ``status`` (``"publish"`` |
``"draft"``). Account settings: ``base_url``, ``status``, ``categories``, ``tags`` (lists of
names), ``canonical_url``. Credentials: ``secret`` (HMAC key, required), ``token`` (optional
bearer token sent as ``Authorization``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn
from urllib.parse import quote

import aiohttp

from connectors.base import (
    AccountRef,
    Deleted,
    Image,
    Limits,
    NeedsReauthorisation,
    OutboundPost,
    Pending,
    PermanentFailure,
    PublishContext,
    Published,
    RemoteItem,
    Result,
    RetryLater,
    Unconfirmed,
    reject_unknown_keys,
    visible_text,
)

logger = logging.getLogger(__name__)

_SECTION_KEYS = frozenset({"base_url", "timeout_s", "status", "poll_interval_s"})
# what readers can see (or will): a draft is not listed for bypass detection
_LISTED_STATUSES = frozenset({"published", "scheduled", "pending"})
_MAX_LIST_PAGES = 100


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp + "." + body`` (the contract's signing rule)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _image_json(image: Image) -> dict[str, str]:
    return {
        "filename": image.filename,
        "content_type": image.content_type,
        "sha256": image.sha256,
        "data_base64": base64.b64encode(image.data).decode("ascii"),
    }


class _Answer:
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body

    @property
    def error(self) -> Mapping[str, Any]:
        err = self.body.get("error") if isinstance(self.body, dict) else None
        return err if isinstance(err, dict) else {}

    def describe(self) -> str:
        err = self.error
        return f"HTTP {self.status} {err.get('code', '')} {err.get('message', '')}".strip()


class WebhookConnector:
    """Publishes to a CMS speaking the signed-webhook contract (see the module docstring)."""

    platform: ClassVar[str] = "webhook"
    limits: ClassVar[Limits] = Limits(
        image_max_bytes=10 * 1024 * 1024,
        image_types=("image/jpeg", "image/png", "image/gif", "image/webp"),
    )
    asynchronous: ClassVar[bool] = True  # the contract allows 202 + polling

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str = "",
        timeout_s: float = 20.0,
        status: str = "publish",
        poll_interval_s: float = 5.0,
    ) -> None:
        if status not in ("publish", "draft"):
            raise ValueError(f"webhook: status must be 'publish' or 'draft', not {status!r}")
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._status = status
        self._poll_interval_s = poll_interval_s

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], *, session: aiohttp.ClientSession
    ) -> WebhookConnector:
        """Build from the ``[connectors.webhook]`` section; an unknown key is an error."""
        reject_unknown_keys("webhook", section, _SECTION_KEYS)
        return cls(session=session, **dict(section))

    def _site(self, account: AccountRef) -> str:
        return str(account.settings.get("base_url") or self._base_url).rstrip("/")

    def validate(self, post: OutboundPost, account: AccountRef) -> list[str]:
        """Problems found before sending, each a readable sentence."""
        problems: list[str] = []
        if not self._site(account):
            problems.append(f"Webhook account {account.id!r} has no 'base_url' (CMS endpoint).")
        if not post.title.strip():
            problems.append("The website needs a title.")
        max_bytes = self.limits.image_max_bytes
        for image in ([post.cover] if post.cover else []) + list(post.images):
            if image.content_type not in self.limits.image_types:
                problems.append(f"The website takes no {image.content_type} ({image.filename}).")
            if max_bytes is not None and len(image.data) > max_bytes:
                problems.append(
                    f"Image {image.filename} is {len(image.data)} bytes (max {max_bytes})."
                )
        return problems

    def payload(self, post: OutboundPost, ctx: PublishContext) -> bytes:
        """The exact body bytes of a create or replace (deterministic, so repeats match)."""
        settings = ctx.account.settings
        body = {
            "external_id": ctx.job_id,
            "title": post.title,
            "content_html": post.content,
            "excerpt": post.digest,
            "author": post.author,
            "source": post.source,
            "category": post.category,
            "content_sha256": post.content_sha256,
            "cover_image": _image_json(post.cover) if post.cover else None,
            "images": [_image_json(i) for i in post.images],
            "categories": list(settings.get("categories", [])),
            "tags": list(settings.get("tags", [])),
            "status": str(settings.get("status", self._status)),
            "publish_at": None,
            "canonical_url": settings.get("canonical_url"),
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    async def _send(
        self,
        ctx: PublishContext,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        params: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> _Answer:
        """One signed request; network errors propagate for the caller to classify."""
        creds = await ctx.credentials()
        secret = creds.get("secret", "")
        if not secret:
            raise NeedsReauthorisation(
                f"Webhook account {ctx.account.id!r} has no 'secret' in the vault."
            )
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Gateway-Timestamp": timestamp,
            "X-Gateway-Signature": signature(secret, timestamp, body),
        }
        if creds.get("token"):
            headers["Authorization"] = f"Bearer {creds['token']}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        url = self._site(ctx.account) + path
        async with self._session.request(
            method, url, data=body or None, headers=headers, params=params, timeout=timeout
        ) as resp:
            try:
                decoded = await resp.json(content_type=None)
            except ValueError:
                decoded = None
            return _Answer(resp.status, decoded)

    def _raise_for(self, answer: _Answer, account: AccountRef, what: str) -> None:
        """Turn an error answer into the delivery outcome (never returns)."""
        if answer.status in (401, 403):
            raise NeedsReauthorisation(
                f"the CMS refused the signature or token of account {account.id!r} on {what}: "
                f"{answer.describe()}"
            )
        if answer.status == 429 or answer.status >= 500 or answer.error.get("retryable") is True:
            raise RetryLater(f"the CMS answered {answer.describe()} on {what}", 30.0)
        raise PermanentFailure(f"the CMS refused {what}: {answer.describe()}")

    async def _result(self, item: Mapping[str, Any], ctx: PublishContext, how: str) -> Result:
        item_id, url = str(item["id"]), str(item.get("url", ""))
        status = str(item.get("status", "published"))
        await ctx.checkpoint(webhook_id=item_id, webhook_url=url, webhook_status=status)
        logger.info("webhook job %s: item %s %s (%s)", ctx.job_id, item_id, how, status)
        if status == "failed":
            raise PermanentFailure(f"the CMS reports item {item_id} as failed")
        if status == "pending":
            return Pending(item_id, self._poll_interval_s, {"how": how})
        return Published(item_id, url, {"how": how, "status": status})

    async def _lookup(self, ctx: PublishContext) -> Mapping[str, Any] | None:
        """The CMS item of this job by ``external_id``, None if absent or not answerable."""
        try:
            answer = await self._send(ctx, "GET", "/posts", params={"external_id": ctx.job_id})
        except (TimeoutError, aiohttp.ClientError):
            return None
        if answer.status in (401, 403):
            self._raise_for(answer, ctx.account, "looking the item up")
        items = answer.body.get("items") if isinstance(answer.body, dict) else None
        return dict(items[0]) if answer.status == 200 and items else None

    async def publish(self, post: OutboundPost, ctx: PublishContext) -> Result:
        """Create the item with ``Idempotency-Key`` = job id; repeats are deduplicated."""
        if ctx.state.get("webhook_id"):
            return await self.status(ctx)
        problems = self.validate(post, ctx.account)
        if problems:
            raise PermanentFailure(" ".join(problems))
        if ctx.state.get("webhook_sending"):
            found = await self._lookup(ctx)
            if found is not None:
                return await self._result(found, ctx, "found on resume")
        body = self.payload(post, ctx)
        await ctx.checkpoint(webhook_sending=time.time())
        try:
            answer = await self._send(ctx, "POST", "/posts", body, idempotency_key=ctx.job_id)
        except (TimeoutError, aiohttp.ClientError) as exc:
            logger.warning(
                "webhook job %s: create answer lost (%s)", ctx.job_id, type(exc).__name__
            )
            found = await self._lookup(ctx)
            if found is not None:
                return await self._result(found, ctx, "found after a lost answer")
            raise RetryLater(
                f"the CMS did not answer ({type(exc).__name__}); repeating with the same "
                "Idempotency-Key is safe",
                5.0,
            ) from None
        if (
            answer.status in (200, 201, 202)
            and isinstance(answer.body, dict)
            and "id" in answer.body
        ):
            return await self._result(
                answer.body, ctx, "replayed" if answer.status == 200 else "created"
            )
        self._raise_for(answer, ctx.account, "creating the item")
        raise AssertionError("unreachable")  # pragma: no cover

    async def status(self, ctx: PublishContext) -> Result:
        """The item's status by id (``GET /posts/{id}``), else by ``external_id``."""
        item_id = str(ctx.state.get("webhook_id") or "")
        if not item_id:
            found = await self._lookup(ctx)
            if found is None:
                # repeating the create is safe (same Idempotency-Key): let publish() do it
                raise RetryLater("the CMS has no item for this job; publish (again)", 1.0)
            return await self._result(found, ctx, "found by a status check")
        try:
            answer = await self._send(ctx, "GET", f"/posts/{item_id}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unconfirmed(f"CMS status check failed ({type(exc).__name__})") from None
        if answer.status == 404:
            raise PermanentFailure(f"the CMS item {item_id} no longer exists")
        if answer.status != 200 or not isinstance(answer.body, dict):
            if answer.status in (401, 403):
                self._raise_for(answer, ctx.account, "the status check")
            raise Unconfirmed(f"CMS status check answered {answer.describe()}")
        return await self._result(answer.body, ctx, "status")

    async def update(self, post: OutboundPost, ctx: PublishContext) -> Result:
        """Replace the item (``PUT``, idempotent by the contract)."""
        item_id = str(ctx.state.get("webhook_id") or "")
        if not item_id:
            raise PermanentFailure("no CMS item is known for this job; nothing to update")
        try:
            answer = await self._send(ctx, "PUT", f"/posts/{item_id}", self.payload(post, ctx))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetryLater(
                f"CMS update failed ({type(exc).__name__}); safe to repeat", 5.0
            ) from None
        if answer.status != 200 or not isinstance(answer.body, dict) or "id" not in answer.body:
            self._raise_for(answer, ctx.account, f"replacing item {item_id}")
        return await self._result(answer.body, ctx, "updated")

    async def delete(self, ctx: PublishContext) -> Deleted:
        """Delete the item; 404 on a repeat counts as done."""
        item_id = str(ctx.state.get("webhook_id") or "")
        if not item_id:
            raise PermanentFailure("no CMS item is known for this job; nothing to delete")
        try:
            answer = await self._send(ctx, "DELETE", f"/posts/{item_id}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetryLater(
                f"CMS delete failed ({type(exc).__name__}); safe to repeat", 5.0
            ) from None
        if answer.status not in (200, 204, 404):
            self._raise_for(answer, ctx.account, f"deleting item {item_id}")
        await ctx.checkpoint(webhook_deleted=True)
        return Deleted(item_id)

    # -- listing (bypass detection) --------------------------------------------------------

    def expected(self, post: OutboundPost, account: AccountRef | None = None) -> tuple[str, str]:
        """``(title, text)`` of the approved post in ``visible_text`` form."""
        return visible_text(post.title), visible_text(post.content)

    @staticmethod
    def _remote(item: Mapping[str, Any]) -> RemoteItem:
        def _time(key: str) -> float:
            value = item.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RetryLater(
                    f"the CMS item {item.get('id')!r} has no numeric {key!r}: the CMS does not "
                    "implement the listing contract (docs/platforms/website-webhook.md)",
                    3600.0,
                )
            return float(value)

        return RemoteItem(
            platform_id=str(item["id"]),
            title=visible_text(str(item.get("title") or "")),
            text=visible_text(str(item.get("content_html") or "")),
            url=str(item.get("url") or ""),
            published_at=_time("created_at"),
            updated_at=_time("updated_at"),
        )

    def _read_refused(self, answer: _Answer, account: AccountRef, what: str) -> NoReturn:
        if answer.status in (401, 403):
            self._raise_for(answer, account, what)
        raise RetryLater(f"the CMS answered {answer.describe()} on {what}", 30.0)

    async def _read(
        self, ctx: PublishContext, path: str, params: Mapping[str, str] | None, what: str
    ) -> _Answer:
        try:
            return await self._send(ctx, "GET", path, params=params)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetryLater(f"the CMS {what} failed ({type(exc).__name__})", 30.0) from None

    async def recent(self, ctx: PublishContext, *, since: float, limit: int) -> list[RemoteItem]:
        """Items (not drafts) updated at or after ``since``, most recent first, at most
        ``limit``; a page that fails fails the whole listing (never a partial list)."""
        floor_s = math.floor(since)
        params = {"since": str(floor_s), "limit": str(min(100, max(1, limit)))}
        items: list[RemoteItem] = []
        seen: set[str] = set()
        cursors: set[str] = set()
        for _page in range(_MAX_LIST_PAGES):
            answer = await self._read(ctx, "/posts", params, "GET /posts (listing)")
            body = answer.body if isinstance(answer.body, dict) else {}
            page = body.get("items")
            if answer.status != 200 or not isinstance(page, list):
                self._read_refused(answer, ctx.account, "GET /posts (listing)")
            if "next_cursor" not in body:
                raise RetryLater(
                    "the CMS answered the listing without 'next_cursor': it does not implement "
                    "the listing contract (docs/platforms/website-webhook.md)",
                    3600.0,
                )
            if not all(isinstance(raw, dict) and raw.get("id") for raw in page):
                raise RetryLater("the CMS listed an item without an id", 60.0)
            for raw in page:
                item = self._remote(raw)
                if str(raw.get("status", "published")) not in _LISTED_STATUSES:
                    continue
                if item.platform_id in seen or item.updated_at < floor_s:
                    continue
                seen.add(item.platform_id)
                items.append(item)
                if len(items) >= limit:
                    return items
            cursor = body.get("next_cursor")
            if not cursor:
                return items
            if not isinstance(cursor, str) or cursor in cursors:
                raise RetryLater("the CMS listing repeated a cursor; listing again later", 60.0)
            cursors.add(cursor)
            params = {**params, "cursor": cursor}
        raise RetryLater(f"the CMS listing did not end within {_MAX_LIST_PAGES} pages", 60.0)

    async def fetch(self, ctx: PublishContext, platform_id: str) -> RemoteItem | None:
        """The item as the CMS holds it now; ``None`` when the CMS answers 404."""
        what = f"GET /posts/{platform_id}"
        answer = await self._read(ctx, f"/posts/{quote(platform_id, safe='')}", None, what)
        if answer.status == 404:
            return None
        if answer.status != 200 or not isinstance(answer.body, dict) or "id" not in answer.body:
            self._read_refused(answer, ctx.account, what)
        return self._remote(answer.body)

    async def ping(self) -> bool:
        """True if the default CMS endpoint answers (True when no default is configured)."""
        if not self._base_url:
            return True
        try:
            async with self._session.get(
                self._base_url + "/health", timeout=aiohttp.ClientTimeout(total=5.0)
            ) as resp:
                await resp.read()
                return resp.status < 500
        except (aiohttp.ClientError, TimeoutError):
            return False


__all__ = ["WebhookConnector", "signature"]
