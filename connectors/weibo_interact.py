"""Weibo comments, replies and reposts, effectively once (docs/interactions.md).

:meth:`connectors.weibo.WeiboConnector.interact` delegates here. None of the three calls is
idempotent, so they follow the rules of ``statuses/share``:

* the intent is checkpointed (``weibo_ix_sending`` = unix time) before the call;
* an answer lost after sending (timeout, dropped connection, a bare 502/504) and Weibo's repeat
  code 20019 are reconciled through the listing -- ``comments/by_me`` for a comment or reply
  (our text on the target status), ``statuses/repost_timeline`` of the target for a repost --
  found → published, not found → :class:`Unconfirmed`;
* a resumed job with an intent but no id looks in the listing first; only when the call is not
  there *and* the intent is older than ``resend_grace_s`` is it sent again (Weibo's own 20019
  then catches one that landed late);
* any other error envelope or 5xx means nothing was created: the intent is cleared and the
  outcome is the one ``statuses/share`` would have (token, rate limit, busy, refused).

Replies are sent with ``without_mention=1`` so the text on Weibo is exactly the approved text.
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
)

if TYPE_CHECKING:
    from connectors.weibo import WeiboConnector

logger = logging.getLogger(__name__)

KINDS = frozenset({"comment", "reply", "repost"})
_DUPLICATE = 20019
_PROXY_GAVE_UP = frozenset({502, 504})
_ENDPOINTS = {
    "comment": "/2/comments/create.json",
    "reply": "/2/comments/reply.json",
    "repost": "/2/statuses/repost.json",
}
_LISTING_COUNT = 100


def _error(body: Any) -> tuple[int, str] | None:
    if isinstance(body, dict) and "error_code" in body:
        try:
            return int(body["error_code"]), str(body.get("error", ""))
        except (TypeError, ValueError):
            return -1, str(body.get("error", ""))
    return None


def _same(a: str, b: str) -> bool:
    return re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b)


def validate(conn: WeiboConnector, ix: Interaction, account: AccountRef) -> list[str]:
    problems: list[str] = []
    if ix.kind not in KINDS:
        problems.append(f"Weibo cannot {ix.kind}; it supports {', '.join(sorted(KINDS))}.")
        return problems
    if not ix.platform_id:
        problems.append("Weibo needs the status to act on (target.post or target.platform_id).")
    if ix.kind == "reply" and not ix.comment_id:
        problems.append("a Weibo reply needs target.comment_id (the comment replied to).")
    if not ix.text.strip():
        problems.append(f"a Weibo {ix.kind} needs a text.")
    if len(ix.text) > conn.max_chars:
        problems.append(
            f"Weibo {ix.kind} text is {len(ix.text)} characters; the limit is {conn.max_chars}."
        )
    if not str(account.settings.get("rip", "")).strip():
        problems.append(f"Weibo account {account.id!r} has no 'rip' setting (the end-user IP).")
    return problems


async def interact(conn: WeiboConnector, ix: Interaction, ctx: PublishContext) -> Published:
    state = ctx.state
    if state.get("weibo_ix_id"):
        return Published(str(state["weibo_ix_id"]), details={"how": "checkpoint"})
    problems = validate(conn, ix, ctx.account)
    if problems:
        raise PermanentFailure(" ".join(problems))
    token = await conn._token(ctx)
    if state.get("weibo_ix_sending"):
        found = await _find(conn, ix, token, ctx)
        if found is not None:
            return await _confirm(found, ctx, "reconciled on resume")
        age_s = time.time() - float(state["weibo_ix_sending"])
        if state.get("weibo_ix_landed"):
            raise Unconfirmed(
                f"Weibo said the {ix.kind} exists ({state['weibo_ix_landed']}) but it is not "
                "listed yet; it is never sent again",
                step=ix.kind,
            )
        if age_s < conn._resend_grace_s:
            raise Unconfirmed(
                f"an earlier Weibo {ix.kind} {age_s:.0f} s ago may still appear; not resending "
                f"before {conn._resend_grace_s:.0f} s",
                step=ix.kind,
            )
        logger.warning(
            "weibo job %s: earlier %s not listed after %.0f s; sending the identical text again "
            "(Weibo refuses a repeat with 20019)",
            ctx.job_id,
            ix.kind,
            age_s,
        )
    return await _send(conn, ix, token, ctx)


def _form(ix: Interaction, token: str, account: AccountRef) -> dict[str, str]:
    form = {"access_token": token, "id": ix.platform_id, "rip": str(account.settings.get("rip"))}
    if ix.kind == "repost":
        form.update(status=ix.text, is_comment="0")
    else:
        form.update(comment=ix.text, comment_ori="0")
    if ix.kind == "reply":
        form.update(cid=ix.comment_id, without_mention="1")
    return form


async def _send(
    conn: WeiboConnector, ix: Interaction, token: str, ctx: PublishContext
) -> Published:
    await ctx.checkpoint(weibo_ix_sending=time.time())
    timeout = aiohttp.ClientTimeout(total=conn._timeout_s)
    try:
        async with conn._session.post(
            conn._base_url + _ENDPOINTS[ix.kind],
            data=_form(ix, token, ctx.account),
            timeout=timeout,
        ) as resp:
            http_status = resp.status
            try:
                body = await resp.json(content_type=None)
            except ValueError:
                body = None
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        await ctx.checkpoint(weibo_ix_sending=None)
        raise RetryLater(f"Weibo unreachable ({type(exc).__name__})", 10.0) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        logger.warning("weibo job %s: %s answer lost (%s)", ctx.job_id, ix.kind, type(exc).__name__)
        return await _reconcile(conn, ix, token, ctx, f"the answer was lost ({type(exc).__name__})")
    error = _error(body)
    if error is None and http_status == 200 and isinstance(body, dict) and body.get("id"):
        return await _confirm(body, ctx, "created")
    if error is None:
        if http_status in _PROXY_GAVE_UP:
            return await _reconcile(conn, ix, token, ctx, f"HTTP {http_status} from a proxy")
        await ctx.checkpoint(weibo_ix_sending=None)
        raise RetryLater(f"Weibo answered HTTP {http_status} to the {ix.kind}", 30.0)
    if error[0] == _DUPLICATE:
        return await _reconcile(conn, ix, token, ctx, "20019 repeat content", landed=True)
    await ctx.checkpoint(weibo_ix_sending=None)
    conn._raise_for(*error, ctx.account, f"the {ix.kind}")
    raise AssertionError("unreachable")  # pragma: no cover


async def _confirm(item: Mapping[str, Any], ctx: PublishContext, how: str) -> Published:
    platform_id = str(item.get("idstr") or item.get("id"))
    await ctx.checkpoint(weibo_ix_id=platform_id)
    logger.info("weibo job %s: %s %s", ctx.job_id, platform_id, how)
    return Published(platform_id, details={"how": how})


async def _reconcile(
    conn: WeiboConnector,
    ix: Interaction,
    token: str,
    ctx: PublishContext,
    why: str,
    *,
    landed: bool = False,
) -> Published:
    found = await _find(conn, ix, token, ctx)
    if found is not None:
        return await _confirm(found, ctx, f"reconciled after {why}")
    if landed:
        await ctx.checkpoint(weibo_ix_landed=why)
    raise Unconfirmed(
        f"the Weibo {ix.kind} may have been created ({why}) but it is not listed yet; "
        "reconcile later",
        step=ix.kind,
    )


async def _find(
    conn: WeiboConnector, ix: Interaction, token: str, ctx: PublishContext
) -> Mapping[str, Any] | None:
    """Our comment/reply in ``comments/by_me``, our repost in the target's repost timeline."""
    if ix.kind == "repost":
        path, params, key = (
            "/2/statuses/repost_timeline.json",
            {"id": ix.platform_id, "count": str(_LISTING_COUNT)},
            "reposts",
        )
    else:
        path, params, key = "/2/comments/by_me.json", {"count": str(_LISTING_COUNT)}, "comments"
    try:
        http_status, body = await conn._get(path, token, params)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise Unconfirmed(
            f"the Weibo {ix.kind} may have been created; {path} could not be read "
            f"({type(exc).__name__})",
            step=ix.kind,
        ) from None
    error = _error(body)
    if error is not None:
        if error[0] in (21314, 21315, 21316, 21317, 21318, 21319, 21327, 21332):
            conn._raise_for(*error, ctx.account, f"reading {path}")
        raise Unconfirmed(
            f"the Weibo {ix.kind} may have been created; {path} answered {error[0]} {error[1]}",
            step=ix.kind,
        )
    if http_status != 200 or not isinstance(body, dict):
        raise Unconfirmed(
            f"the Weibo {ix.kind} may have been created; {path} answered HTTP {http_status}",
            step=ix.kind,
        )
    for item in body.get(key) or []:
        if not isinstance(item, dict) or not _same(str(item.get("text", "")), ix.text):
            continue
        if ix.kind == "repost":
            return dict(item)
        status = item.get("status") or {}
        if str(status.get("idstr") or status.get("id")) != ix.platform_id:
            continue
        if ix.kind == "reply":
            parent = item.get("reply_comment") or {}
            if str(parent.get("idstr") or parent.get("id")) != ix.comment_id:
                continue
        return dict(item)
    return None


__all__ = ["KINDS", "interact", "validate"]
