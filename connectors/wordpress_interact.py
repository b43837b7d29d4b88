"""WordPress comments and replies, effectively once (docs/interactions.md).

:meth:`connectors.wordpress.WordPressConnector.interact` delegates here: one
``POST /wp/v2/comments`` with ``post``, ``parent`` (0 for a comment, the comment replied to for
a reply) and ``content``. Creating a comment is not idempotent, so, as for posts:

* the intent is checkpointed (``wp_ix_creating`` = unix time) before the call;
* a lost answer, a 5xx and WordPress's own 409 ``comment_duplicate`` are reconciled through
  ``GET /wp/v2/comments?post=&author=&parent=`` (the account's user, from ``/users/me``): our
  text there → published; not there → :class:`Unconfirmed` (a 5xx WordPress itself answered,
  with its error envelope, means nothing was inserted → :class:`RetryLater`);
* a resumed job with an intent looks in the listing first and creates again only after
  ``reconcile_grace_s`` (the site's duplicate check then refuses a repeat of one that landed).

Comments closed on the post (403 ``rest_comment_closed``), an unknown post or parent are
permanent failures.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from connectors.base import (
    AccountRef,
    Interaction,
    PermanentFailure,
    PublishContext,
    Published,
    RetryLater,
    Unconfirmed,
    visible_text,
)

if TYPE_CHECKING:
    from connectors.wordpress import WordPressConnector

logger = logging.getLogger(__name__)

KINDS = frozenset({"comment", "reply"})
MAX_CONTENT_BYTES = 65_525  # wp_get_comment_fields_max_lengths(): comment_content
_API = "/wp-json/wp/v2"


def validate(conn: WordPressConnector, ix: Interaction, account: AccountRef) -> list[str]:
    problems: list[str] = []
    if ix.kind not in KINDS:
        problems.append(f"WordPress cannot {ix.kind}; it supports {', '.join(sorted(KINDS))}.")
        return problems
    if not conn._site(account):
        problems.append(f"WordPress account {account.id!r} has no 'base_url' (site URL).")
    if not ix.platform_id.isdigit():
        problems.append("WordPress needs the post's id (target.post or target.platform_id).")
    if ix.kind == "reply" and not ix.comment_id.isdigit():
        problems.append("a WordPress reply needs target.comment_id (the parent comment's id).")
    if not ix.text.strip():
        problems.append(f"a WordPress {ix.kind} needs a text.")
    if len(ix.text.encode("utf-8")) > MAX_CONTENT_BYTES:
        problems.append(f"WordPress comments are at most {MAX_CONTENT_BYTES} bytes.")
    return problems


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", visible_text(text))


async def interact(conn: WordPressConnector, ix: Interaction, ctx: PublishContext) -> Published:
    state = ctx.state
    if state.get("wp_ix_id"):
        return Published(
            str(state["wp_ix_id"]), str(state.get("wp_ix_link", "")), {"how": "checkpoint"}
        )
    problems = validate(conn, ix, ctx.account)
    if problems:
        raise PermanentFailure(" ".join(problems))
    site, auth = conn._site(ctx.account), await conn._auth(ctx)
    if state.get("wp_ix_creating"):
        found = await _find(conn, ix, ctx, site, auth)
        if found is not None:
            return await _confirm(found, ctx, "reconciled on resume")
        age_s = time.time() - float(state["wp_ix_creating"])
        if age_s < conn._grace_s:
            raise Unconfirmed(
                f"an earlier WordPress {ix.kind} {age_s:.0f} s ago may still complete; not "
                f"creating again before {conn._grace_s:.0f} s",
                step=ix.kind,
            )
        logger.warning(
            "wordpress job %s: earlier %s not listed after %.0f s; creating (the site refuses "
            "a duplicate with 409)",
            ctx.job_id,
            ix.kind,
            age_s,
        )
    return await _create(conn, ix, ctx, site, auth)


async def _create(
    conn: WordPressConnector, ix: Interaction, ctx: PublishContext, site: str, auth: str
) -> Published:
    body = {
        "post": int(ix.platform_id),
        "parent": int(ix.comment_id) if ix.kind == "reply" else 0,
        "content": ix.text,
    }
    await ctx.checkpoint(wp_ix_creating=time.time())
    try:
        answer = await conn._call("POST", f"{site}{_API}/comments", auth, json_body=body)
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        await ctx.checkpoint(wp_ix_creating=None)
        raise RetryLater(f"WordPress unreachable ({type(exc).__name__})", 10.0) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        return await _reconcile(
            conn, ix, ctx, site, auth, f"the answer was lost ({type(exc).__name__})"
        )
    if answer.status in (200, 201) and isinstance(answer.body, dict) and "id" in answer.body:
        return await _confirm(answer.body, ctx, "created")
    if answer.status == 409 and answer.code == "comment_duplicate":
        return await _reconcile(conn, ix, ctx, site, auth, "409 comment_duplicate")
    if 200 <= answer.status < 300 or (answer.status >= 500 and not answer.code):
        return await _reconcile(conn, ix, ctx, site, auth, answer.describe())
    await ctx.checkpoint(wp_ix_creating=None)
    await conn._raise_for(answer, ctx.account, f"the {ix.kind}")


async def _confirm(item: Mapping[str, Any], ctx: PublishContext, how: str) -> Published:
    comment_id, link = str(item["id"]), str(item.get("link", ""))
    await ctx.checkpoint(wp_ix_id=comment_id, wp_ix_link=link)
    logger.info("wordpress job %s: comment %s %s", ctx.job_id, comment_id, how)
    return Published(comment_id, link, {"how": how})


async def _reconcile(
    conn: WordPressConnector,
    ix: Interaction,
    ctx: PublishContext,
    site: str,
    auth: str,
    why: str,
) -> Published:
    found = await _find(conn, ix, ctx, site, auth)
    if found is not None:
        return await _confirm(found, ctx, f"reconciled after {why}")
    raise Unconfirmed(
        f"the WordPress {ix.kind} may have been created ({why}) but it is not listed yet; "
        "reconcile later",
        step=ix.kind,
    )


async def _find(
    conn: WordPressConnector, ix: Interaction, ctx: PublishContext, site: str, auth: str
) -> Mapping[str, Any] | None:
    """Our comment in ``GET /comments?post=&author=&parent=``; Unconfirmed if unreadable."""
    try:
        me = await conn._call("GET", f"{site}{_API}/users/me", auth)
        if me.status != 200 or not isinstance(me.body, dict) or "id" not in me.body:
            if me.status == 401:
                await conn._raise_for(me, ctx.account, "reading the comments")
            raise Unconfirmed(f"WordPress /users/me answered {me.describe()}", step=ix.kind)
        params = {
            "post": ix.platform_id,
            "author": str(me.body["id"]),
            "parent": ix.comment_id if ix.kind == "reply" else "0",
            "per_page": "100",
        }
        answer = await conn._call("GET", f"{site}{_API}/comments", auth, params=params)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise Unconfirmed(
            f"the WordPress comments could not be read ({type(exc).__name__})", step=ix.kind
        ) from None
    if answer.status != 200 or not isinstance(answer.body, list):
        raise Unconfirmed(f"WordPress comments answered {answer.describe()}", step=ix.kind)
    wanted = _flat(ix.text)
    for item in answer.body:
        if not isinstance(item, dict):
            continue
        content = item.get("content") or {}
        text = str(content.get("raw") or content.get("rendered") or "")
        if _flat(text) == wanted:
            return item
    return None


__all__ = ["KINDS", "MAX_CONTENT_BYTES", "interact", "validate"]
