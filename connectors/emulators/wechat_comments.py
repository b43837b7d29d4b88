"""Article comment management for the WeChat emulator (图文消息留言管理, docs/interactions.md).

Installed by :func:`connectors.emulators.wechat.make_app`; it shares the emulator's tokens,
quotas, ``busy_next`` and fault switches and answers in the same errcode envelope. An article
is addressed as WeChat does, by the ``msg_data_id`` of its message and its ``index`` (from 0;
absent = 0):

* ``POST /cgi-bin/comment/open`` / ``/cgi-bin/comment/close`` -- switch comments (idempotent);
* ``POST /cgi-bin/comment/list`` (``begin``, ``count`` < 50, ``type`` 0/1/2) -- the comments with
  their ``reply``; a ``count`` of 50 or more is refused (88010);
* ``POST /cgi-bin/comment/reply/add`` (``user_comment_id``, ``content``) -- one reply per comment:
  88001 unknown message, 88000 comments not open on the article, 88008 unknown comment,
  88005 already replied, 88007 empty text or longer than ``reply_max_chars``.

Readers' comments do not come through the API; tests make them with the control routes:

* ``POST /_emulator/comments/article`` ``{"articles"?: 1, "open"?: true}`` → ``{"msg_data_id"}``;
* ``POST /_emulator/comments/user`` ``{"msg_data_id", "index"?, "content"}`` →
  ``{"user_comment_id"}``;
* ``GET /_emulator/comments`` -- every message with its articles, switches, comments and replies.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.emulators import wechat as wx

MSG_DATA_ID_BASE = 2_650_000_000  # > 2^31, as real msg_data_ids are


@dataclass
class UserComment:
    user_comment_id: int
    openid: str
    content: str
    create_time: int
    reply: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "user_comment_id": self.user_comment_id,
            "openid": self.openid,
            "create_time": self.create_time,
            "content": self.content,
            "comment_type": 0,
        }
        if self.reply is not None:
            body["reply"] = dict(self.reply)
        return body


@dataclass
class ArticleComments:
    open: bool = False
    comments: list[UserComment] = field(default_factory=list)


@dataclass
class CommentState:
    reply_max_chars: int
    messages: dict[int, list[ArticleComments]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> int:
        return next(self._ids)


COMMENTS_KEY = web.AppKey("wechat_comments", CommentState)


def _article(request: web.Request, body: dict[str, Any]) -> ArticleComments:
    state = request.app[COMMENTS_KEY]
    try:
        msg_data_id = int(body.get("msg_data_id", 0))
        index = int(body.get("index", 0) or 0)
    except (TypeError, ValueError):
        raise wx._Err(47001, "data format error") from None
    articles = state.messages.get(msg_data_id)
    if articles is None or not 0 <= index < len(articles):
        raise wx._Err(88001, "msg_data is not exists")
    return articles[index]


@wx._api("comment/open")
async def _open(request: web.Request, st: wx.WeChatState, _: str) -> web.Response:
    _article(request, await wx._json_body(request)).open = True
    return wx._ok()


@wx._api("comment/close")
async def _close(request: web.Request, st: wx.WeChatState, _: str) -> web.Response:
    _article(request, await wx._json_body(request)).open = False
    return wx._ok()


@wx._api("comment/list")
async def _list(request: web.Request, st: wx.WeChatState, _: str) -> web.Response:
    body = await wx._json_body(request)
    article = _article(request, body)
    begin, count = int(body.get("begin", 0) or 0), int(body.get("count", 0) or 0)
    if count <= 0 or count >= 50 or begin < 0:
        raise wx._Err(88010, "count range error. cout <= 0 or count > 50")
    page = article.comments[begin : begin + count]
    return wx._ok(total=len(article.comments), comment=[c.as_json() for c in page])


@wx._api("comment/reply/add")
async def _reply(request: web.Request, st: wx.WeChatState, _: str) -> web.Response:
    body = await wx._json_body(request)
    article = _article(request, body)
    if not article.open:
        raise wx._Err(88000, "without comment privilege")
    wanted = str(body.get("user_comment_id", ""))
    comment = next((c for c in article.comments if str(c.user_comment_id) == wanted), None)
    if comment is None:
        raise wx._Err(88008, "comment is not exists")
    content = str(body.get("content", ""))
    if not content.strip() or len(content) > request.app[COMMENTS_KEY].reply_max_chars:
        raise wx._Err(88007, "reply content beyond max len or content len is zero")
    if comment.reply is not None:
        raise wx._Err(88005, "already reply")
    comment.reply = {"content": content, "create_time": int(time.time())}
    st.calls["comment.replies"] += 1
    return wx._ok()


async def _new_article(request: web.Request) -> web.Response:
    body = await request.json() if request.can_read_body else {}
    state = request.app[COMMENTS_KEY]
    msg_data_id = MSG_DATA_ID_BASE + state.next_id()
    state.messages[msg_data_id] = [
        ArticleComments(open=bool(body.get("open", True)))
        for _ in range(int(body.get("articles", 1)))
    ]
    return web.json_response({"msg_data_id": msg_data_id}, status=201)


async def _new_user_comment(request: web.Request) -> web.Response:
    body = await request.json()
    try:
        article = _article(request, body)
    except wx._Err as err:
        return web.json_response({"errcode": err.errcode, "errmsg": err.errmsg}, status=404)
    comment = UserComment(
        user_comment_id=request.app[COMMENTS_KEY].next_id(),
        openid=str(body.get("openid", "o_reader")),
        content=str(body["content"]),
        create_time=int(time.time()),
    )
    article.comments.append(comment)
    return web.json_response({"user_comment_id": comment.user_comment_id}, status=201)


async def _all(request: web.Request) -> web.Response:
    state = request.app[COMMENTS_KEY]
    return web.json_response(
        [
            {
                "msg_data_id": msg_data_id,
                "articles": [
                    {"open": a.open, "comments": [c.as_json() for c in a.comments]}
                    for a in articles
                ],
            }
            for msg_data_id, articles in state.messages.items()
        ]
    )


def install(app: web.Application, *, reply_max_chars: int = 600) -> None:
    """Add comment management to a WeChat emulator app."""
    app[COMMENTS_KEY] = CommentState(reply_max_chars=reply_max_chars)
    app.router.add_post("/cgi-bin/comment/open", _open)
    app.router.add_post("/cgi-bin/comment/close", _close)
    app.router.add_post("/cgi-bin/comment/list", _list)
    app.router.add_post("/cgi-bin/comment/reply/add", _reply)
    app.router.add_post("/_emulator/comments/article", _new_article)
    app.router.add_post("/_emulator/comments/user", _new_user_comment)
    app.router.add_get("/_emulator/comments", _all)


__all__ = ["COMMENTS_KEY", "MSG_DATA_ID_BASE", "CommentState", "install"]
