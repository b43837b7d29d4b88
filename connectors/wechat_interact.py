"""WeChat article comments: reply, open, close, effectively once (docs/interactions.md).

:meth:`connectors.wechat.WeChatConnector.interact` delegates here. An article is addressed by
the ``msg_data_id`` of its message and its ``index`` (from 0).

* ``comment/open`` and ``comment/close`` set a switch: repeating them changes nothing, so a lost
  answer is simply retried (:class:`RetryLater`).
* ``comment/reply/add`` is not repeatable blindly, but WeChat allows one reply per comment
  (88005 "already reply"). The intent is checkpointed (``wechat_ix_replying``) before the call.
  A resumed job with that intent, a lost answer (retried by the pipeline) and an 88005 all read
  the comment back through ``comment/list`` first: our text there → published; another text →
  :class:`PermanentFailure` (someone replied outside the gateway); no reply → it did not land,
  and only then is it sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from connectors.base import (
    AccountRef,
    Interaction,
    PermanentFailure,
    PublishContext,
    Published,
    RetryLater,
)

if TYPE_CHECKING:
    from connectors.wechat import WeChatConnector, _Creds

logger = logging.getLogger(__name__)

KINDS = frozenset({"reply", "comments_open", "comments_close"})
#: Longest reply text the gateway sends. WeChat's documentation names no number (88007 says
#: "beyond max len"); 600 is the comment box's limit as shown to readers.
REPLY_MAX_CHARS = 600
_ALREADY_REPLIED = 88005
_PAGE = 49  # comment/list refuses count >= 50
_MAX_PAGES = 20


def validate(ix: Interaction, account: AccountRef) -> list[str]:
    problems: list[str] = []
    if ix.kind not in KINDS:
        problems.append(f"WeChat cannot {ix.kind}; it supports {', '.join(sorted(KINDS))}.")
        return problems
    if not ix.msg_data_id.isdigit():
        problems.append("WeChat addresses an article by target.msg_data_id (a number).")
    if ix.kind == "reply":
        if not ix.comment_id.isdigit():
            problems.append("a WeChat reply needs target.comment_id (the user_comment_id).")
        if not ix.text.strip():
            problems.append("a WeChat reply needs a text.")
        if len(ix.text) > REPLY_MAX_CHARS:
            problems.append(
                f"WeChat reply is {len(ix.text)} characters; the limit is {REPLY_MAX_CHARS}."
            )
    return problems


def _address(ix: Interaction) -> dict[str, int]:
    return {"msg_data_id": int(ix.msg_data_id), "index": ix.index}


async def interact(conn: WeChatConnector, ix: Interaction, ctx: PublishContext) -> Published:
    where = f"{ix.msg_data_id}:{ix.index}"
    if ctx.state.get("wechat_ix_done"):
        return Published(str(ctx.state["wechat_ix_done"]), details={"how": "checkpoint"})
    problems = validate(ix, ctx.account)
    if problems:
        raise PermanentFailure(" ".join(problems))
    creds = await conn._creds(ctx)
    if ix.kind in ("comments_open", "comments_close"):
        endpoint = "comment/open" if ix.kind == "comments_open" else "comment/close"
        await conn._call(ctx, creds, endpoint, body=_address(ix))
        await ctx.checkpoint(wechat_ix_done=where)
        return Published(where, details={"how": endpoint})
    platform_id = f"{where}:{ix.comment_id}"
    if ctx.state.get("wechat_ix_replying") and await _replied(conn, ix, ctx, creds):
        return await _confirm(platform_id, ctx, "reconciled on resume")
    await ctx.checkpoint(wechat_ix_replying=True)
    body = {**_address(ix), "user_comment_id": int(ix.comment_id), "content": ix.text}
    try:
        await conn._call(ctx, creds, "comment/reply/add", body=body)
    except PermanentFailure as exc:
        if getattr(exc, "errcode", None) != _ALREADY_REPLIED:
            raise
        if await _replied(conn, ix, ctx, creds):
            return await _confirm(platform_id, ctx, "reconciled after 88005 already reply")
        raise RetryLater("WeChat said 'already reply' but lists no reply yet", 5.0) from None
    return await _confirm(platform_id, ctx, "replied")


async def _confirm(platform_id: str, ctx: PublishContext, how: str) -> Published:
    await ctx.checkpoint(wechat_ix_done=platform_id)
    logger.info("wechat job %s: reply %s %s", ctx.job_id, platform_id, how)
    return Published(platform_id, details={"how": how})


async def _replied(
    conn: WeChatConnector, ix: Interaction, ctx: PublishContext, creds: _Creds
) -> bool:
    """True if the comment carries our reply; False if it has none; PermanentFailure if it
    carries another one."""
    comment = await _comment(conn, ix, ctx, creds)
    if comment is None:
        raise PermanentFailure(f"WeChat comment {ix.comment_id} is not listed on the article")
    reply = comment.get("reply") or {}
    content = str(reply.get("content", "")) if isinstance(reply, Mapping) else ""
    if not content:
        return False
    if content.strip() == ix.text.strip():
        return True
    raise PermanentFailure(
        f"WeChat comment {ix.comment_id} already has a different reply (made outside the gateway)"
    )


async def _comment(
    conn: WeChatConnector, ix: Interaction, ctx: PublishContext, creds: _Creds
) -> Mapping[str, Any] | None:
    for page in range(_MAX_PAGES):
        body = {**_address(ix), "begin": page * _PAGE, "count": _PAGE, "type": 0}
        data = await conn._call(ctx, creds, "comment/list", body=body)
        comments = data.get("comment") or []
        for comment in comments:
            if isinstance(comment, Mapping) and str(comment.get("user_comment_id")) == str(
                ix.comment_id
            ):
                return comment
        if len(comments) < _PAGE:
            return None
    return None


__all__ = ["KINDS", "REPLY_MAX_CHARS", "interact", "validate"]
