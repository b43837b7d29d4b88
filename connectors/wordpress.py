"""WordPress connector: the REST API (``/wp-json/wp/v2``) with an Application Password.

Steps of one publish, each checkpointed before the next:

1. every image (cover and in-article) is put on the site once per account: the account's media
   library (``ctx.media``, content sha256 → attachment id, kept by the gateway in Redis) names the
   attachment when an earlier job uploaded the same bytes (checked with ``GET /media/{id}``);
   otherwise the image is uploaded to ``/media`` as a raw body with an ASCII
   ``Content-Disposition`` filename. The checkpoint ``wp_media`` maps sha256 → ``{id, url}``, so a
   resumed job uploads only what is missing (a lost upload answer costs at most an orphan);
2. the post is created with ``status: publish``, the cover as ``featured_media``, ``image:N``
   references rewritten to the attachments' ``source_url`` with the class ``wp-image-<id>`` (so
   WordPress adds ``srcset``) and a per-job marker ``<!-- mediagate:job=<job id> -->`` placed
   inside the last element, where ``wpautop`` does not turn it into an empty paragraph;
3. attachments without a parent are attached to the post (``post_parent``), a Chinese file name
   becomes the attachment's title (best effort: a failure is logged, the post stays published).

The content rules (marker, images, upload names) live in :mod:`connectors.wordpress_content`.

``POST /posts`` is not idempotent (a repeat silently creates ``slug-2``), so the intent is
checkpointed (``wp_creating`` = unix time) before the call, and an unknown outcome (timeout,
dropped connection, 5xx, a 2xx whose body is not the post's JSON, e.g. a PHP notice printed
before it) is reconciled by searching the posts for the marker (``search=`` + ``context=edit``,
which covers the raw content). Not found after a lost answer, a 2xx or a bare 502/504 from a
proxy → :class:`Unconfirmed`; not found after WordPress's own 5xx error envelope or a 503 →
:class:`RetryLater`. A resumed job or a status check lets the post be created again only when the
marker is still not found ``reconcile_grace_s`` after the intent.

No grace period is safe on its own: mod_php keeps running a request whose client gave up, and
``max_execution_time`` does not count time spent sleeping or waiting on I/O. So a job that
created its post *again* answers :class:`Pending` and, for ``duplicate_watch_s``, every status
check sweeps the site for other posts carrying the job's marker and moves them to the trash; the
job's history says which (``details["note"]``).

Update is ``POST /posts/{id}`` with every field except ``status`` (idempotent); a post someone
moved to the trash is not brought back by an edit: the update is refused, saying so. Delete moves
the post to the trash, or deletes it for good with ``delete = "force"``; 410
``rest_already_trashed`` and 404 after a force delete count as done.

WordPress runs a request with bad credentials as a visitor's (401 ``rest_cannot_create``, or 400
``rest_invalid_param`` for the ``status=any`` search): :class:`NeedsReauthorisation` names the
possible causes, the password first, or -- when the REST index lists no Application Passwords --
that the site does not offer them. ``rest_upload_*`` errors (500 for a file that is not an
allowed image) are permanent, not retried.

``ping()`` asks each site's REST index (the section's ``base_url`` and every account site this
process has seen): healthy only when it answers WordPress JSON; an HTML 404 (Debian's shipped
``.htaccess`` has every rewrite rule commented out) is not healthy.

Bypass detection (:class:`connectors.base.Lister`, docs/bypass.md): :meth:`recent` lists
``GET /posts?modified_after=<since - 1 s, with +00:00>&orderby=modified&order=desc&context=edit
&status=publish,future,private`` page by page (``X-WP-TotalPages``; ``WP_Date_Query`` converts
the offset to the site's time zone, ``after`` is exclusive, so the second before ``since`` is asked
for and ``modified_gmt`` filters exactly); :meth:`fetch` is ``GET /posts/{id}?context=edit`` (a
WordPress 404 or ``status: trash`` → gone). Both read the **raw** title and content (what the
author stored; the rendered ones pass through ``wpautop``, ``wptexturize``, shortcodes and
plugins that change them without anyone touching the post) in ``visible_text`` form, so the job
marker (an HTML comment) and the rewritten image tags drop out and :meth:`expected` is simply the
approved title and content in that form. A listing whose ``X-WP-Total`` shrinks while it pages
(a post left the listing, so one may have been skipped) answers :class:`RetryLater`.

Config section keys: ``base_url`` (default site), ``timeout_s``, ``reconcile_grace_s``,
``duplicate_watch_s``, ``delete`` (``"trash"`` | ``"force"``), ``status``. Account settings
(override the section): ``base_url``, ``delete``, ``status``, ``categories`` (list of term ids).
Credentials: ``username``, ``app_password``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, NoReturn
from urllib.parse import quote

import aiohttp

from connectors import wordpress_interact
from connectors.base import (
    AccountRef,
    Deleted,
    Image,
    Interaction,
    Limits,
    MediaLibrary,
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
from connectors.wordpress_content import (
    image_refs,
    image_title,
    marker,
    rewrite_images,
    upload_filename,
    with_marker,
)

logger = logging.getLogger(__name__)

_API = "/wp-json/wp/v2"
_SECTION_KEYS = frozenset(
    {"base_url", "timeout_s", "reconcile_grace_s", "duplicate_watch_s", "delete", "status"}
)
_STATUSES = frozenset({"publish", "draft", "pending", "private"})
_ANONYMOUS_HINT = (
    " (WordPress treated the request as anonymous: the application password is wrong or "
    "revoked, the user does not exist, Application Passwords are unavailable on this site "
    "(plain HTTP outside a local environment), or the host strips the Authorization header)"
)
_NO_APP_PASSWORDS_HINT = (
    " (this site does not offer Application Passwords -- its REST index lists no "
    "'application-passwords' authentication: WordPress allows them only over HTTPS or with "
    "WP_ENVIRONMENT_TYPE = 'local', and a plugin may have turned them off)"
)


class _Answer:
    """One HTTP answer: status, headers, the decoded JSON body (None if not JSON) and its type."""

    def __init__(
        self, status: int, headers: Mapping[str, str], body: Any, content_type: str = ""
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.content_type = content_type

    @property
    def code(self) -> str:
        return str(self.body.get("code", "")) if isinstance(self.body, dict) else ""

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""

    def describe(self) -> str:
        if self.body is None:
            return f"HTTP {self.status} (not JSON: {self.content_type or 'no content type'})"
        return f"HTTP {self.status} {self.code} {self.message}".strip()


def _gmt_time(value: Any) -> float:
    """Epoch seconds of a WordPress ``*_gmt`` time (``2026-12-06T09:00:00``); 0 if not one."""
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


class WordPressConnector:
    """Publishes a post to a WordPress site (see the module docstring for the steps)."""

    platform: ClassVar[str] = "wordpress"
    limits: ClassVar[Limits] = Limits(
        title_max_chars=200,
        image_max_bytes=16 * 1024 * 1024,
        image_types=("image/jpeg", "image/png", "image/gif", "image/webp"),
    )
    # publish() answers Pending after it had to create a post again (the duplicate watch)
    asynchronous: ClassVar[bool] = True

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str = "",
        timeout_s: float = 20.0,
        reconcile_grace_s: float = 120.0,
        duplicate_watch_s: float = 900.0,
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
        self._watch_s = duplicate_watch_s
        self._delete = delete
        self._status = status
        self._sites: set[str] = set()  # every account site seen, for ping()

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], *, session: aiohttp.ClientSession
    ) -> WordPressConnector:
        """Build from the ``[connectors.wordpress]`` section; an unknown key is an error."""
        reject_unknown_keys("wordpress", section, _SECTION_KEYS)
        return cls(session=session, **dict(section))

    # -- helpers --------------------------------------------------------------------------

    def _site(self, account: AccountRef) -> str:
        site = str(account.settings.get("base_url") or self._base_url).rstrip("/")
        if site:
            self._sites.add(site)
        return site

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
        for index in image_refs(post.content):
            if index >= len(post.images):
                problems.append(f"The content refers to image:{index}, which is not attached.")
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
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> _Answer:
        """One request; network errors propagate for the caller to classify."""
        all_headers = {"Authorization": auth, **(headers or {})}
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        async with self._session.request(
            method,
            url,
            json=json_body,
            data=data,
            headers=all_headers,
            params=params,
            timeout=timeout,
        ) as resp:
            raw = await resp.read()
            try:
                body = json.loads(raw)
            except ValueError:  # a PHP notice before the JSON, an HTML error page ...
                body = None
            return _Answer(resp.status, resp.headers, body, resp.content_type)

    async def _visitor_hint(self, account: AccountRef) -> str:
        """Why WordPress may have run an authenticated request as a visitor's.

        WordPress answers a wrong or revoked password, an unknown user, unavailable Application
        Passwords and a stripped Authorization header alike; only the last-but-one shows from
        outside (the REST index then lists no ``application-passwords`` authentication).
        """
        try:
            async with self._session.get(
                f"{self._site(account)}/wp-json/", timeout=aiohttp.ClientTimeout(total=5.0)
            ) as resp:
                index = json.loads(await resp.read())
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return _ANONYMOUS_HINT
        if isinstance(index, dict) and "authentication" in index:
            methods = index["authentication"]
            if not (isinstance(methods, dict) and "application-passwords" in methods):
                return _NO_APP_PASSWORDS_HINT
        return _ANONYMOUS_HINT

    async def _raise_for(self, answer: _Answer, account: AccountRef, what: str) -> NoReturn:
        """Turn an error answer into the delivery outcome (never returns)."""
        if answer.status == 401:
            hint = await self._visitor_hint(account) if answer.code.startswith("rest_") else ""
            raise NeedsReauthorisation(
                f"WordPress refused the credentials of account {account.id!r} on {what}: "
                f"{answer.describe()}{hint}"
            )
        if answer.status >= 500 and answer.code.startswith("rest_upload_"):
            # the file itself (not an image, a type the site does not allow, too big): a
            # repeat uploads the same bytes and fails the same way
            raise PermanentFailure(f"WordPress refused {what}: {answer.describe()}")
        if answer.status == 429 or answer.status >= 500:
            after_s = float(answer.headers.get("Retry-After", "30") or 30)
            raise RetryLater(f"WordPress answered {answer.describe()} on {what}", after_s)
        if answer.status == 404 and answer.body is None:
            raise PermanentFailure(
                f"WordPress refused {what}: {answer.describe()}; the site's /wp-json/ routes are "
                "not reachable (are the permalink rewrite rules on?)"
            )
        raise PermanentFailure(f"WordPress refused {what}: {answer.describe()}")

    # -- media ----------------------------------------------------------------------------

    async def _upload_all(
        self, post: OutboundPost, ctx: PublishContext, site: str, auth: str
    ) -> dict[str, dict[str, Any]]:
        media: dict[str, dict[str, Any]] = dict(ctx.state.get("wp_media") or {})
        library: MediaLibrary | None = getattr(ctx, "media", None)
        for image in self._images(post):
            if image.sha256 in media:
                continue
            record = None
            if library is not None:
                known = await library.get(image.sha256)
                if known is not None and known.get("site") == site:
                    record = await self._known(image, known, ctx, site, auth, library)
            if record is None:
                record = await self._upload(image, ctx, site, auth)
                if library is not None:
                    await library.put(
                        image.sha256, {"id": record["id"], "url": record["url"], "site": site}
                    )
            media[image.sha256] = record
            await ctx.checkpoint(wp_media=media)
        return media

    async def _known(
        self,
        image: Image,
        known: Mapping[str, Any],
        ctx: PublishContext,
        site: str,
        auth: str,
        library: MediaLibrary,
    ) -> dict[str, Any] | None:
        """The attachment an earlier job uploaded, if the site still has it."""
        media_id = int(known["id"])
        try:
            answer = await self._call(
                "GET", f"{site}{_API}/media/{media_id}", auth, params={"context": "edit"}
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetryLater(f"WordPress media check failed ({type(exc).__name__})", 10.0) from None
        if answer.status == 200 and isinstance(answer.body, dict):
            return {
                "id": media_id,
                "url": str(answer.body.get("source_url") or known.get("url", "")),
                "parent": int(answer.body.get("post") or 0),
            }
        if answer.status in (404, 410):
            logger.info("wordpress: attachment %s of %s is gone; uploading again", media_id, site)
            await library.forget(image.sha256)
            return None
        await self._raise_for(answer, ctx.account, f"checking attachment {media_id}")

    async def _upload(
        self, image: Image, ctx: PublishContext, site: str, auth: str
    ) -> dict[str, Any]:
        filename = upload_filename(image)
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
        if answer.status == 201 and isinstance(answer.body, dict) and "id" in answer.body:
            record: dict[str, Any] = {
                "id": int(answer.body["id"]),
                "url": str(answer.body.get("source_url", "")),
                "parent": 0,
            }
            title = image_title(image)
            if filename != image.filename and title:
                record["title"] = title
            return record
        if 200 <= answer.status < 300:
            # uploaded, but the answer is unreadable: at worst a repeat leaves an orphan
            raise RetryLater(f"WordPress media upload answered {answer.describe()}", 10.0)
        await self._raise_for(answer, ctx.account, f"uploading {image.filename}")

    async def _attach(self, ctx: PublishContext, site: str, auth: str, post_id: str) -> list[str]:
        """Attach parentless media of this job to the post; returns the problems (best effort)."""
        media: dict[str, dict[str, Any]] = dict(ctx.state.get("wp_media") or {})
        problems: list[str] = []
        for sha, record in media.items():
            if record.get("parent"):
                continue
            fields: dict[str, Any] = {"post": int(post_id)}
            if record.get("title"):
                fields["title"] = record["title"]
            try:
                answer = await self._call(
                    "POST", f"{site}{_API}/media/{record['id']}", auth, json_body=fields
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                problems.append(f"attachment {record['id']}: {type(exc).__name__}")
                continue
            if answer.status != 200:
                problems.append(f"attachment {record['id']}: {answer.describe()}")
                continue
            media[sha] = {**record, "parent": int(post_id)}
        await ctx.checkpoint(wp_media=media, wp_attached=post_id)
        for problem in problems:
            logger.warning("wordpress job %s: not attached: %s", ctx.job_id, problem)
        return problems

    # -- publish --------------------------------------------------------------------------

    def _content(self, post: OutboundPost, ctx: PublishContext, media: Mapping[str, Any]) -> str:
        by_index = {i: media[image.sha256] for i, image in enumerate(post.images)}
        return with_marker(rewrite_images(post.content, by_index), ctx.job_id)

    def _fields(
        self, post: OutboundPost, ctx: PublishContext, media: Mapping[str, Any]
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "title": post.title,
            "content": self._content(post, ctx, media),
            "excerpt": post.digest,
            "status": str(ctx.account.settings.get("status", self._status)),
            "featured_media": int(media[post.cover.sha256]["id"]) if post.cover else 0,
        }
        categories = ctx.account.settings.get("categories")
        if categories:
            fields["categories"] = [int(c) for c in categories]
        return fields

    async def _search(self, ctx: PublishContext, site: str, auth: str) -> list[dict[str, Any]]:
        """Every post carrying this job's marker (trash excluded), oldest first."""
        params = {
            "search": marker(ctx.job_id),
            "status": "any",
            "context": "edit",
            "per_page": "100",
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
                await self._raise_for(answer, ctx.account, "searching posts")
            if answer.status == 400 and answer.code == "rest_invalid_param":
                params_info = (answer.body.get("data") or {}).get("params") or {}
                if "status" in params_info:
                    # status=any is refused only to a visitor: the credentials did not log in
                    raise NeedsReauthorisation(
                        f"WordPress refused the credentials of account {ctx.account.id!r} on "
                        f"searching posts: {answer.describe()}"
                        + await self._visitor_hint(ctx.account)
                    )
            raise Unconfirmed(
                f"WordPress post may have been created; search answered {answer.describe()}",
                step="create",
            )
        needle = f"<!-- {marker(ctx.job_id)} -->"
        found = [
            dict(item)
            for item in answer.body
            if isinstance(item, dict) and needle in ((item.get("content") or {}).get("raw") or "")
        ]
        return sorted(found, key=lambda item: int(item["id"]))

    async def _find(self, ctx: PublishContext, site: str, auth: str) -> dict[str, Any] | None:
        """The job's post if the site has one (the oldest; any others are swept to the trash)."""
        found = await self._search(ctx, site, auth)
        if not found:
            return None
        if len(found) > 1:
            await self._trash_extras(ctx, site, auth, found[1:])
        return found[0]

    async def _trash_extras(
        self, ctx: PublishContext, site: str, auth: str, extras: list[dict[str, Any]]
    ) -> list[str]:
        """Move duplicate posts of this job to the trash; returns every id swept so far."""
        swept = [str(i) for i in ctx.state.get("wp_swept") or []]
        for item in extras:
            post_id = str(item["id"])
            if post_id in swept:
                continue
            try:
                answer = await self._call("DELETE", f"{site}{_API}/posts/{post_id}", auth)
                if answer.status == 501:  # trash disabled on the site: delete the duplicate
                    answer = await self._call(
                        "DELETE", f"{site}{_API}/posts/{post_id}", auth, params={"force": "true"}
                    )
            except (TimeoutError, aiohttp.ClientError) as exc:
                logger.warning(
                    "wordpress job %s: duplicate %s not trashed (%s)",
                    ctx.job_id,
                    post_id,
                    type(exc).__name__,
                )
                continue
            if answer.status == 200 or answer.code == "rest_already_trashed":
                logger.warning("wordpress job %s: trashed duplicate post %s", ctx.job_id, post_id)
                swept.append(post_id)
            else:
                logger.warning(
                    "wordpress job %s: duplicate %s not trashed: %s",
                    ctx.job_id,
                    post_id,
                    answer.describe(),
                )
        if swept != list(ctx.state.get("wp_swept") or []):
            await ctx.checkpoint(wp_swept=swept)
        return swept

    async def _sweep(self, ctx: PublishContext, site: str, auth: str, keep: str) -> list[str]:
        """Trash every other post carrying this job's marker; never fails the job."""
        try:
            found = await self._search(ctx, site, auth)
        except Unconfirmed as exc:
            logger.warning("wordpress job %s: duplicate sweep skipped: %s", ctx.job_id, exc)
            return [str(i) for i in ctx.state.get("wp_swept") or []]
        return await self._trash_extras(
            ctx, site, auth, [item for item in found if str(item["id"]) != keep]
        )

    def _watch_note(self, ctx: PublishContext, swept: list[str]) -> str:
        note = "created again after the earlier create left no post"
        if swept:
            note += (
                f"; trashed {len(swept)} duplicate post(s) carrying this job's marker: "
                + ", ".join(swept)
            )
        return note

    async def _confirm(self, item: Mapping[str, Any], ctx: PublishContext, how: str) -> Published:
        post_id, link = str(item["id"]), str(item.get("link", ""))
        await ctx.checkpoint(wp_post_id=post_id, wp_link=link)
        logger.info("wordpress job %s: post %s %s", ctx.job_id, post_id, how)
        return Published(post_id, link, {"how": how, "slug": item.get("slug")})

    async def _finish(self, result: Published, ctx: PublishContext, site: str, auth: str) -> Result:
        """After the post exists: attach its media; while a re-created post is watched,
        sweep duplicates and answer Pending."""
        details = dict(result.details)
        if ctx.state.get("wp_attached") != result.platform_id:
            problems = await self._attach(ctx, site, auth, result.platform_id)
            if problems:
                details["warning"] = "; ".join(
                    filter(None, [details.get("warning"), "media not attached"])
                )
        recreated = ctx.state.get("wp_recreated")
        if recreated:
            swept = await self._sweep(ctx, site, auth, result.platform_id)
            details["note"] = self._watch_note(ctx, swept)
            age_s = time.time() - float(recreated)
            if age_s < self._watch_s:
                return Pending(
                    result.platform_id,
                    poll_after_s=max(0.2, min(60.0, self._watch_s / 5)),
                    details={
                        **details,
                        "note": details["note"] + f"; watching for a late duplicate for "
                        f"{self._watch_s - age_s:.0f} s more",
                    },
                )
        return Published(result.platform_id, result.url, details)

    async def publish(self, post: OutboundPost, ctx: PublishContext) -> Result:
        """Put the images on the site, then create the post once (see the module docstring)."""
        state = ctx.state
        if state.get("wp_post_id"):
            site, auth = self._site(ctx.account), await self._auth(ctx)
            done = Published(
                str(state["wp_post_id"]), str(state.get("wp_link", "")), {"how": "checkpoint"}
            )
            return await self._finish(done, ctx, site, auth)
        problems = self.validate(post, ctx.account)
        if problems:
            raise PermanentFailure(" ".join(problems))
        site, auth = self._site(ctx.account), await self._auth(ctx)
        again = False
        if state.get("wp_creating"):
            found = await self._find(ctx, site, auth)
            if found is not None:
                confirmed = await self._confirm(found, ctx, "reconciled on resume")
                return await self._finish(confirmed, ctx, site, auth)
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
            again = True
        media = await self._upload_all(post, ctx, site, auth)
        created = await self._create(post, ctx, site, auth, media, again=again)
        return await self._finish(created, ctx, site, auth)

    async def _create(
        self,
        post: OutboundPost,
        ctx: PublishContext,
        site: str,
        auth: str,
        media: Mapping[str, Any],
        *,
        again: bool,
    ) -> Published:
        fields = self._fields(post, ctx, media)
        await ctx.checkpoint(wp_creating=time.time())
        if again or ctx.state.get("wp_recreated"):
            # an earlier create's outcome is still unknown: watch from this create on
            await ctx.checkpoint(wp_recreated=time.time())
        try:
            answer = await self._call("POST", f"{site}{_API}/posts", auth, json_body=fields)
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
        if 200 <= answer.status < 300:
            # A 2xx is never a refusal (e.g. a PHP notice printed before the JSON of a 201):
            # the post is probably live; find it by its marker.
            found = await self._find(ctx, site, auth)
            if found is not None:
                return await self._confirm(found, ctx, f"reconciled after {answer.describe()}")
            raise Unconfirmed(
                f"WordPress create answered {answer.describe()} and the post is not listed "
                "yet; reconcile later",
                step="create",
            )
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
        await self._raise_for(answer, ctx.account, "creating the post")

    # -- status / update / delete ---------------------------------------------------------

    async def _get_post(
        self, ctx: PublishContext, site: str, auth: str, post_id: str
    ) -> dict[str, Any]:
        """The post in edit context; PermanentFailure if it no longer exists."""
        try:
            answer = await self._call(
                "GET", f"{site}{_API}/posts/{post_id}", auth, params={"context": "edit"}
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unconfirmed(f"WordPress status check failed ({type(exc).__name__})") from None
        if answer.status == 404 and answer.code:
            raise PermanentFailure(f"WordPress post {post_id} no longer exists")
        if answer.status != 200 or not isinstance(answer.body, dict):
            if answer.status == 401:
                await self._raise_for(answer, ctx.account, "the status check")
            raise Unconfirmed(f"WordPress status check answered {answer.describe()}")
        return dict(answer.body)

    async def status(self, ctx: PublishContext) -> Result:
        """The post's status by id; without an id, a search for the job's marker."""
        site, auth = self._site(ctx.account), await self._auth(ctx)
        post_id = str(ctx.state.get("wp_post_id") or "")
        if not post_id:
            if not ctx.state.get("wp_creating"):
                raise RetryLater("nothing has been created on WordPress for this job yet", 1.0)
            found = await self._find(ctx, site, auth)
            if found is not None:
                confirmed = await self._confirm(found, ctx, "reconciled by a status check")
                return await self._finish(confirmed, ctx, site, auth)
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
        body = await self._get_post(ctx, site, auth, post_id)
        wp_status = body.get("status")
        if wp_status == "trash":
            raise PermanentFailure(f"WordPress post {post_id} is in the trash")
        result = Published(post_id, str(body.get("link", "")), {"status": wp_status})
        return await self._finish(result, ctx, site, auth)

    async def update(self, post: OutboundPost, ctx: PublishContext) -> Result:
        """Replace the published post's fields (idempotent; new images are uploaded).

        The post's status on the site is left as it is: an edit does not bring back a post
        someone moved to the trash (refused, saying so) nor publish a post held as a draft.
        """
        post_id = str(ctx.state.get("wp_post_id") or "")
        if not post_id:
            raise PermanentFailure("no WordPress post is known for this job; nothing to update")
        problems = self.validate(post, ctx.account)
        if problems:
            raise PermanentFailure(" ".join(problems))
        site, auth = self._site(ctx.account), await self._auth(ctx)
        current = await self._read_for_update(ctx, site, auth, post_id)
        if current.get("status") == "trash":
            raise PermanentFailure(
                f"WordPress post {post_id} is in the trash on the site (moved there outside the "
                "gateway); the edit would restore it, so it was not sent. Restore the post on "
                "the site first if it should come back."
            )
        media = await self._upload_all(post, ctx, site, auth)
        fields = self._fields(post, ctx, media)
        del fields["status"]
        try:
            answer = await self._call(
                "POST", f"{site}{_API}/posts/{post_id}", auth, json_body=fields
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetryLater(
                f"WordPress update failed ({type(exc).__name__}); safe to repeat", 10.0
            ) from None
        if answer.status == 200 and not isinstance(answer.body, dict):
            # saved, but the answer is not the post's JSON (a PHP notice ...): read it back
            body = await self._read_for_update(ctx, site, auth, post_id)
            answer = _Answer(200, answer.headers, body)
        if answer.status != 200 or not isinstance(answer.body, dict):
            await self._raise_for(answer, ctx.account, f"updating post {post_id}")
        result = await self._confirm(answer.body, ctx, "updated")
        problems = await self._attach(ctx, site, auth, post_id)
        if problems:
            return Published(
                result.platform_id, result.url, {**result.details, "warning": "media not attached"}
            )
        return result

    async def _read_for_update(
        self, ctx: PublishContext, site: str, auth: str, post_id: str
    ) -> dict[str, Any]:
        """The post, for an update: a read that failed is simply repeated (RetryLater), never
        Unconfirmed, which would make the pipeline reconcile an edit that was never sent."""
        try:
            return await self._get_post(ctx, site, auth, post_id)
        except Unconfirmed as exc:
            raise RetryLater(exc.reason, 10.0) from None

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
            await self._raise_for(answer, ctx.account, f"deleting post {post_id}")
        await ctx.checkpoint(wp_deleted=mode)
        return Deleted(post_id)

    # -- listing (bypass detection) --------------------------------------------------------

    def expected(self, post: OutboundPost, account: AccountRef | None = None) -> tuple[str, str]:
        """``(title, text)`` of the approved post in ``visible_text`` form: what the raw post
        holds once the job marker and the image URLs (markup only) are dropped."""
        return visible_text(post.title), visible_text(post.content)

    def _remote(self, item: Mapping[str, Any]) -> RemoteItem:
        def _raw(key: str) -> str:
            value = item.get(key)
            if isinstance(value, dict):
                raw = value.get("raw")
                return str(raw if raw is not None else value.get("rendered") or "")
            return str(value or "")

        return RemoteItem(
            platform_id=str(item.get("id")),
            title=visible_text(_raw("title")),
            text=visible_text(_raw("content")),
            url=str(item.get("link") or ""),
            published_at=_gmt_time(item.get("date_gmt")),
            updated_at=_gmt_time(item.get("modified_gmt")),
        )

    async def _read_refused(self, answer: _Answer, account: AccountRef, what: str) -> NoReturn:
        """A read that did not answer what was asked: refused credentials (401/403, or a
        ``status`` refused to a visitor) → :class:`NeedsReauthorisation`; else RetryLater."""
        if answer.status in (401, 403):
            hint = await self._visitor_hint(account) if answer.status == 401 else ""
            raise NeedsReauthorisation(
                f"WordPress refused the credentials of account {account.id!r} on {what}: "
                f"{answer.describe()}{hint}"
            )
        if answer.status == 400 and answer.code == "rest_invalid_param":
            params_info = (answer.body.get("data") or {}).get("params") or {}
            if "status" in params_info:
                raise NeedsReauthorisation(
                    f"WordPress refused the credentials of account {account.id!r} on {what}: "
                    f"{answer.describe()}" + await self._visitor_hint(account)
                )
        after_s = 30.0
        if answer.status == 429:
            try:
                after_s = float(answer.headers.get("Retry-After", "30") or 30)
            except ValueError:
                after_s = 30.0
        raise RetryLater(f"WordPress answered {answer.describe()} on {what}", after_s)

    async def _read(
        self, ctx: PublishContext, url: str, auth: str, params: Mapping[str, str], what: str
    ) -> _Answer:
        try:
            return await self._call("GET", url, auth, params=params)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RetryLater(f"WordPress {what} failed ({type(exc).__name__})", 30.0) from None

    async def recent(self, ctx: PublishContext, *, since: float, limit: int) -> list[RemoteItem]:
        """Posts (published, scheduled, private) modified at or after ``since``, most recently
        modified first, at most ``limit``; a page that fails fails the whole listing."""
        site, auth = self._site(ctx.account), await self._auth(ctx)
        if not site:
            raise RetryLater(f"WordPress account {ctx.account.id!r} has no 'base_url'", 3600.0)
        floor_s = math.floor(since)
        params = {
            "modified_after": datetime.fromtimestamp(floor_s - 1, UTC).isoformat(),
            "orderby": "modified",
            "order": "desc",
            "context": "edit",
            "status": "publish,future,private",
            "per_page": str(min(100, max(1, limit))),
        }
        items: list[RemoteItem] = []
        seen: set[str] = set()
        page, pages, first_total = 1, 1, -1
        while page <= pages:
            answer = await self._read(
                ctx, f"{site}{_API}/posts", auth, {**params, "page": str(page)}, "listing posts"
            )
            if answer.status != 200 or not isinstance(answer.body, list):
                await self._read_refused(answer, ctx.account, "listing posts")
            try:
                pages = int(answer.headers.get("X-WP-TotalPages", "1"))
                total = int(answer.headers.get("X-WP-Total", "0"))
            except ValueError:
                raise RetryLater("WordPress listing without readable X-WP-Total(Pages)") from None
            if first_total < 0:
                first_total = total
            elif total < first_total:
                raise RetryLater(
                    "WordPress listing shrank while paging (a post may have been skipped); "
                    "listing again later",
                    5.0,
                )
            if not all(isinstance(post, dict) and "id" in post for post in answer.body):
                raise RetryLater("WordPress listed a post without an id", 60.0)
            for post in answer.body:
                item = self._remote(post)
                if item.platform_id in seen or (item.updated_at and item.updated_at < floor_s):
                    continue
                seen.add(item.platform_id)
                items.append(item)
                if len(items) >= limit:
                    return items
            page += 1
        return items

    async def fetch(self, ctx: PublishContext, platform_id: str) -> RemoteItem | None:
        """The post as the site holds it now; ``None`` for a WordPress 404 or a trashed post."""
        site, auth = self._site(ctx.account), await self._auth(ctx)
        if not site:
            raise RetryLater(f"WordPress account {ctx.account.id!r} has no 'base_url'", 3600.0)
        answer = await self._read(
            ctx,
            f"{site}{_API}/posts/{quote(platform_id, safe='')}",
            auth,
            {"context": "edit"},
            f"reading post {platform_id}",
        )
        if answer.status in (404, 410) and answer.code:
            return None  # WordPress's own answer (an HTML 404 is a site problem, not "gone")
        if answer.status != 200 or not isinstance(answer.body, dict) or "id" not in answer.body:
            await self._read_refused(answer, ctx.account, f"reading post {platform_id}")
        if answer.body.get("status") == "trash":
            return None
        return self._remote(answer.body)

    async def _site_answers(self, site: str) -> bool:
        try:
            async with self._session.get(
                f"{site}/wp-json/", timeout=aiohttp.ClientTimeout(total=5.0)
            ) as resp:
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError):
            return False
        try:
            body = json.loads(raw)
        except ValueError:
            return False  # an HTML 404: the REST routes are not reachable
        if resp.status == 200:
            return isinstance(body, dict) and "wp/v2" in (body.get("namespaces") or [])
        # a site that closes its REST index to visitors still runs the REST API
        return resp.status in (401, 403) and isinstance(body, dict) and "code" in body

    # -- comments and replies (connectors/wordpress_interact.py, docs/interactions.md) -----

    interaction_kinds: ClassVar[frozenset[str]] = wordpress_interact.KINDS

    def validate_interaction(self, interaction: Interaction, account: AccountRef) -> list[str]:
        return wordpress_interact.validate(self, interaction, account)

    async def interact(self, interaction: Interaction, ctx: PublishContext) -> Published:
        return await wordpress_interact.interact(self, interaction, ctx)

    async def ping(self) -> bool:
        """True if the REST index of the default site and of every account site seen answers
        WordPress JSON (True when there is no site to ask)."""
        sites = sorted({self._base_url, *self._sites} - {""})
        answers = await asyncio.gather(*(self._site_answers(site) for site in sites))
        for site, ok in zip(sites, answers, strict=True):
            if not ok:
                logger.info("wordpress: %s/wp-json/ does not answer WordPress JSON", site)
        return all(answers)


__all__ = ["WordPressConnector", "marker", "upload_filename", "with_marker"]
