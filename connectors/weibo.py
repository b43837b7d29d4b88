"""Weibo connector: one ``statuses/share`` call per post, reconciled through the user timeline.

The status text is composed from the approved post -- ``【title】`` + the digest (or, without a
digest, the article text shortened with "…", leaving room for a link of at least
:data:`LINK_ROOM` characters) + the account's safe-domain ``link`` -- and checked
against ``max_chars`` in :meth:`WeiboConnector.validate`, counting every character as one (Weibo
counts half-width characters as half, so a text that passes here passes there). The cover (or,
without one, the first in-article image) is sent as ``pic``; Weibo statuses carry one picture.

``statuses/share`` is not idempotent, so (reference/platforms.md §5):

* the intent is checkpointed (``weibo_sharing`` = unix time, ``weibo_text``) before the call;
* an answer lost after sending (timeout, dropped connection, a bare 502/504 from a proxy) is
  reconciled by looking for the text in ``statuses/user_timeline``; found → published, not
  found → :class:`Unconfirmed`; a Weibo error envelope or another 5xx means nothing was shared
  → :class:`RetryLater`;
* a resumed job with an intent but no id reconciles the same way; only when the timeline does
  not show the text *and* the intent is older than ``resend_grace_s`` (Weibo's 20032 lag) is the
  identical text sent again (``status`` then answers :class:`RetryLater`) -- Weibo itself
  refuses a repeat (20019/20017/20111), which is then reconciled, never retried;
* 20019/20017/20111 always mean "may already be published": timeline, else Unconfirmed;
* 20032 ("update success, server slow") is a success whose id is looked up later;
* after 20032 or a repeat code, the checkpoint ``weibo_landed`` records that Weibo has the
  status: it is then only looked for, never sent again.

Tokens (21314–21319, 21327, 21332) raise :class:`NeedsReauthorisation`: Weibo has no server-side
refresh, an admin re-runs OAuth and stores the new ``access_token`` in the vault. Rate limits
(10022/10023/10024/20016) back off to the next hour window.

Weibo cannot edit a status: ``update_mode = "refuse"`` (default) answers
:class:`PermanentFailure`; ``"repost"`` destroys the old status and shares the new text (comments
and reposts of the old status are lost, which is why it is not the default).

Bypass detection (:class:`connectors.base.Lister`, docs/bypass.md): :meth:`recent` pages the
account's own ``statuses/user_timeline`` newest first with ``count`` (at most 100) and ``max_id``
(stable while new statuses arrive), stopping at the first status created before ``since``;
:meth:`fetch` is ``statuses/show`` (20101 or a ``deleted`` status → gone). Both compare text in
:func:`listed_item` form: links removed, because Weibo rewrites them to t.cn, and a leading
``【title】`` taken as the title (a status has no title of its own). A status edited on weibo.com
keeps its ``created_at`` (``edit_at`` is its update time) and so is found by :meth:`fetch`, not
by a later :meth:`recent`. In ``"repost"`` mode an update replaces the status: the job's
platform id becomes the new status's id.

Config section keys: ``base_url``, ``timeout_s``, ``max_chars``, ``reconcile_count``,
``resend_grace_s``, ``update_mode``, ``permalink``. Account settings: ``link`` (required, on the
app's safe domain), ``rip`` (required, the end-user IP Weibo wants), ``safe_domains`` (optional
list, checked in validate). Credentials: ``access_token``.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping
from datetime import datetime
from html.parser import HTMLParser
from typing import Any, ClassVar, NoReturn
from urllib.parse import urlsplit

import aiohttp

from connectors import weibo_interact
from connectors.base import (
    AccountRef,
    Deleted,
    Image,
    Interaction,
    Limits,
    NeedsReauthorisation,
    OutboundPost,
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

_TOKEN_CODES = frozenset({21314, 21315, 21316, 21317, 21318, 21319, 21327, 21332})
_RATE_CODES = frozenset({10022, 10023, 10024, 20016})
_TRANSIENT_CODES = frozenset({10001, 10002, 10003, 10009, 10010, 10011})
_DUPLICATE_CODES = frozenset({20017, 20019, 20111})
_SLOW_SUCCESS = 20032
_NOT_FOUND = 20101
_PROXY_GAVE_UP = frozenset({502, 504})  # answered by a proxy after the request went upstream
_TOPIC_RE = re.compile(r"#[^#\s]+#")
LINK_ROOM = 64  # characters kept for the link when the article text is shortened
_TIMELINE = "/2/statuses/user_timeline.json"
_SHOW = "/2/statuses/show.json"
_URL_RE = re.compile(r"https?://[^\s<>\"']+")
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section"}
)
_SECTION_KEYS = frozenset(
    {
        "base_url",
        "timeout_s",
        "max_chars",
        "reconcile_count",
        "resend_grace_s",
        "update_mode",
        "permalink",
    }
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment: tags dropped, entities decoded, blank runs collapsed.

    No spaces are inserted between inline elements: Chinese text has none to restore.
    """
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [
        re.sub(r"[ \t\r\f\v\u3000]+", " ", line).strip()
        for line in "".join(parser.parts).split("\n")
    ]
    return "\n".join(line for line in lines if line)


def _weibo_error(body: Any) -> tuple[int, str] | None:
    """(code, message) of a Weibo error envelope; the code may arrive as int or string."""
    if isinstance(body, dict) and "error_code" in body:
        try:
            return int(body["error_code"]), str(body.get("error", ""))
        except (TypeError, ValueError):
            return -1, str(body.get("error", ""))
    return None


def _comparable(text: str) -> str:
    """Text as compared for reconciliation: Weibo rewrites links (t.cn) and may trim spaces."""
    return re.sub(r"\s+", "", _URL_RE.sub("", text))


def listed_text(text: str) -> str:
    """A status text as the bypass reconciler compares it: links removed (Weibo stores every
    link as a t.cn short link), then :func:`connectors.base.visible_text`."""
    return visible_text(_URL_RE.sub("", text))


def listed_item(text: str) -> tuple[str, str]:
    """``(title, text)`` of a status as the reconciler compares it: a leading ``【title】`` (how
    the gateway composes a status, and how Chinese newsrooms title one) is taken as the title,
    the rest in :func:`listed_text` form is the text."""
    shown = listed_text(text)
    if shown.startswith("【") and "】" in shown:
        title, _, rest = shown[1:].partition("】")
        if title.strip():
            return title.strip(), rest.strip()
    return "", shown


def _weibo_time(value: Any) -> float:
    """Epoch seconds of Weibo's ``created_at`` (``Tue May 31 17:46:55 +0800 2011``); 0 if not."""
    try:
        return datetime.strptime(str(value), "%a %b %d %H:%M:%S %z %Y").timestamp()
    except ValueError:
        return 0.0


def _next_window_s() -> float:
    return max(60.0, 3600.0 - time.time() % 3600.0)


class WeiboConnector:
    """Publishes a post as one Weibo status (see the module docstring for the rules)."""

    platform: ClassVar[str] = "weibo"
    limits: ClassVar[Limits] = Limits(
        image_max_bytes=5 * 1024 * 1024 - 1,
        image_types=("image/jpeg", "image/png", "image/gif"),
        requires_title=False,
    )
    asynchronous: ClassVar[bool] = False

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base_url: str = "https://api.weibo.com",
        timeout_s: float = 15.0,
        max_chars: int = 140,
        reconcile_count: int = 50,
        resend_grace_s: float = 300.0,
        update_mode: str = "refuse",
        permalink: str = "https://weibo.com/{uid}/{id}",
    ) -> None:
        if update_mode not in ("refuse", "repost"):
            raise ValueError(
                f"weibo: update_mode must be 'refuse' or 'repost', not {update_mode!r}"
            )
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self.max_chars = max_chars
        self._reconcile_count = reconcile_count
        self._resend_grace_s = resend_grace_s
        self._update_mode = update_mode
        self._permalink = permalink

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], *, session: aiohttp.ClientSession
    ) -> WeiboConnector:
        """Build from the ``[connectors.weibo]`` section; an unknown key is an error naming it."""
        reject_unknown_keys("weibo", section, _SECTION_KEYS)
        return cls(session=session, **dict(section))

    # -- composition and validation -------------------------------------------------------

    def compose(self, post: OutboundPost, account: AccountRef) -> str:
        """The status text for ``post``: 【title】summary link (see the module docstring)."""
        link = str(account.settings.get("link", "")).strip()
        head = f"【{post.title.strip()}】" if post.title.strip() else ""
        tail = f" {link}" if link else ""
        if post.digest.strip():
            return f"{head}{post.digest.strip()}{tail}"
        body = html_to_text(post.content).replace("\n", " ")
        # room for a link of up to LINK_ROOM characters is kept whatever the account's link, so
        # the shortened text does not depend on the account (the bypass listing compares it
        # with expected(post), which knows no account)
        room = self.max_chars - len(head) - max(len(tail), 1 + LINK_ROOM)
        if len(body) > room:
            body = body[: max(0, room - 1)].rstrip() + "…"
        return f"{head}{body}{tail}"

    def _pic(self, post: OutboundPost) -> Image | None:
        if post.cover is not None:
            return post.cover
        return post.images[0] if post.images else None

    def validate(self, post: OutboundPost, account: AccountRef) -> list[str]:
        """Problems that would make Weibo refuse the status, each a readable sentence."""
        problems: list[str] = []
        link = str(account.settings.get("link", "")).strip()
        host = (urlsplit(link).hostname or "").lower() if link else ""
        if not link:
            problems.append(
                f"Weibo account {account.id!r} has no 'link' setting; every Weibo status must "
                "contain a link on the app's safe domain."
            )
        elif urlsplit(link).scheme not in ("http", "https") or not host:
            problems.append(f"Weibo account {account.id!r}: 'link' {link!r} is not an http(s) URL.")
        safe = [str(d).lower() for d in account.settings.get("safe_domains", ())]
        if host and safe and not any(host == d or host.endswith("." + d) for d in safe):
            problems.append(
                f"Weibo link host {host!r} is not on the app's safe domain(s) {', '.join(safe)}."
            )
        if not str(account.settings.get("rip", "")).strip():
            problems.append(f"Weibo account {account.id!r} has no 'rip' setting (the end-user IP).")
        text = self.compose(post, account)
        if len(text) > self.max_chars:
            problems.append(
                f"Weibo status is {len(text)} characters (title + digest + link); the limit is "
                f"{self.max_chars}. Shorten the title or digest."
            )
        topic = _TOPIC_RE.search(text)
        if topic:
            problems.append(f"Weibo statuses must not contain #topic# words: {topic.group(0)!r}.")
        # only one picture is sent (the cover, else the first image), but every image is part of
        # the approved post and is checked, so a bad file is reported before anything is sent
        limits = self.limits
        for image in ([post.cover] if post.cover else []) + list(post.images):
            if image.content_type not in limits.image_types:
                problems.append(
                    f"Weibo accepts JPEG, PNG or GIF pictures; {image.filename} is "
                    f"{image.content_type}."
                )
            if limits.image_max_bytes is not None and len(image.data) > limits.image_max_bytes:
                problems.append(
                    f"Weibo pictures must be under 5 MB; {image.filename} is "
                    f"{len(image.data)} bytes."
                )
        return problems

    # -- HTTP -----------------------------------------------------------------------------

    async def _token(self, ctx: PublishContext) -> str:
        creds = await ctx.credentials()
        token = creds.get("access_token", "")
        if not token:
            raise NeedsReauthorisation(
                f"Weibo account {ctx.account.id!r} has no 'access_token' in the vault."
            )
        return token

    def _permalink_of(self, status: Mapping[str, Any]) -> str:
        user = status.get("user") or {}
        uid = str(user.get("idstr") or user.get("id") or "")
        return self._permalink.format(uid=uid, id=str(status.get("idstr") or status.get("id")))

    def _raise_for(self, code: int, message: str, account: AccountRef, what: str) -> None:
        """Turn a Weibo error code into the delivery outcome (never returns)."""
        if code in _TOKEN_CODES:
            raise NeedsReauthorisation(
                f"Weibo rejected the access token of account {account.id!r} ({code} {message}); "
                "an admin must re-authorise the account and store the new token in the vault."
            )
        if code in _RATE_CODES:
            raise RetryLater(f"Weibo rate limit on {what} ({code} {message})", _next_window_s())
        if code in _TRANSIENT_CODES:
            raise RetryLater(f"Weibo is busy ({code} {message}) on {what}", 30.0)
        raise PermanentFailure(f"Weibo refused {what}: {code} {message}")

    async def _get(self, path: str, token: str, params: dict[str, str]) -> tuple[int, Any]:
        """GET with the token in the ``Authorization: OAuth2`` header (Weibo's second documented
        way), not the query string: URLs end up in access logs, headers do not."""
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        headers = {"Authorization": f"OAuth2 {token}"}
        url = self._base_url + path
        async with self._session.get(url, params=params, headers=headers, timeout=timeout) as resp:
            return resp.status, await resp.json(content_type=None)

    async def _timeline_match(
        self, token: str, text: str, ctx: PublishContext
    ) -> Mapping[str, Any] | None:
        """The status of the account's recent timeline with ``text``; Unconfirmed if unreadable."""
        try:
            http_status, body = await self._get(
                "/2/statuses/user_timeline.json",
                token,
                {"count": str(self._reconcile_count)},
            )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise Unconfirmed(
                f"Weibo share may have been applied; the timeline could not be read to check "
                f"({type(exc).__name__})",
                step="share",
            ) from None
        error = _weibo_error(body)
        if error is not None:
            if error[0] in _TOKEN_CODES:
                self._raise_for(*error, ctx.account, "reading the timeline")
            raise Unconfirmed(
                f"Weibo share may have been applied; timeline answered {error[0]} {error[1]}",
                step="share",
            )
        if http_status != 200 or not isinstance(body, dict):
            raise Unconfirmed(
                f"Weibo share may have been applied; timeline answered HTTP {http_status}",
                step="share",
            )
        wanted = _comparable(text)
        for status in body.get("statuses") or []:
            if _comparable(str(status.get("text", ""))) == wanted:
                return dict(status)
        return None

    async def _confirm(self, status: Mapping[str, Any], ctx: PublishContext, how: str) -> Published:
        platform_id = str(status.get("idstr") or status.get("id"))
        url = self._permalink_of(status)
        await ctx.checkpoint(weibo_id=platform_id, weibo_url=url)
        logger.info("weibo job %s: status %s %s", ctx.job_id, platform_id, how)
        return Published(platform_id=platform_id, url=url, details={"how": how})

    async def _reconcile(
        self, token: str, text: str, ctx: PublishContext, why: str, *, landed: bool = False
    ) -> Published:
        """Find the shared text in the timeline, else :class:`Unconfirmed`. ``landed`` = Weibo
        itself said the status exists (20032, 20019...): recorded so it is never sent again."""
        found = await self._timeline_match(token, text, ctx)
        if found is not None:
            return await self._confirm(found, ctx, f"reconciled after {why}")
        if landed:
            await ctx.checkpoint(weibo_landed=why)
        raise Unconfirmed(
            f"Weibo share may have been applied ({why}) but the status is not in the last "
            f"{self._reconcile_count} of the account's timeline yet; reconcile later",
            step="share",
        )

    # -- publish --------------------------------------------------------------------------

    async def publish(self, post: OutboundPost, ctx: PublishContext) -> Result:
        """Share the status once; resume from the checkpoints of an earlier attempt."""
        state = ctx.state
        if state.get("weibo_id"):
            return Published(
                str(state["weibo_id"]), str(state.get("weibo_url", "")), {"how": "checkpoint"}
            )
        problems = self.validate(post, ctx.account)
        if problems:
            raise PermanentFailure(" ".join(problems))
        # a resumed job keeps the text it sent first: an identical resend is what lets Weibo's
        # duplicate rule (20019) catch a status that did land
        text = str(state.get("weibo_text") or "") or self.compose(post, ctx.account)
        token = await self._token(ctx)
        resend = False
        if state.get("weibo_sharing"):
            found = await self._timeline_match(token, text, ctx)
            if found is not None:
                return await self._confirm(found, ctx, "reconciled on resume")
            age_s = time.time() - float(state["weibo_sharing"])
            if state.get("weibo_landed"):
                raise Unconfirmed(
                    f"Weibo confirmed the status exists ({state['weibo_landed']}) but it is not "
                    "in the timeline yet; it is never sent again",
                    step="share",
                )
            if age_s < self._resend_grace_s:
                raise Unconfirmed(
                    f"an earlier Weibo share {age_s:.0f} s ago may still appear (Weibo may lag "
                    f"up to minutes); not resending before {self._resend_grace_s:.0f} s",
                    step="share",
                )
            resend = True
            logger.warning(
                "weibo job %s: earlier share not in the timeline after %.0f s; resending the "
                "identical text (Weibo refuses a repeat with 20019)",
                ctx.job_id,
                age_s,
            )
        return await self._share(post, text, token, ctx, resend=resend)

    async def _share(
        self, post: OutboundPost, text: str, token: str, ctx: PublishContext, *, resend: bool
    ) -> Published:
        form = aiohttp.FormData()
        form.add_field("access_token", token)
        form.add_field("status", text)
        form.add_field("rip", str(ctx.account.settings.get("rip", "")))
        pic = self._pic(post)
        if pic is not None:
            form.add_field("pic", pic.data, filename=pic.filename, content_type=pic.content_type)
        await ctx.checkpoint(weibo_sharing=time.time(), weibo_text=text)
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        try:
            async with self._session.post(
                self._base_url + "/2/statuses/share.json", data=form, timeout=timeout
            ) as resp:
                http_status = resp.status
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            await ctx.checkpoint(weibo_sharing=None)
            raise RetryLater(f"Weibo unreachable ({type(exc).__name__})", 10.0) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            logger.warning("weibo job %s: share answer lost (%s)", ctx.job_id, type(exc).__name__)
            return await self._reconcile(
                token, text, ctx, f"the answer was lost ({type(exc).__name__})"
            )
        error = _weibo_error(body)
        if error is None and http_status == 200 and isinstance(body, dict) and body.get("id"):
            return await self._confirm(body, ctx, "shared")
        if error is None:
            if http_status in _PROXY_GAVE_UP:
                # a proxy stopped waiting; Weibo behind it may still have shared the status
                return await self._reconcile(token, text, ctx, f"HTTP {http_status} from a proxy")
            await ctx.checkpoint(weibo_sharing=None)
            raise RetryLater(f"Weibo answered HTTP {http_status} without a status", 30.0)
        code, message = error
        if code == _SLOW_SUCCESS:
            why = "20032 (accepted, server slow)"
            return await self._reconcile(token, text, ctx, why, landed=True)
        if code in _DUPLICATE_CODES:
            why = f"{code} repeat content" + (" on a resend" if resend else "")
            return await self._reconcile(token, text, ctx, why, landed=True)
        await ctx.checkpoint(weibo_sharing=None)
        self._raise_for(code, message, ctx.account, "the status")
        raise AssertionError("unreachable")  # pragma: no cover

    # -- status / delete / update ---------------------------------------------------------

    async def status(self, ctx: PublishContext) -> Result:
        """Where the job's status stands: ``statuses/show`` by id, else the timeline by text."""
        state = ctx.state
        if state.get("weibo_deleted"):
            raise PermanentFailure("the Weibo status was deleted through the gateway")
        token = await self._token(ctx)
        platform_id = str(state.get("weibo_id") or "")
        if not platform_id:
            if not state.get("weibo_sharing") or not state.get("weibo_text"):
                raise RetryLater("nothing has been shared on Weibo for this job yet", 1.0)
            found = await self._timeline_match(token, str(state["weibo_text"]), ctx)
            if found is not None:
                return await self._confirm(found, ctx, "reconciled by a status check")
            age_s = time.time() - float(state["weibo_sharing"])
            if age_s >= self._resend_grace_s and not state.get("weibo_landed"):
                # established: the share did not take effect; publish() may send it again
                raise RetryLater(
                    f"the Weibo share of {age_s:.0f} s ago is not in the timeline; share again "
                    "(Weibo refuses an identical repeat with 20019)",
                    1.0,
                )
            raise Unconfirmed(
                f"the Weibo share of {age_s:.0f} s ago is not in the timeline yet", step="share"
            )
        try:
            http_status, body = await self._get("/2/statuses/show.json", token, {"id": platform_id})
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise Unconfirmed(f"Weibo statuses/show failed ({type(exc).__name__})") from None
        error = _weibo_error(body)
        if error is not None:
            if error[0] == _NOT_FOUND:
                raise PermanentFailure(f"Weibo status {platform_id} no longer exists")
            if error[0] in _TOKEN_CODES:
                self._raise_for(*error, ctx.account, "the status check")
            raise Unconfirmed(f"Weibo statuses/show answered {error[0]} {error[1]}")
        if http_status != 200 or not isinstance(body, dict):
            raise Unconfirmed(f"Weibo statuses/show answered HTTP {http_status}")
        return Published(platform_id, self._permalink_of(body), {"how": "show"})

    async def delete(self, ctx: PublishContext) -> Deleted:
        """Destroy the status; one that is already gone counts as deleted."""
        token = await self._token(ctx)
        platform_id = str(ctx.state.get("weibo_id") or "")
        if not platform_id and ctx.state.get("weibo_text"):
            found = await self._timeline_match(token, str(ctx.state["weibo_text"]), ctx)
            platform_id = str(found.get("idstr") or found.get("id")) if found else ""
        if not platform_id:
            raise PermanentFailure("no Weibo status is known for this job; nothing to delete")
        await self._destroy(token, platform_id, ctx)
        await ctx.checkpoint(weibo_deleted=True)
        return Deleted(platform_id)

    async def _destroy(self, token: str, platform_id: str, ctx: PublishContext) -> None:
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        try:
            async with self._session.post(
                self._base_url + "/2/statuses/destroy.json",
                data={"access_token": token, "id": platform_id},
                timeout=timeout,
            ) as resp:
                http_status = resp.status
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            # destroy is idempotent (a repeat answers 20101, treated as done): safe to retry
            raise RetryLater(f"Weibo destroy failed ({type(exc).__name__})", 10.0) from None
        error = _weibo_error(body)
        if error is not None and error[0] != _NOT_FOUND:
            self._raise_for(*error, ctx.account, "deleting the status")
        if error is None and http_status != 200:
            raise RetryLater(f"Weibo destroy answered HTTP {http_status}", 30.0)

    async def update(self, post: OutboundPost, ctx: PublishContext) -> Result:
        """Weibo cannot edit: refuse, or (``update_mode = "repost"``) destroy and share anew."""
        if self._update_mode == "refuse":
            raise PermanentFailure(
                "Weibo cannot edit a published status; delete it and publish the new version "
                "(or configure update_mode = 'repost')"
            )
        old_id = str(ctx.state.get("weibo_id") or "")
        if old_id:
            problems = self.validate(post, ctx.account)
            if problems:
                raise PermanentFailure(" ".join(problems))
            await self._destroy(await self._token(ctx), old_id, ctx)
            await ctx.checkpoint(
                weibo_replaced=old_id,
                weibo_id=None,
                weibo_url=None,
                weibo_sharing=None,
                weibo_text=None,
            )
        return await self.publish(post, ctx)

    # -- comments, replies, reposts (connectors/weibo_interact.py, docs/interactions.md) ---

    interaction_kinds: ClassVar[frozenset[str]] = weibo_interact.KINDS

    def validate_interaction(self, interaction: Interaction, account: AccountRef) -> list[str]:
        return weibo_interact.validate(self, interaction, account)

    async def interact(self, interaction: Interaction, ctx: PublishContext) -> Published:
        return await weibo_interact.interact(self, interaction, ctx)

    # -- listing (bypass detection) --------------------------------------------------------

    def expected(self, post: OutboundPost, account: AccountRef | None = None) -> tuple[str, str]:
        """``(title, text)`` Weibo shows for ``post``: the composed status in :func:`listed_item`
        form (``【title】`` split off, links removed). Without a digest the article text is
        shortened to leave room for a link of :data:`LINK_ROOM` characters, so the account is
        needed only when its link is longer than that."""
        acct = account or AccountRef(id="", platform=self.platform, name="")
        return listed_item(self.compose(post, acct))

    def _remote(self, status: Mapping[str, Any]) -> RemoteItem:
        published = _weibo_time(status.get("created_at"))
        title, text = listed_item(str(status.get("text") or ""))
        return RemoteItem(
            platform_id=str(status.get("idstr") or status.get("id")),
            title=title,
            text=text,
            url=self._permalink_of(status),
            published_at=published,
            updated_at=_weibo_time(status.get("edit_at")) or published,
        )

    def _listing_outcome(self, error: tuple[int, str], account: AccountRef, what: str) -> NoReturn:
        """A Weibo error on a read: token → NeedsReauthorisation, anything else RetryLater."""
        code, message = error
        if code in _TOKEN_CODES or code in _RATE_CODES:
            self._raise_for(code, message, account, what)
        raise RetryLater(f"Weibo answered {code} {message} on {what}", 60.0)

    async def _read(
        self, ctx: PublishContext, token: str, path: str, params: dict[str, str], what: str
    ) -> tuple[Mapping[str, Any] | None, tuple[int, str] | None]:
        """(body, None) of a successful read, (None, error) of a Weibo error envelope."""
        try:
            http_status, body = await self._get(path, token, params)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise RetryLater(f"Weibo {what} failed ({type(exc).__name__})", 30.0) from None
        error = _weibo_error(body)
        if error is not None:
            return None, error
        if http_status != 200 or not isinstance(body, dict):
            raise RetryLater(f"Weibo {what} answered HTTP {http_status}", 30.0)
        return body, None

    async def recent(self, ctx: PublishContext, *, since: float, limit: int) -> list[RemoteItem]:
        """The account's statuses created at or after ``since``, newest first, at most
        ``limit``; a page that fails fails the whole listing (never a partial list)."""
        token = await self._token(ctx)
        per_page = min(100, max(1, limit))
        floor_s = math.floor(since)  # created_at has whole seconds
        items: list[RemoteItem] = []
        max_id = 0
        for _page in range(math.ceil(limit / per_page) + 1):
            params = {"count": str(per_page)}
            if max_id:
                params["max_id"] = str(max_id)
            body, error = await self._read(ctx, token, _TIMELINE, params, f"GET {_TIMELINE}")
            if error is not None:
                self._listing_outcome(error, ctx.account, f"GET {_TIMELINE}")
            statuses = (body or {}).get("statuses") or []
            if not isinstance(statuses, list) or not all(
                isinstance(s, dict) and (s.get("idstr") or s.get("id")) for s in statuses
            ):
                raise RetryLater(f"Weibo GET {_TIMELINE} answered a status without an id", 60.0)
            for status in statuses:
                item = self._remote(status)
                if item.published_at and item.published_at < floor_s:
                    return items
                items.append(item)
                if len(items) >= limit:
                    return items
            if len(statuses) < per_page:
                return items
            try:
                max_id = min(int(s.get("idstr") or s.get("id")) for s in statuses) - 1
            except ValueError:
                raise RetryLater(f"Weibo GET {_TIMELINE} answered a non-numeric id", 60.0) from None
        raise RetryLater("Weibo timeline did not end within its pages; listing again later", 60.0)

    async def fetch(self, ctx: PublishContext, platform_id: str) -> RemoteItem | None:
        """The status as Weibo shows it now, ``None`` when Weibo says it is gone."""
        token = await self._token(ctx)
        what = f"GET {_SHOW} of {platform_id}"
        body, error = await self._read(ctx, token, _SHOW, {"id": platform_id}, what)
        if error is not None:
            if error[0] == _NOT_FOUND:
                return None
            self._listing_outcome(error, ctx.account, what)
        assert body is not None
        if str(body.get("deleted", "")) in ("1", "true", "True"):
            return None  # Weibo answers some deleted statuses with a stub marked "deleted"
        if not (body.get("idstr") or body.get("id")):
            raise RetryLater("Weibo statuses/show answered without a status", 30.0)
        return self._remote(body)

    async def ping(self) -> bool:
        """True if the Weibo API answers at all (no token is used)."""
        try:
            async with self._session.get(
                self._base_url + "/2/statuses/show.json",
                timeout=aiohttp.ClientTimeout(total=min(self._timeout_s, 5.0)),
            ) as resp:
                await resp.read()
                return resp.status < 500
        except (aiohttp.ClientError, TimeoutError):
            return False


__all__ = ["WeiboConnector", "html_to_text", "listed_item", "listed_text"]
