"""WeChat Official Account connector: images → cover → draft → asynchronous publish.

Steps (each checkpointed before the next, so a resumed job never repeats a finished step):

1. ``media/uploadimg`` for each in-article image (``<img src="image:N">`` → returned URL);
   checkpoint ``image_urls``. Repeating it only wastes storage.
2. ``material/add_material?type=image`` for the cover; checkpoint ``thumb_media_id``.
3. ``draft/add``; checkpoint ``draft_media_id``. A duplicate draft publishes nothing.
4. ``freepublish/submit`` -- *not* idempotent. ``submitting=True`` is checkpointed before it is
   sent and ``publish_id`` (always a string) after. A marker without a ``publish_id`` is
   reconciled through ``freepublish/batchget`` (the listing shows the cover's ``thumb_media_id``,
   unique to this job) and ``draft/get`` (the draft is consumed on success), never re-sent
   blindly: only when the draft still exists, no article carries our cover and
   ``submit_settle_s`` has passed since the attempt is the submit considered not applied.
5. ``freepublish/get``, polled sparingly (100/day quota) → :class:`Published`.

Listing for the bypass reconciler (:class:`connectors.base.Lister`, docs/bypass.md):
``freepublish/batchget`` with ``no_content=0``, 20 articles a page, newest first, until an
article older than the window (100 calls/day); ``freepublish/getarticle`` for one article
(100/day). The ``article_id`` they carry is the one :class:`Published` holds.

Tokens come from ``stable_token`` in normal mode, cached in ``ctx.tokens`` under the account id,
fetched by one process at a time (lock + double check). On 40001/40014/42001 the token is
refreshed at most once per call and the request retried once; ``force_refresh`` is used only
when ``stable_token`` hands back the very token the API just rejected.

Credentials are opened per call and never kept on ``self``; no message, log line or exception
carries them or the access token (aiohttp exceptions, whose text holds the URL with the token,
are never chained).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import aiohttp

from connectors.base import (
    AccountRef,
    Deleted,
    DeliveryOutcome,
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

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
_TOKEN_ERRORS = frozenset({40001, 40014, 42001})
_TRANSIENT = frozenset({-1, -1000})
_REAUTH = {
    40013: "the AppID is invalid",
    40125: "the AppSecret is invalid",
    40243: "the AppSecret is frozen",
    40164: "the gateway's IP address is not in the account's API IP whitelist",
}
_PERMANENT = {
    40005: "invalid image file type",
    40007: "invalid media_id (cover or draft)",
    40009: "invalid image size",
    40033: "request contains \\uXXXX escapes",
    44002: "empty POST body",
    44003: "empty news data",
    45001: "media too large",
    45002: "content too long",
    45003: "title too long",
    45004: "digest too long",
    45110: "author too long",
    45166: "invalid content",
    47001: "data format error",
    48001: "api unauthorized (account not verified or lacks the permission)",
    53503: "the draft did not pass the publish check",
    53504: "the draft must be published from the MP web console",
    53505: "the draft must be saved manually in the MP web console",
}
_PUBLISH_STATUS = {
    2: "originality check failed",
    3: "publishing failed (no reason given by the platform)",
    4: "rejected by platform review",
    5: "deleted by the account after publication",
    6: "banned by the platform after publication",
}
_IMAGE_REF = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*["'])image:(\d+)(["'])""", re.IGNORECASE)


class _Transport(Exception):
    """A request failed below the errcode envelope; ``maybe_applied`` if it may have arrived."""

    def __init__(self, what: str, *, maybe_applied: bool) -> None:
        super().__init__(what)
        self.what = what
        self.maybe_applied = maybe_applied


class _ApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode {errcode}")
        self.errcode = errcode
        self.errmsg = errmsg


def _seconds_to_beijing_midnight() -> float:
    """Daily quotas reset at 00:00 China Standard Time (UTC+8)."""
    now = datetime.now(UTC) + timedelta(hours=8)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=5, microsecond=0)
    return (tomorrow - now).total_seconds()


@dataclass(frozen=True, slots=True)
class _Creds:
    app_id: str
    app_secret: str

    def __repr__(self) -> str:
        return "_Creds(***)"

    def scrub(self, text: str, *extra: str) -> str:
        for value in (self.app_secret, *extra):
            if value:
                text = text.replace(value, "***")
        return text


class WeChatConnector:
    """The WeChat Official Account platform (``platform = "wechat"``)."""

    platform: ClassVar[str] = "wechat"
    asynchronous: ClassVar[bool] = True
    limits: ClassVar[Limits] = Limits(
        title_max_chars=32,  # draft/add doc (the old 64-char limit is gone)
        digest_max_chars=128,
        author_max_chars=16,
        content_max_chars=19_999,
        content_max_bytes=1024 * 1024 - 1,
        image_max_bytes=1024 * 1024 - 1,  # media/uploadimg: jpg/png < 1 MB
        image_types=("image/jpeg", "image/png"),
        requires_cover=True,
        requires_title=True,
    )
    cover_max_bytes: ClassVar[int] = 10 * 1024 * 1024
    cover_types: ClassVar[tuple[str, ...]] = ("image/jpeg", "image/png", "image/gif", "image/bmp")

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 15.0,
        poll_interval_s: float = 60.0,
        submit_settle_s: float = 3600.0,
        token_lock_ttl_s: float = 10.0,
        reconcile_pages: int = 3,
        max_poll_interval_s: float = 1800.0,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.poll_interval_s = poll_interval_s
        self.submit_settle_s = submit_settle_s
        self._token_lock_ttl_s = token_lock_ttl_s
        self._reconcile_pages = reconcile_pages
        self.max_poll_interval_s = max_poll_interval_s

    _SECTION_KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            "base_url",
            "timeout_s",
            "poll_interval_s",
            "submit_settle_s",
            "token_lock_ttl_s",
            "reconcile_pages",
            "max_poll_interval_s",
        }
    )

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], *, session: aiohttp.ClientSession
    ) -> WeChatConnector:
        """Build from the ``[connectors.wechat]`` section; unknown keys are errors."""
        reject_unknown_keys("wechat", section, cls._SECTION_KEYS)
        return cls(
            session=session,
            base_url=str(section.get("base_url", DEFAULT_BASE_URL)),
            timeout_s=float(section.get("timeout_s", 15.0)),
            poll_interval_s=float(section.get("poll_interval_s", 60.0)),
            submit_settle_s=float(section.get("submit_settle_s", 3600.0)),
            token_lock_ttl_s=float(section.get("token_lock_ttl_s", 10.0)),
            reconcile_pages=int(section.get("reconcile_pages", 3)),
            max_poll_interval_s=float(section.get("max_poll_interval_s", 1800.0)),
        )

    def __repr__(self) -> str:
        return f"WeChatConnector(base_url={self._base_url!r})"

    # --- validation ---------------------------------------------------------------------------

    def validate(self, post: OutboundPost, account: AccountRef) -> list[str]:
        """Problems with ``post`` for a WeChat article (reference/platforms.md §1.3-1.4)."""
        lim = self.limits
        problems: list[str] = []
        if not post.title.strip():
            problems.append("WeChat articles need a title.")
        if lim.title_max_chars and len(post.title) > lim.title_max_chars:
            problems.append(
                f"The title has {len(post.title)} characters; WeChat allows {lim.title_max_chars}."
            )
        if lim.author_max_chars and len(post.author) > lim.author_max_chars:
            problems.append(
                f"The author has {len(post.author)} characters; WeChat allows "
                f"{lim.author_max_chars}."
            )
        if lim.digest_max_chars and len(post.digest) > lim.digest_max_chars:
            problems.append(
                f"The digest has {len(post.digest)} characters; WeChat allows "
                f"{lim.digest_max_chars}."
            )
        if not post.content.strip():
            problems.append("WeChat articles need content.")
        if lim.content_max_chars and len(post.content) > lim.content_max_chars:
            problems.append(
                f"The content has {len(post.content)} characters; WeChat allows fewer than 20000."
            )
        if lim.content_max_bytes and len(post.content.encode()) > lim.content_max_bytes:
            problems.append("The content is larger than WeChat's 1 MB limit.")
        if post.cover is None:
            problems.append("WeChat articles need a cover image.")
        else:
            if post.cover.content_type not in self.cover_types:
                problems.append(f"The cover's type {post.cover.content_type} is not accepted.")
            if len(post.cover.data) > self.cover_max_bytes:
                problems.append("The cover is larger than WeChat's 10 MB limit.")
        for i, image in enumerate(post.images):
            problems.extend(self._image_problems(i, image))
        for ref in _IMAGE_REF.finditer(post.content):
            if int(ref.group(2)) >= len(post.images):
                problems.append(f"The content references image:{ref.group(2)}, which is missing.")
        return problems

    def _image_problems(self, index: int, image: Image) -> list[str]:
        problems = []
        if image.content_type not in self.limits.image_types:
            problems.append(
                f"Image {index} ({image.filename}) is {image.content_type}; WeChat accepts "
                "only JPEG and PNG in articles."
            )
        if self.limits.image_max_bytes and len(image.data) > self.limits.image_max_bytes:
            problems.append(f"Image {index} ({image.filename}) is larger than 1 MB.")
        return problems

    # --- publish --------------------------------------------------------------------------------

    async def publish(self, post: OutboundPost, ctx: PublishContext) -> Result:
        """Run (or resume) the publish steps; returns :class:`Pending` once submitted."""
        state = ctx.state
        if state.get("article_id"):
            return Published(str(state["article_id"]), str(state.get("url", "")))
        if state.get("publish_id"):
            return await self.status(ctx)
        problems = self.validate(post, ctx.account)
        if problems:
            raise PermanentFailure(" ".join(problems))
        creds = await self._creds(ctx)
        if state.get("submitting"):
            reconciled = await self._reconcile_submit(ctx, creds)
            if reconciled is not None:
                return reconciled
        image_urls = await self._upload_images(post, ctx, creds)
        thumb_media_id = await self._upload_cover(post, ctx, creds)
        draft_media_id = await self._add_draft(post, ctx, creds, image_urls, thumb_media_id)
        publish_id = await self._submit(ctx, creds, draft_media_id)
        return Pending(publish_id, poll_after_s=self.poll_interval_s)

    async def _upload_images(
        self, post: OutboundPost, ctx: PublishContext, creds: _Creds
    ) -> list[str]:
        urls = [str(u) for u in ctx.state.get("image_urls", [])]
        for image in post.images[len(urls) :]:
            data = await self._call(ctx, creds, "media/uploadimg", form=image)
            urls.append(str(data["url"]))
            await ctx.checkpoint(image_urls=list(urls))
        return urls

    async def _upload_cover(self, post: OutboundPost, ctx: PublishContext, creds: _Creds) -> str:
        if ctx.state.get("thumb_media_id"):
            return str(ctx.state["thumb_media_id"])
        assert post.cover is not None  # validate() guarantees it
        data = await self._call(
            ctx,
            creds,
            "material/add_material",
            form=post.cover,
            params={"type": "image"},
        )
        media_id = str(data["media_id"])
        await ctx.checkpoint(thumb_media_id=media_id, cover_url=str(data.get("url", "")))
        return media_id

    async def _add_draft(
        self,
        post: OutboundPost,
        ctx: PublishContext,
        creds: _Creds,
        image_urls: list[str],
        thumb_media_id: str,
    ) -> str:
        if ctx.state.get("draft_media_id"):
            return str(ctx.state["draft_media_id"])
        content = _IMAGE_REF.sub(lambda m: m.group(1) + image_urls[int(m.group(2))] + m.group(3),
                                 post.content)  # fmt: skip
        article = {
            "title": post.title,
            "author": post.author,
            "digest": post.digest,
            "content": content,
            "content_source_url": post.source if post.source.startswith("http") else "",
            "thumb_media_id": thumb_media_id,
            "need_open_comment": 0,
            "only_fans_can_comment": 0,
        }
        data = await self._call(ctx, creds, "draft/add", body={"articles": [article]})
        media_id = str(data["media_id"])
        await ctx.checkpoint(draft_media_id=media_id)
        logger.info("wechat: draft added for job %s", ctx.job_id)
        return media_id

    async def _submit(self, ctx: PublishContext, creds: _Creds, draft_media_id: str) -> str:
        await ctx.checkpoint(submitting=True, submitting_at=time.time())
        try:
            data = await self._call(
                ctx, creds, "freepublish/submit", body={"media_id": draft_media_id}
            )
        except (RetryLater, PermanentFailure):
            # The platform answered (or nothing was sent): the submit did not take effect.
            await ctx.checkpoint(submitting=False)
            raise
        publish_id = str(data["publish_id"])  # a JSON number > 2^31: keep it a string
        await ctx.checkpoint(publish_id=publish_id)
        logger.info("wechat: job %s submitted as publish_id %s", ctx.job_id, publish_id)
        return publish_id

    # --- status and reconciliation -----------------------------------------------------------

    async def status(self, ctx: PublishContext) -> Result:
        """Poll ``freepublish/get`` for a submitted job, or reconcile an unknown submit."""
        state = ctx.state
        prefix = str(state.get("updating", ""))
        if prefix:  # a new version is on its way (see update())
            result = await self.status(_PrefixedContext(ctx, prefix))
            return await self._finish_update(ctx, prefix, result)
        if state.get("article_id"):
            return Published(str(state["article_id"]), str(state.get("url", "")))
        creds = await self._creds(ctx)
        if not state.get("publish_id"):
            if state.get("submitting"):
                reconciled = await self._reconcile_submit(ctx, creds)
                if reconciled is not None:
                    return reconciled
            raise RetryLater("nothing was submitted to WeChat yet; publish again", after_s=0.0)
        publish_id = str(state["publish_id"])
        data = await self._call(ctx, creds, "freepublish/get", body={"publish_id": publish_id})
        code = int(data.get("publish_status", -1))
        if code == 1:
            # Sparse polling (100 polls/day per account): back off exponentially per job.
            polls = int(state.get("polls", 0)) + 1
            await ctx.checkpoint(polls=polls)
            wait_s = min(self.poll_interval_s * 2 ** (polls - 1), self.max_poll_interval_s)
            return Pending(publish_id, poll_after_s=wait_s)
        if code == 0:
            article_id = str(data.get("article_id", ""))
            items = (data.get("article_detail") or {}).get("item") or [{}]
            url = str(items[0].get("article_url", ""))
            await ctx.checkpoint(article_id=article_id, url=url)
            return Published(article_id, url, {"publish_id": publish_id})
        reason = _PUBLISH_STATUS.get(code, f"unknown publish_status {code}")
        raise PermanentFailure(
            f"WeChat publish job {publish_id} ended with publish_status {code}: {reason}"
            f" (failed articles: {data.get('fail_idx', [])})"
        )

    async def _reconcile_submit(self, ctx: PublishContext, creds: _Creds) -> Result | None:
        """Decide a ``submitting`` marker without ``publish_id``: the result, or ``None`` when
        the submit certainly did not take effect (marker cleared; safe to submit again)."""
        thumb = str(ctx.state.get("thumb_media_id", ""))
        found = await self._find_article(ctx, creds, thumb)
        if found is not None:
            article_id, url = found
            await ctx.checkpoint(article_id=article_id, url=url)
            logger.info("wechat: job %s reconciled to article %s", ctx.job_id, article_id)
            return Published(article_id, url, {"reconciled": True})
        draft = str(ctx.state.get("draft_media_id", ""))
        if not await self._draft_exists(ctx, creds, draft):
            raise Unconfirmed(
                "the draft was consumed but no published article carries this job's cover; "
                "check the account's publish history",
                step="freepublish/submit",
            )
        waited_s = time.time() - float(ctx.state.get("submitting_at", 0.0))
        if waited_s < self.submit_settle_s:
            raise Unconfirmed(
                f"freepublish/submit outcome unknown {waited_s:.0f} s after the attempt: the "
                "draft still exists and no article yet; check again later",
                step="freepublish/submit",
            )
        logger.warning("wechat: job %s submit not applied after %.0f s", ctx.job_id, waited_s)
        await ctx.checkpoint(submitting=False)
        return None

    async def _find_article(
        self, ctx: PublishContext, creds: _Creds, thumb_media_id: str
    ) -> tuple[str, str] | None:
        if not thumb_media_id:
            return None
        for page in range(self._reconcile_pages):
            body = {"offset": page * 20, "count": 20, "no_content": 1}
            data = await self._call(ctx, creds, "freepublish/batchget", body=body)
            for item in data.get("item", []):
                for news in (item.get("content") or {}).get("news_item", []):
                    if news.get("thumb_media_id") == thumb_media_id:
                        return str(item["article_id"]), str(news.get("url", ""))
            if (page + 1) * 20 >= int(data.get("total_count", 0)):
                break
        return None

    async def _draft_exists(self, ctx: PublishContext, creds: _Creds, media_id: str) -> bool:
        if not media_id:
            return False
        try:
            await self._call(ctx, creds, "draft/get", body={"media_id": media_id})
        except PermanentFailure as exc:
            if getattr(exc, "errcode", None) == 40007:
                return False
            raise
        return True

    # --- update and delete ------------------------------------------------------------------

    async def update(self, post: OutboundPost, ctx: PublishContext) -> Result:
        """WeChat cannot edit a published article: publish the new version as a new article
        (its own checkpoints, prefixed by its content hash; ``updating`` names them) and delete
        the previous article once the new one is live. :meth:`status` follows a pending update.
        """
        prefix = f"v_{post.content_sha256[:16]}_"
        if ctx.state.get("updating") != prefix:
            await ctx.checkpoint(updating=prefix)
        result = await self.publish(post, _PrefixedContext(ctx, prefix))
        return await self._finish_update(ctx, prefix, result)

    async def _finish_update(self, ctx: PublishContext, prefix: str, result: Result) -> Result:
        if isinstance(result, Pending):
            return result
        previous = str(ctx.state.get("article_id", ""))
        if previous and previous != result.platform_id and not ctx.state.get(prefix + "replaced"):
            await self._delete_article(ctx, await self._creds(ctx), previous)
            await ctx.checkpoint(**{prefix + "replaced": True})
        await ctx.checkpoint(
            article_id=result.platform_id, url=result.url, updating="", deleted=False
        )
        return result

    async def delete(self, ctx: PublishContext) -> Deleted:
        """``freepublish/delete`` of the job's article (all of its items)."""
        article_id = str(ctx.state.get("article_id", ""))
        if not article_id:
            raise PermanentFailure("this job has no published WeChat article to delete")
        if ctx.state.get("deleted"):
            return Deleted(article_id)
        await self._delete_article(ctx, await self._creds(ctx), article_id)
        await ctx.checkpoint(deleted=True)
        return Deleted(article_id)

    async def _delete_article(self, ctx: PublishContext, creds: _Creds, article_id: str) -> None:
        try:
            await self._call(
                ctx, creds, "freepublish/delete", body={"article_id": article_id, "index": 0}
            )
        except PermanentFailure as exc:
            if getattr(exc, "errcode", None) != 40007:  # already gone: a repeated delete
                raise

    # --- listing for the bypass reconciler (connectors.base.Lister) -------------------------

    async def recent(
        self, ctx: PublishContext, *, since: float, limit: int
    ) -> Sequence[RemoteItem]:
        """Published articles created or updated at or after ``since``, newest first.

        ``freepublish/batchget`` pages of 20 (each page one call of the 100/day quota); paging
        stops at ``limit`` items, at the end of the list, at a page whose last article was
        created before ``since`` (the list is ordered by publication, newest first), or after
        ``ceil(limit / 20) + 1`` pages. Any fault raises: a partial listing is never returned
        as complete.
        """
        creds = await self._creds(ctx)
        found: list[RemoteItem] = []
        offset = 0
        pages = -(-limit // _PAGE) + 1  # quota bound, even if many listed articles are deleted
        while len(found) < limit and pages > 0:
            pages -= 1
            body = {"offset": offset, "count": _PAGE, "no_content": 0}
            data = await self._call(ctx, creds, "freepublish/batchget", body=body)
            page = data.get("item") or []
            if not isinstance(page, list):
                raise RetryLater("WeChat freepublish/batchget answered without an item list")
            oldest = float("inf")
            for entry in page:
                item = _remote_item(entry)
                if item is None:
                    continue
                oldest = min(oldest, item.published_at or oldest)
                if max(item.published_at, item.updated_at) >= since and len(found) < limit:
                    found.append(item)
            offset += len(page)
            if not page or offset >= int(data.get("total_count", 0) or 0) or oldest < since:
                break
        return found

    async def fetch(self, ctx: PublishContext, platform_id: str) -> RemoteItem | None:
        """``freepublish/getarticle``: the article now, ``None`` if WeChat says it is gone."""
        creds = await self._creds(ctx)
        try:
            data = await self._call(
                ctx, creds, "freepublish/getarticle", body={"article_id": platform_id}
            )
        except PermanentFailure as exc:
            if getattr(exc, "errcode", None) == 40007:  # invalid article_id: deleted
                return None
            raise
        return _remote_item({"article_id": platform_id, "content": data})

    def expected(self, post: OutboundPost) -> tuple[str, str]:
        """What WeChat shows for ``post``: its title and its content's visible text (in-article
        images become platform URLs, which :func:`visible_text` drops with the tags)."""
        return visible_text(post.title), visible_text(post.content)

    async def ping(self) -> bool:
        """True if the API host answers HTTP at all (no token, no quota spent)."""
        try:
            async with self._session.get(
                f"{self._base_url}/cgi-bin/", timeout=aiohttp.ClientTimeout(total=3.0)
            ) as resp:
                return resp.status < 500
        except (aiohttp.ClientError, TimeoutError):
            return False

    # --- tokens -----------------------------------------------------------------------------

    async def _creds(self, ctx: PublishContext) -> _Creds:
        opened = await ctx.credentials()
        app_id, app_secret = opened.get("app_id", ""), opened.get("app_secret", "")
        if not app_id or not app_secret:
            raise NeedsReauthorisation(
                f"account {ctx.account.id} has no app_id/app_secret in the vault"
            )
        return _Creds(app_id, app_secret)

    @staticmethod
    def _token_name(ctx: PublishContext) -> str:
        return f"wechat:{ctx.account.id}"

    async def _token(self, ctx: PublishContext, creds: _Creds) -> str:
        name = self._token_name(ctx)
        cached = await ctx.tokens.get(name)
        if cached:
            return cached
        try:
            async with ctx.tokens.lock(name, ttl_s=self._token_lock_ttl_s):
                cached = await ctx.tokens.get(name)  # another process may have fetched it
                if cached:
                    return cached
                return await self._fetch_and_cache(ctx, creds, force=False)
        except TimeoutError:
            raise RetryLater("the WeChat token lock is busy", after_s=2.0) from None

    async def _refresh_after_reject(self, ctx: PublishContext, creds: _Creds, rejected: str) -> str:
        try:
            return await self._refresh_locked(ctx, creds, rejected)
        except TimeoutError:
            raise RetryLater("the WeChat token lock is busy", after_s=2.0) from None

    async def _refresh_locked(self, ctx: PublishContext, creds: _Creds, rejected: str) -> str:
        name = self._token_name(ctx)
        async with ctx.tokens.lock(name, ttl_s=self._token_lock_ttl_s):
            cached = await ctx.tokens.get(name)
            if cached and cached != rejected:
                return cached  # someone refreshed meanwhile
            token = await self._fetch_and_cache(ctx, creds, force=False)
            if token != rejected:
                return token
            # stable_token hands back the very token the API rejected: only force mode helps.
            guard = f"wechat-force:{ctx.account.id}"
            if await ctx.tokens.get(guard):
                raise RetryLater("WeChat rejects the current access token; force refresh "
                                 "was used less than 30 s ago", after_s=30.0)  # fmt: skip
            await ctx.tokens.set(guard, "1", ttl_s=30.0)
            logger.warning(
                "wechat: account %s: stable_token returned the token the API rejected; "
                "force-refreshing (limited to 20/day)",
                ctx.account.id,
            )
            return await self._fetch_and_cache(ctx, creds, force=True)

    async def _fetch_and_cache(self, ctx: PublishContext, creds: _Creds, *, force: bool) -> str:
        body = {
            "grant_type": "client_credential",
            "appid": creds.app_id,
            "secret": creds.app_secret,
            "force_refresh": force,
        }
        try:
            data = await self._send("stable_token", body=body, creds=creds)
        except _Transport as exc:
            raise RetryLater(f"WeChat stable_token failed: {exc.what}", after_s=5.0) from None
        except _ApiError as exc:
            raise self._outcome("stable_token", exc, creds) from None
        token = str(data.get("access_token", ""))
        if not token:
            raise RetryLater("WeChat stable_token answered without a token", after_s=5.0)
        expires_in_s = float(data.get("expires_in", 7200))
        ttl_s = expires_in_s - 300 if expires_in_s > 600 else expires_in_s / 2
        await ctx.tokens.set(self._token_name(ctx), token, ttl_s=max(1.0, ttl_s))
        logger.info("wechat: fetched an access token for account %s", ctx.account.id)
        return token

    # --- HTTP -------------------------------------------------------------------------------

    async def _call(
        self,
        ctx: PublishContext,
        creds: _Creds,
        endpoint: str,
        *,
        body: Mapping[str, Any] | None = None,
        form: Image | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One authenticated API call with at most one token refresh and retry."""
        token = await self._token(ctx, creds)
        for attempt in range(2):
            try:
                return await self._send(
                    endpoint, token=token, body=body, form=form, params=params, creds=creds
                )
            except _Transport as exc:
                if exc.maybe_applied and endpoint == "freepublish/submit":
                    raise Unconfirmed(
                        f"WeChat {endpoint}: {exc.what}; the platform may have applied it",
                        step=endpoint,
                    ) from None
                raise RetryLater(f"WeChat {endpoint}: {exc.what}", after_s=5.0) from None
            except _ApiError as exc:
                if exc.errcode in _TOKEN_ERRORS and attempt == 0:
                    logger.info(
                        "wechat: %s rejected the access token (errcode %s); refreshing once",
                        endpoint,
                        exc.errcode,
                    )
                    token = await self._refresh_after_reject(ctx, creds, token)
                    continue
                raise self._outcome(endpoint, exc, creds, token) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self,
        endpoint: str,
        *,
        creds: _Creds,
        token: str | None = None,
        body: Mapping[str, Any] | None = None,
        form: Image | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        url = f"{self._base_url}/cgi-bin/{endpoint}"
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        data: Any
        headers = {}
        if form is not None:
            data = _media_form(form)  # a FormData can be sent only once: build it per attempt
        else:
            # ensure_ascii=False: WeChat rejects \uXXXX escapes (40033) or garbles them.
            data = json.dumps(body or {}, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            async with self._session.post(
                url, params=query, data=data, headers=headers, timeout=self._timeout
            ) as resp:
                if resp.status >= 500:
                    raise _Transport(f"HTTP {resp.status}", maybe_applied=True)
                if resp.status != 200:
                    raise _Transport(f"unexpected HTTP {resp.status}", maybe_applied=True)
                raw = await resp.read()
        except aiohttp.ClientConnectorError:
            raise _Transport("connection failed", maybe_applied=False) from None
        except TimeoutError:
            raise _Transport("timed out", maybe_applied=True) from None
        except aiohttp.ClientError as exc:
            raise _Transport(
                f"connection lost ({type(exc).__name__})", maybe_applied=True
            ) from None
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _Transport("answer is not JSON", maybe_applied=True) from None
        if not isinstance(payload, dict):
            raise _Transport("answer is not a JSON object", maybe_applied=True)
        errcode = int(payload.get("errcode", 0) or 0)
        if errcode != 0:
            raise _ApiError(errcode, creds.scrub(str(payload.get("errmsg", "")), token or ""))
        return payload

    @staticmethod
    def _outcome(endpoint: str, exc: _ApiError, creds: _Creds, token: str = "") -> DeliveryOutcome:
        """The delivery outcome for a WeChat errcode (reference/platforms.md §1.10, §5)."""
        code = exc.errcode
        detail = f"WeChat {endpoint} errcode {code}"
        outcome: DeliveryOutcome
        if code in _TRANSIENT:
            outcome = RetryLater(f"{detail}: system busy", after_s=10.0)
        elif code == 45011:
            outcome = RetryLater(f"{detail}: per-minute quota reached", after_s=60.0)
        elif code == 45009:
            outcome = RetryLater(
                f"{detail}: daily quota reached", after_s=_seconds_to_beijing_midnight()
            )
        elif code in _TOKEN_ERRORS:
            outcome = RetryLater(f"{detail}: access token rejected after a refresh", after_s=30.0)
        elif code in _REAUTH:
            outcome = NeedsReauthorisation(f"{detail}: {_REAUTH[code]}")
        else:
            meaning = _PERMANENT.get(code, creds.scrub(exc.errmsg, token)[:200])
            outcome = PermanentFailure(f"{detail}: {meaning}")
        setattr(outcome, "errcode", code)  # noqa: B010 - lets callers tell 40007 apart
        return outcome


_PAGE = 20  # freepublish/batchget: count 1-20


def _remote_item(entry: Any) -> RemoteItem | None:
    """One ``batchget``/``getarticle`` article as a :class:`RemoteItem`; ``None`` when every
    news item of it is deleted. A multi-item article (a console publish may have up to 8) shows
    its first title and the text of every item."""
    if not isinstance(entry, dict):
        return None
    content = entry.get("content") or {}
    news = [n for n in content.get("news_item") or [] if isinstance(n, dict)]
    live = [n for n in news if not n.get("is_deleted")]
    if not live:
        return None

    def num(value: Any) -> float:
        try:
            return float(value or 0)
        except (TypeError, ValueError):
            return 0.0

    created = num(content.get("create_time"))
    updated = max(num(content.get("update_time")), num(entry.get("update_time")))
    return RemoteItem(
        platform_id=str(entry.get("article_id", "")),
        title=visible_text(str(live[0].get("title", ""))),
        text="\n".join(visible_text(str(n.get("content", ""))) for n in live),
        url=str(live[0].get("url", "")),
        published_at=created,
        updated_at=updated or created,
    )


def _media_form(image: Image) -> aiohttp.FormData:
    """The multipart body WeChat expects: the file in the field ``media``."""
    form = aiohttp.FormData()
    form.add_field("media", image.data, filename=image.filename, content_type=image.content_type)
    return form


class _PrefixedContext:
    """A view of a :class:`PublishContext` whose checkpoints live under a key prefix
    (used by :meth:`WeChatConnector.update` so a new version has its own steps)."""

    def __init__(self, ctx: PublishContext, prefix: str) -> None:
        self._ctx = ctx
        self._prefix = prefix
        self.job_id = ctx.job_id
        self.account = ctx.account
        self.tokens = ctx.tokens

    @property
    def state(self) -> Mapping[str, Any]:
        n = len(self._prefix)
        return {k[n:]: v for k, v in self._ctx.state.items() if k.startswith(self._prefix)}

    async def credentials(self) -> Mapping[str, str]:
        return await self._ctx.credentials()

    async def checkpoint(self, **updates: Any) -> None:
        await self._ctx.checkpoint(**{self._prefix + k: v for k, v in updates.items()})


__all__ = ["DEFAULT_BASE_URL", "WeChatConnector"]
