"""EchoConnector: a complete, minimal mediagate connector (see docs/connectors.md).

It shows the rules every connector follows: built by ``from_config(section, session=...)``;
credentials opened per call from ``ctx.credentials()`` and never stored; the intent of a
non-idempotent step checkpointed *before* it is sent and its result right after; an unknown
outcome raised as :class:`Unconfirmed` and reconciled in :meth:`status`; delivery outcomes,
never HTTP errors; no secret in any message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp

from connectors.base import (
    AccountRef,
    Deleted,
    Limits,
    NeedsReauthorisation,
    OutboundPost,
    PermanentFailure,
    PublishContext,
    Published,
    Result,
    RetryLater,
    Unconfirmed,
)

logger = logging.getLogger(__name__)


class EchoConnector:
    """Publishes a post as one JSON item of the echo CMS."""

    platform: ClassVar[str] = "echo"
    asynchronous: ClassVar[bool] = False
    limits: ClassVar[Limits] = Limits(
        title_max_chars=80, content_max_chars=10_000, image_max_bytes=1_000_000, max_images=4
    )

    def __init__(self, *, session: aiohttp.ClientSession, base_url: str, timeout_s: float) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], *, session: aiohttp.ClientSession
    ) -> EchoConnector:
        unknown = sorted(set(section) - {"base_url", "timeout_s"})
        if unknown:
            raise ValueError(f"unknown key(s) in the echo connector section: {unknown}")
        if "base_url" not in section:
            raise ValueError("the echo connector section needs base_url")
        return cls(
            session=session,
            base_url=str(section["base_url"]),
            timeout_s=float(section.get("timeout_s", 10.0)),
        )

    def validate(self, post: OutboundPost, account: AccountRef) -> list[str]:
        lim = self.limits
        problems = []
        if not post.title:
            problems.append("Echo items need a title.")
        if lim.title_max_chars is not None and len(post.title) > lim.title_max_chars:
            problems.append(f"The title is longer than {lim.title_max_chars} characters.")
        if lim.content_max_chars is not None and len(post.content) > lim.content_max_chars:
            problems.append(f"The content is longer than {lim.content_max_chars} characters.")
        if lim.max_images is not None and len(post.images) > lim.max_images:
            problems.append(f"Echo items carry at most {lim.max_images} images.")
        for image in post.images:
            if image.content_type not in lim.image_types:
                problems.append(f"Image {image.filename} has an unsupported type.")
            if lim.image_max_bytes is not None and len(image.data) > lim.image_max_bytes:
                problems.append(f"Image {image.filename} is too large.")
        return problems

    async def _request(
        self, ctx: PublishContext, method: str, path: str, **kwargs: Any
    ) -> tuple[int, Any]:
        creds = await ctx.credentials()  # opened for this call only
        headers = {
            "Authorization": f"Bearer {creds.get('api_key', '')}",
            "Idempotency-Key": ctx.job_id,
        }
        try:
            async with self._session.request(
                method, self._base_url + path, headers=headers, timeout=self._timeout, **kwargs
            ) as resp:
                body = await resp.json() if resp.content_type == "application/json" else None
                status = resp.status
        except aiohttp.ClientConnectorError:
            raise RetryLater("echo CMS unreachable") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _Lost(type(exc).__name__) from None
        if status == 401:
            raise NeedsReauthorisation("the echo CMS rejected the account's API key")
        if status >= 500:
            raise _Lost(f"HTTP {status}")
        return status, body

    async def publish(self, post: OutboundPost, ctx: PublishContext) -> Result:
        if ctx.state.get("item_id"):
            return Published(str(ctx.state["item_id"]))
        if ctx.state.get("sending"):
            return await self.status(ctx)
        problems = self.validate(post, ctx.account)
        if problems:
            raise PermanentFailure(" ".join(problems))
        await ctx.checkpoint(sending=True)  # intent first: POST /items is not idempotent
        body = {"title": post.title, "content": post.content, "digest": post.digest}
        try:
            status, data = await self._request(ctx, "POST", "/items", json=body)
        except _Lost as lost:
            raise Unconfirmed(f"echo CMS answer lost ({lost})", step="create") from None
        except (RetryLater, PermanentFailure):
            await ctx.checkpoint(sending=False)  # certainly not applied
            raise
        if status not in (200, 201):
            await ctx.checkpoint(sending=False)
            raise PermanentFailure(f"echo CMS refused the item (HTTP {status})")
        await ctx.checkpoint(item_id=str(data["id"]))
        logger.info("echo: job %s published as item %s", ctx.job_id, data["id"])
        return Published(str(data["id"]))

    async def status(self, ctx: PublishContext) -> Result:
        if ctx.state.get("item_id"):
            return Published(str(ctx.state["item_id"]))
        try:
            _, found = await self._request(ctx, "GET", "/items", params={"key": ctx.job_id})
        except _Lost as lost:
            raise RetryLater(f"echo CMS lookup failed ({lost})") from None
        if found:
            await ctx.checkpoint(item_id=str(found[0]["id"]))
            return Published(str(found[0]["id"]))
        if ctx.state.get("sending"):
            await ctx.checkpoint(sending=False)  # the CMS has no item for our key: not applied
        raise RetryLater("nothing was published yet; publish again", after_s=0.0)

    async def update(self, post: OutboundPost, ctx: PublishContext) -> Result:
        raise PermanentFailure("the echo CMS does not support updates")

    async def delete(self, ctx: PublishContext) -> Deleted:
        item_id = str(ctx.state.get("item_id", ""))
        if not item_id:
            raise PermanentFailure("nothing to delete")
        try:
            status, _ = await self._request(ctx, "DELETE", f"/items/{item_id}")
        except _Lost as lost:
            raise RetryLater(f"echo CMS delete failed ({lost})") from None  # deleting is repeatable
        if status not in (204, 404):
            raise PermanentFailure(f"echo CMS refused the delete (HTTP {status})")
        return Deleted(item_id)

    async def ping(self) -> bool:
        try:
            async with self._session.get(self._base_url + "/items", timeout=self._timeout) as r:
                return r.status < 500
        except (TimeoutError, aiohttp.ClientError):
            return False


class _Lost(Exception):
    """The request may have reached the CMS but its answer did not come back."""
