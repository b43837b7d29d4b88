"""WordPress connector: the REST API (``/wp-json/wp/v2``) with an Application Password.

Steps of one publish, each checkpointed before the next:

1. every image (cover and in-article) is uploaded once to ``/media`` as a raw body with
   ``Content-Disposition`` -- the checkpoint ``wp_media`` maps sha256 → ``{id, url}``, so a resumed
   job uploads only what is missing (a lost upload answer costs at most an orphan attachment);
2. the post is created with ``status: publish``, the cover as ``featured_media``, ``image:N``
   references rewritten to the attachments' ``source_url`` and a per-job marker
   ``<!-- mediagate:job=<job id> -->`` at the end of the content.

``POST /posts`` is not idempotent (a repeat silently creates ``slug-2``), so the intent is
checkpointed (``wp_creating`` = unix time) before the call, and an unknown outcome (timeout,
dropped connection, 5xx) is reconciled by searching the posts for the marker (``search=`` +
``context=edit``, which covers the raw content). Not found after a lost answer or a bare 502/504
from a proxy → :class:`Unconfirmed`; not found after WordPress's own 5xx error envelope or a 503
→ :class:`RetryLater`. A resumed job (``publish``) or a status check (``status`` answers
:class:`RetryLater`) lets the post be created again only when the marker is still not found
``reconcile_grace_s`` after the intent (default 120 s, longer than a PHP request may run), so a
request still in flight cannot turn into a duplicate.

Update is ``POST /posts/{id}`` with every field (idempotent). Delete moves the post to the trash,
or deletes it for good with ``delete = "force"``; 410 ``rest_already_trashed`` and 404 after a
force delete count as done.

Config section keys: ``base_url`` (default site), ``timeout_s``, ``reconcile_grace_s``,
``delete`` (``"trash"`` | ``"force"``), ``status``. Account settings (override the section):
``base_url``, ``delete``, ``status``, ``categories`` (list of term ids). Credentials:
``username``, ``app_password``.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp

from connectors.base import (
    AccountRef,
    Deleted,
    Image,
    Limits,
    NeedsReauthorisation,
    OutboundPost,
    PermanentFailure,
    PublishContext,
    Published,
    Result,
    RetryLater,
    Unconfirmed,
    reject_unknown_keys,
)

logger = logging.getLogger(__name__)

_API = "/wp-json/wp/v2"
_IMG_RE = re.compile(r"""(<img\b[^>]*?\bsrc\s*=\s*["'])image:(\d+)(["'])""", re.I)
_SECTION_KEYS = frozenset({"base_url", "timeout_s", "reconcile_grace_s", "delete", "status"})
_STATUSES = frozenset({"publish", "draft", "pending", "private"})


class _Answer:
    """One HTTP answer: status, headers and the decoded JSON body (None if not JSON)."""

    def __init__(self, status: int, headers: Mapping[str, str], body: Any) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def code(self) -> str:
        return str(self.body.get("code", "")) if isinstance(self.body, dict) else ""

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""

    def describe(self) -> str:
        return f"HTTP {self.status} {self.code} {self.message}".strip()


def marker(job_id: str) -> str:
    """The reconciliation marker embedded in the post content (an HTML comment)."""
    return f"mediagate:job={job_id}"


class WordPressConnector:
    """Publishes a post to a WordPress site (see the module docstring for the steps)."""

    platform: ClassVar[str] = "wordpress"
    limits: ClassVar[Limits] = Limits(
        title_max_chars=200,
        image_max_bytes=16 * 1024 * 1024,
        image_types=("image/jpeg", "image/png", "image/gif", "image/webp"),
    )
    asynchronous: ClassVar[bool] = False

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str = "",
        timeout_s: float = 20.0,
        reconcile_grace_s: float = 120.0,
        delete: str = "trash",
        status: str = "publish",
    ) -> None:
        if delete not in ("trash", "force"):
            raise ValueError(f"wordpress: delete must be 'trash' or 'force', not {delete!r}")
        if status not in _STATUSES:
            raise ValueError(
                f"wordpress: status must be one of {sorted(_STATUSES)}, not {status!r}"
            )
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._grace_s = reconcile_grace_s
        self._delete = delete
        self._status = status

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], *, session: aiohttp.ClientSession
    ) -> WordPressConnector:
        """Build from the ``[connectors.wordpress]`` section; an unknown key is an error."""
        reject_unknown_keys("wordpress", section, _SECTION_KEYS)
        return cls(session=session, **dict(section))

    # -- helpers --------------------------------------------------------------------------

    def _site(self, account: AccountRef) -> str:
        return str(account.settings.get("base_url") or self._base_url).rstrip("/")

    def _images(self, post: OutboundPost) -> list[Image]:
        return ([post.cover] if post.cover else []) + list(post.images)

    def validate(self, post: OutboundPost, account: AccountRef) -> list[str]:
        """Problems that would make the site refuse the post, each a readable sentence."""
        problems: list[str] = []
        if not self._site(account):
            problems.append(f"WordPress account {account.id!r} has no 'base_url' (site URL).")
        if not post.title.strip():
            problems.append("WordPress posts need a title.")
        limit = self.limits.title_max_chars
        if limit is not None and len(post.title) > limit:
            problems.append(
                f"WordPress title is {len(post.title)} characters; the limit is {limit}."
            )
        status = str(account.settings.get("status", self._status))
        if status not in _STATUSES:
            problems.append(f"WordPress account {account.id!r}: status {status!r} is not allowed.")
        for image in self._images(post):
            if image.content_type not in self.limits.image_types:
                problems.append(
                    f"WordPress site does not take {image.content_type} ({image.filename})."
                )
            max_bytes = self.limits.image_max_bytes
            if max_bytes is not None and len(image.data) > max_bytes:
                problems.append(
                    f"Image {image.filename} is {len(image.data)} bytes (max {max_bytes})."
                )
        for match in _IMG_RE.finditer(post.content):
            if int(match.group(2)) >= len(post.images):
                problems.append(
                    f"The content refers to image:{match.group(2)}, which is not attached."
                )
        return problems

    async def _auth(self, ctx: PublishContext) -> str:
        creds = await ctx.credentials()
        user, password = creds.get("username", ""), creds.get("app_password", "")
        if not user or not password:
            raise NeedsReauthorisation(
                f"WordPress account {ctx.account.id!r} needs 'username' and 'app_password' in "
                "the vault."
            )
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")

    async def _call(
        self,
        method: str,
        url: str,
        auth: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> _Answer:
        """One request; network errors propagate for the caller to classify."""
        all_headers = {"Authorization": auth, **(headers or {})}
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        async with self._session.request(
            method, url, json=json, data=data, headers=all_headers, params=params, timeout=timeout
        ) as resp:
            try:
                body = await resp.json(content_type=None)
            except ValueError:
                body = None
            return _Answer(resp.status, resp.headers, body)

    def _raise_for(self, answer: _Answer, account: AccountRef, what: str) -> None:
        """Turn an error answer into the delivery outcome (never returns)."""
        if answer.status == 401:
            hint = ""
            if answer.code.startswith("rest_cannot_"):
                hint = (
                    " (WordPress saw no credentials: the host or a security plugin may strip the "
                    "Authorization header)"
                )
            raise NeedsReauthorisation(
                f"WordPress refused the credentials of account {account.id!r} on {what}: "
                f"{answer.describe()}{hint}"
            )
        if answer.status == 429 or answer.status >= 500:
            after_s = float(answer.headers.get("Retry-After", "30") or 30)
            raise RetryLater(f"WordPress answered {answer.describe()} on {what}", after_s)
        raise PermanentFailure(f"WordPress refused {what}: {answer.describe()}")

    # -- media ----------------------------------------------------------------------------

    async def _upload_all(
        self, post: OutboundPost, ctx: PublishContext, site: str, auth: str
    ) -> dict[str, dict[str, Any]]:
        media: dict[str, dict[str, Any]] = dict(ctx.state.get("wp_media") or {})
        for image in self._images(post):
            if image.sha256 in media:
                continue
            media[image.sha256] = await self._upload(image, ctx, site, auth)
            await ctx.checkpoint(wp_media=media)
        return media

    async def _upload(
        self, image: Image, ctx: PublishContext, site: str, auth: str
    ) -> dict[str, Any]:
        filename = quote(image.filename or "image", safe="._-")
        headers = {
            "Content-Type": image.content_type,
            "Content-Disposition": f'attachment; filename="{filename}"',
        }
        try:
            answer = await self._call(
                "POST", f"{site}{_API}/media", auth, data=image.data, headers=headers
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            # a duplicate attachment is harmless: the step may simply be repeated
            raise RetryLater(
                f"WordPress media upload failed ({type(exc).__name__})", 10.0
            ) from None
        if answer.status != 201 or not isinstance(answer.body, dict):
            self._raise_for(answer, ctx.account, f"uploading {image.filename}")
        body = answer.body
        return {"id": int(body["id"]), "url": str(body.get("source_url", ""))}

    # -- publish --------------------------------------------------------------------------

    def _fields(
        self, post: OutboundPost, ctx: PublishContext, media: Mapping[str, Any]
    ) -> dict[str, Any]:
        def _swap(m: re.Match[str]) -> str:
            image = post.images[int(m.group(2))]
            return m.group(1) + str(media[image.sha256]["url"]) + m.group(3)

        content = _IMG_RE.sub(_swap, post.content) + f"\n<!-- {marker(ctx.job_id)} -->"
        fields: dict[str, Any] = {
            "title": post.title,
            "content": content,
            "excerpt": post.digest,
            "status": str(ctx.account.settings.get("status", self._status)),
            "featured_media": int(media[post.cover.sha256]["id"]) if post.cover else 0,
        }
        categories = ctx.account.settings.get("categories")
        if categories:
            fields["categories"] = [int(c) for c in categories]
        return fields

    async def _find(self, ctx: PublishContext, site: str, auth: str) -> dict[str, Any] | None:
        """The post carrying this job's marker, if the site has one (trash excluded)."""
        params = {
            "search": marker(ctx.job_id),
            "status": "any",
            "context": "edit",
            "per_page": "20",
        }
        try:
            answer = await self._call("GET", f"{site}{_API}/posts", auth, params=params)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unconfirmed(
                f"WordPress post may have been created; the posts could not be searched "
                f"({type(exc).__name__})",
                step="create",
            ) from None
        if answer.status != 200 or not isinstance(answer.body, list):
            if answer.status == 401:
                self._raise_for(answer, ctx.account, "searching posts")
            raise Unconfirmed(
                f"WordPress post may have been created; search answered {answer.describe()}",
                step="create",
            )
        needle = f"<!-- {marker(ctx.job_id)} -->"
        for item in answer.body:
            raw = (item.get("content") or {}).get("raw", "")
            if needle in raw:
                return dict(item)
        return None

    async def _confirm(self, item: Mapping[str, Any], ctx: PublishContext, how: str) -> Published:
        post_id, link = str(item["id"]), str(item.get("link", ""))
        await ctx.checkpoint(wp_post_id=post_id, wp_link=link)
        logger.info("wordpress job %s: post %s %s", ctx.job_id, post_id, how)
        return Published(post_id, link, {"how": how, "slug": item.get("slug")})

    async def publish(self, post: OutboundPost, ctx: PublishContext) -> Result:
        """Upload the images, then create the post once (see the module docstring)."""
        state = ctx.state
        if state.get("wp_post_id"):
            return Published(
                str(state["wp_post_id"]), str(state.get("wp_link", "")), {"how": "checkpoint"}
            )
        problems = self.validate(post, ctx.account)
        if problems:
            raise PermanentFailure(" ".join(problems))
        site, auth = self._site(ctx.account), await self._auth(ctx)
        if state.get("wp_creating"):
            found = await self._find(ctx, site, auth)
            if found is not None:
                return await self._confirm(found, ctx, "reconciled on resume")
            age_s = time.time() - float(state["wp_creating"])
            if age_s < self._grace_s:
                raise Unconfirmed(
                    f"an earlier WordPress create {age_s:.0f} s ago may still complete; not "
                    f"creating again before {self._grace_s:.0f} s",
                    step="create",
                )
            logger.warning(
                "wordpress job %s: earlier create not found after %.0f s; creating",
                ctx.job_id,
                age_s,
            )
        media = await self._upload_all(post, ctx, site, auth)
        return await self._create(post, ctx, site, auth, media)

    async def _create(
        self,
        post: OutboundPost,
        ctx: PublishContext,
        site: str,
        auth: str,
        media: Mapping[str, Any],
    ) -> Published:
        fields = self._fields(post, ctx, media)
        await ctx.checkpoint(wp_creating=time.time())
        try:
            answer = await self._call("POST", f"{site}{_API}/posts", auth, json=fields)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            await ctx.checkpoint(wp_creating=None)
            raise RetryLater(f"WordPress unreachable ({type(exc).__name__})", 10.0) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            logger.warning(
                "wordpress job %s: create answer lost (%s)", ctx.job_id, type(exc).__name__
            )
            found = await self._find(ctx, site, auth)
            if found is not None:
                return await self._confirm(found, ctx, "reconciled after a lost answer")
            raise Unconfirmed(
                f"WordPress create answer was lost ({type(exc).__name__}) and the post is not "
                "listed yet; reconcile later",
                step="create",
            ) from None
        if answer.status in (200, 201) and isinstance(answer.body, dict) and "id" in answer.body:
            result = await self._confirm(answer.body, ctx, "created")
            wanted = fields["featured_media"]
            if wanted and answer.body.get("featured_media") != wanted:
                # wp-core ignores a failed featured image on create: say so, do not fail
                logger.warning("wordpress job %s: featured image %s not set", ctx.job_id, wanted)
                return Published(
                    result.platform_id,
                    result.url,
                    {**result.details, "warning": "featured image not set"},
                )
            return result
        if answer.status >= 500:
            found = await self._find(ctx, site, auth)
            if found is not None:
                return await self._confirm(found, ctx, f"reconciled after {answer.describe()}")
            if answer.status in (502, 504) and not answer.code:
                # a proxy stopped waiting, not WordPress: PHP behind it may still insert the post
                raise Unconfirmed(
                    f"WordPress create answered {answer.describe()} from a proxy; the post may "
                    "still be created; reconcile later",
                    step="create",
                )
        await ctx.checkpoint(wp_creating=None)
        self._raise_for(answer, ctx.account, "creating the post")
        raise AssertionError("unreachable")  # pragma: no cover

    # -- status / update / delete ---------------------------------------------------------

    async def status(self, ctx: PublishContext) -> Result:
        """The post's status by id; without an id, a search for the job's marker."""
        site, auth = self._site(ctx.account), await self._auth(ctx)
        post_id = str(ctx.state.get("wp_post_id") or "")
        if not post_id:
            if not ctx.state.get("wp_creating"):
                raise RetryLater("nothing has been created on WordPress for this job yet", 1.0)
            found = await self._find(ctx, site, auth)
            if found is not None:
                return await self._confirm(found, ctx, "reconciled by a status check")
            age_s = time.time() - float(ctx.state["wp_creating"])
            if age_s >= self._grace_s:
                # established: the create did not take effect; publish() may create the post
                raise RetryLater(
                    f"the WordPress create of {age_s:.0f} s ago left no post; create again", 1.0
                )
            raise Unconfirmed(
                f"the WordPress post of this job is not found yet ({age_s:.0f} s after the create)",
                step="create",
            )
        try:
            answer = await self._call(
                "GET", f"{site}{_API}/posts/{post_id}", auth, params={"context": "edit"}
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unconfirmed(f"WordPress status check failed ({type(exc).__name__})") from None
        if answer.status == 404:
            raise PermanentFailure(f"WordPress post {post_id} no longer exists")
        if answer.status != 200 or not isinstance(answer.body, dict):
            if answer.status == 401:
                self._raise_for(answer, ctx.account, "the status check")
            raise Unconfirmed(f"WordPress status check answered {answer.describe()}")
        wp_status = answer.body.get("status")
        if wp_status == "trash":
            raise PermanentFailure(f"WordPress post {post_id} is in the trash")
        return Published(post_id, str(answer.body.get("link", "")), {"status": wp_status})

    async def update(self, post: OutboundPost, ctx: PublishContext) -> Result:
        """Replace every field of the published post (idempotent; new images are uploaded)."""
        post_id = str(ctx.state.get("wp_post_id") or "")
        if not post_id:
            raise PermanentFailure("no WordPress post is known for this job; nothing to update")
        problems = self.validate(post, ctx.account)
        if problems:
            raise PermanentFailure(" ".join(problems))
        site, auth = self._site(ctx.account), await self._auth(ctx)
        media = await self._upload_all(post, ctx, site, auth)
        fields = self._fields(post, ctx, media)
        try:
            answer = await self._call("POST", f"{site}{_API}/posts/{post_id}", auth, json=fields)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetryLater(
                f"WordPress update failed ({type(exc).__name__}); safe to repeat", 10.0
            ) from None
        if answer.status != 200 or not isinstance(answer.body, dict):
            self._raise_for(answer, ctx.account, f"updating post {post_id}")
        return await self._confirm(answer.body, ctx, "updated")

    async def delete(self, ctx: PublishContext) -> Deleted:
        """Trash the post, or delete it for good (``delete = "force"``); repeats are harmless."""
        post_id = str(ctx.state.get("wp_post_id") or "")
        if not post_id:
            raise PermanentFailure("no WordPress post is known for this job; nothing to delete")
        site, auth = self._site(ctx.account), await self._auth(ctx)
        mode = str(ctx.account.settings.get("delete", self._delete))
        params = {"force": "true"} if mode == "force" else None
        try:
            answer = await self._call(
                "DELETE", f"{site}{_API}/posts/{post_id}", auth, params=params
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetryLater(
                f"WordPress delete failed ({type(exc).__name__}); safe to repeat", 10.0
            ) from None
        gone = answer.status == 410 and answer.code == "rest_already_trashed"
        gone = gone or (answer.status == 404 and answer.code == "rest_post_invalid_id")
        if answer.status == 501:
            raise PermanentFailure(
                f"WordPress site has trash disabled ({answer.code}); configure delete = 'force'"
            )
        if answer.status != 200 and not gone:
            self._raise_for(answer, ctx.account, f"deleting post {post_id}")
        await ctx.checkpoint(wp_deleted=mode)
        return Deleted(post_id)

    async def ping(self) -> bool:
        """True if the default site's REST index answers (True when no default site is set)."""
        if not self._base_url:
            return True
        try:
            async with self._session.get(
                f"{self._base_url}/wp-json/", timeout=aiohttp.ClientTimeout(total=5.0)
            ) as resp:
                await resp.read()
                return resp.status < 500
        except (aiohttp.ClientError, TimeoutError):
            return False


__all__ = ["WordPressConnector", "marker"]
