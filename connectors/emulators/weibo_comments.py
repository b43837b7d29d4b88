"""Comments and reposts for the Weibo emulator (docs/interactions.md).

Installed by :func:`connectors.emulators.weibo.make_app`; it shares the emulator's tokens, rate
limits, statuses and fault switches, and speaks the same wire format (form bodies with
``access_token``, the ``{"error", "error_code", "request"}`` envelope):

* ``POST /2/comments/create.json`` (``id``, ``comment``, ``comment_ori``, ``rip``): a comment on a
  status; at most ``max_chars`` in Weibo counting (20012), the same text again on the same
  status by the same user is refused (20019), an unknown or deleted status is 20101;
* ``POST /2/comments/reply.json`` (``id``, ``cid``, ``comment``, ``without_mention``, ``rip``): a
  reply to a comment of that status (an unknown comment is 20109); without ``without_mention=1``
  Weibo puts ``回复@<uid>:`` in front of the text;
* ``POST /2/statuses/repost.json`` (``id``, ``status``, ``is_comment``, ``rip``): a repost is a new
  status of the reposting user (its text at most ``max_chars``, the same repost of the same status
  again is 20019) carrying ``retweeted_status``;
* ``GET /2/comments/by_me.json`` (``count`` ≤ 200, ``page``): the user's comments, newest first;
* ``GET /2/statuses/repost_timeline.json`` (``id``, ``count``, ``page``): reposts of a status;
* ``GET /_emulator/comments``: every comment and repost, for tests to count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from connectors.emulators import weibo as wb

_COMMENT_ID_BASE = 20_000_000_000_000_000  # above 2**53, like status ids: clients use idstr
_MESSAGES = {
    20109: "Target comment does not exist!",
    20206: "Owner of the weibo only allows comments from followers!",
}


@dataclass
class Comment:
    id: int
    uid: str
    status_id: int
    text: str
    created_at: float
    reply_to: int | None = None

    def as_json(self, state: wb.WeiboState) -> dict[str, Any]:
        created = datetime.fromtimestamp(self.created_at, UTC).astimezone()
        status = next((s for s in state.statuses if s.id == self.status_id), None)
        body: dict[str, Any] = {
            "created_at": created.strftime("%a %b %d %H:%M:%S %z %Y"),
            "id": self.id,
            "idstr": str(self.id),
            "mid": str(self.id),
            "text": self.text,
            "source": '<a href="https://emulator.local" rel="nofollow">mediagate</a>',
            "user": {"id": int(self.uid), "idstr": self.uid},
            "status": status.as_json() if status else None,
        }
        if self.reply_to is not None:
            body["reply_comment"] = {"id": self.reply_to, "idstr": str(self.reply_to)}
        return body


@dataclass
class CommentState:
    comments: list[Comment] = field(default_factory=list)
    reposts: dict[int, int] = field(default_factory=dict)  # repost status id -> original id


COMMENTS_KEY = web.AppKey("weibo_comments", CommentState)


def _live_status(state: wb.WeiboState, raw_id: str) -> wb.Status:
    for status in state.statuses:
        if str(status.id) == raw_id and not status.deleted:
            return status
    raise wb._WeiboError(20101)


def _check_comment_text(state: wb.WeiboState, text: str) -> None:
    if not text.strip():
        raise wb._WeiboError(10016, message="miss required parameter (comment)")
    if wb.weibo_length(text) > state.max_chars:
        raise wb._WeiboError(
            20012,
            message=f"Text too long, please input text less than {state.max_chars} characters!",
        )


async def _form(request: web.Request) -> Any:
    return await request.post()


def _new_comment(
    request: web.Request, info: wb.TokenInfo, status: wb.Status, text: str, reply_to: int | None
) -> web.Response:
    state, comments = request.app[wb.STATE_KEY], request.app[COMMENTS_KEY]
    if any(
        c.uid == info.uid and c.status_id == status.id and c.text == text for c in comments.comments
    ):
        raise wb._WeiboError(20019)
    comment = Comment(
        id=_COMMENT_ID_BASE + len(comments.comments) + 1,
        uid=info.uid,
        status_id=status.id,
        text=text,
        created_at=time.time(),
        reply_to=reply_to,
    )
    comments.comments.append(comment)
    state.counters["comments.created"] += 1
    return web.json_response(comment.as_json(state))


async def _create(request: web.Request) -> web.Response:
    state = request.app[wb.STATE_KEY]
    state.counters["comments/create"] += 1
    form = await _form(request)
    try:
        info = wb._authorise(state, wb._token_of(request, form), request.remote)
        if not str(form.get("rip") or ""):
            raise wb._WeiboError(10016, message="miss required parameter (rip)")
        text = str(form.get("comment") or "")
        _check_comment_text(state, text)
        status = _live_status(state, str(form.get("id") or ""))
        return _new_comment(request, info, status, text, None)
    except wb._WeiboError as err:
        return wb._envelope(request, err)


async def _reply(request: web.Request) -> web.Response:
    state = request.app[wb.STATE_KEY]
    state.counters["comments/reply"] += 1
    form = await _form(request)
    try:
        info = wb._authorise(state, wb._token_of(request, form), request.remote)
        if not str(form.get("rip") or ""):
            raise wb._WeiboError(10016, message="miss required parameter (rip)")
        status = _live_status(state, str(form.get("id") or ""))
        cid = str(form.get("cid") or "")
        target = next(
            (
                c
                for c in request.app[COMMENTS_KEY].comments
                if str(c.id) == cid and c.status_id == status.id
            ),
            None,
        )
        if target is None:
            raise wb._WeiboError(20109, message=_MESSAGES[20109])
        text = str(form.get("comment") or "")
        _check_comment_text(state, text)
        if str(form.get("without_mention") or "0") != "1":
            text = f"回复@{target.uid}:{text}"
        return _new_comment(request, info, status, text, target.id)
    except wb._WeiboError as err:
        return wb._envelope(request, err)


async def _repost(request: web.Request) -> web.Response:
    state = request.app[wb.STATE_KEY]
    state.counters["statuses/repost"] += 1
    form = await _form(request)
    try:
        info = wb._authorise(state, wb._token_of(request, form), request.remote)
        if not str(form.get("rip") or ""):
            raise wb._WeiboError(10016, message="miss required parameter (rip)")
        original = _live_status(state, str(form.get("id") or ""))
        text = str(form.get("status") or "") or "转发微博"
        _check_comment_text(state, text)
        reposts = request.app[COMMENTS_KEY].reposts
        for status in state.statuses:
            if (
                reposts.get(status.id) == original.id
                and status.uid == info.uid
                and status.text == text
                and not status.deleted
            ):
                raise wb._WeiboError(20019)
        status = wb.Status(
            id=wb._ID_BASE + len(state.statuses) + 1,
            uid=info.uid,
            text=text,
            created_at=time.time(),
            rip=str(form.get("rip")),
            hidden=state.timeline_hidden,
        )
        state.statuses.append(status)
        reposts[status.id] = original.id
        state.counters["reposts.created"] += 1
        return web.json_response({**status.as_json(), "retweeted_status": original.as_json()})
    except wb._WeiboError as err:
        return wb._envelope(request, err)


def _page(request: web.Request, most: int) -> tuple[int, int]:
    count = min(max(int(request.query.get("count", "50")), 1), most)
    page = max(int(request.query.get("page", "1")), 1)
    return count, page


async def _by_me(request: web.Request) -> web.Response:
    state = request.app[wb.STATE_KEY]
    state.counters["comments/by_me"] += 1
    try:
        info = wb._authorise(state, wb._token_of(request, request.query), request.remote)
        count, page = _page(request, 200)
        mine = [c for c in reversed(request.app[COMMENTS_KEY].comments) if c.uid == info.uid]
        chunk = mine[(page - 1) * count : page * count]
        return web.json_response(
            {"comments": [c.as_json(state) for c in chunk], "total_number": len(mine)}
        )
    except ValueError:
        return wb._envelope(request, wb._WeiboError(10008, message="param error"))
    except wb._WeiboError as err:
        return wb._envelope(request, err)


async def _repost_timeline(request: web.Request) -> web.Response:
    state = request.app[wb.STATE_KEY]
    state.counters["statuses/repost_timeline"] += 1
    try:
        wb._authorise(state, wb._token_of(request, request.query), request.remote)
        original = _live_status(state, request.query.get("id", ""))
        count, page = _page(request, 200)
        reposts = request.app[COMMENTS_KEY].reposts
        found = [
            s
            for s in reversed(state.statuses)
            if reposts.get(s.id) == original.id and not s.deleted and not s.hidden
        ]
        chunk = found[(page - 1) * count : page * count]
        return web.json_response(
            {
                "reposts": [{**s.as_json(), "retweeted_status": original.as_json()} for s in chunk],
                "total_number": len(found),
            }
        )
    except ValueError:
        return wb._envelope(request, wb._WeiboError(10008, message="param error"))
    except wb._WeiboError as err:
        return wb._envelope(request, err)


async def _all(request: web.Request) -> web.Response:
    state, comments = request.app[wb.STATE_KEY], request.app[COMMENTS_KEY]
    reposts = [
        {**s.as_json(), "retweeted_id": str(comments.reposts[s.id]), "deleted": s.deleted}
        for s in state.statuses
        if s.id in comments.reposts
    ]
    return web.json_response(
        {"comments": [c.as_json(state) for c in comments.comments], "reposts": reposts}
    )


def install(app: web.Application) -> None:
    """Add the comment and repost calls to a Weibo emulator app."""
    app[COMMENTS_KEY] = CommentState()
    app.router.add_post("/2/comments/create.json", _create)
    app.router.add_post("/2/comments/reply.json", _reply)
    app.router.add_post("/2/statuses/repost.json", _repost)
    app.router.add_get("/2/comments/by_me.json", _by_me)
    app.router.add_get("/2/statuses/repost_timeline.json", _repost_timeline)
    app.router.add_get("/_emulator/comments", _all)


__all__ = ["COMMENTS_KEY", "Comment", "CommentState", "install"]
