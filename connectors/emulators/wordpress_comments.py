"""Comments for the WordPress emulator (``/wp/v2/comments``, docs/interactions.md).

Installed by :func:`connectors.emulators.wordpress.make_app`; it shares the emulator's users,
posts, error envelope and fault switches. Like wp-core's comments controller:

* ``POST /wp/v2/comments`` (``post``, ``parent``, ``content``) as an authenticated user: a visitor
  gets 401 ``rest_comment_login_required``; an unknown post 403
  ``rest_comment_invalid_post_id``, a trashed one 403 ``rest_comment_trash_post``, an unpublished
  one 403 ``rest_comment_draft_post``, comments closed on the post 403 ``rest_comment_closed``;
  a parent that is not a comment of that post 400 ``rest_comment_invalid_parent``; empty content
  400 ``rest_comment_content_invalid``, over 65,525 bytes 400 ``comment_content_column_length``;
  the same content by the same author on the same post again 409 ``comment_duplicate``;
  201 with ``Location`` and the comment (``content.raw`` and ``content.rendered``);
* ``GET /wp/v2/comments`` (``post``, ``author``, ``parent``, ``per_page`` ≤ 100, ``page``), newest
  first, with ``X-WP-Total``.

Control routes: ``POST /_emulator/comments/status`` ``{"post", "status": "open"|"closed"}``
switches comments on a post (new posts are open); ``GET /_emulator/comments`` lists every
comment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.emulators import wordpress as wp

MAX_CONTENT_BYTES = 65_525  # wp_get_comment_fields_max_lengths(): comment_content


@dataclass
class CommentState:
    next_id: int = 1
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)


COMMENTS_KEY = web.AppKey("wordpress_comments", CommentState)


def _rendered(request: web.Request, comment: dict[str, Any]) -> dict[str, Any]:
    base = f"{request.scheme}://{request.host}"
    return {
        "id": comment["id"],
        "post": comment["post"],
        "parent": comment["parent"],
        "author": comment["author"],
        "author_name": comment["author_name"],
        "date": comment["date"],
        "content": {"rendered": wp.autop(comment["content"]), "raw": comment["content"]},
        "link": f"{base}/?p={comment['post']}#comment-{comment['id']}",
        "status": "approved",
        "type": "comment",
    }


def _int(value: Any, name: str) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise wp._WPError(
            400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: "integer"}
        ) from None


async def _create(request: web.Request) -> web.Response:
    state, comments = request.app[wp.STATE_KEY], request.app[COMMENTS_KEY]
    state.counters["comments.create"] += 1
    user = wp._user(request)
    if user is None:
        raise wp._WPError(
            401, "rest_comment_login_required", "Sorry, you must be logged in to comment."
        )
    body = await wp._json_body(request)
    post_id, parent = _int(body.get("post"), "post"), _int(body.get("parent"), "parent")
    post = state.posts.get(post_id)
    if post is None or post.get("_deleted"):
        raise wp._WPError(
            403,
            "rest_comment_invalid_post_id",
            "Sorry, you are not allowed to create this comment without a post.",
        )
    if post["status"] == "trash":
        raise wp._WPError(
            403,
            "rest_comment_trash_post",
            "Sorry, you are not allowed to create a comment on this post.",
        )
    if post["status"] != "publish":
        raise wp._WPError(
            403,
            "rest_comment_draft_post",
            "Sorry, you are not allowed to create a comment on this post.",
        )
    if post.get("comment_status", "open") != "open":
        raise wp._WPError(403, "rest_comment_closed", "Sorry, comments are closed for this item.")
    if parent and comments.comments.get(parent, {}).get("post") != post_id:
        raise wp._WPError(400, "rest_comment_invalid_parent", "Invalid parent comment ID.")
    content = wp._text(body.get("content"))
    if not content.strip():
        raise wp._WPError(400, "rest_comment_content_invalid", "Invalid comment content.")
    if len(content.encode("utf-8")) > MAX_CONTENT_BYTES:
        raise wp._WPError(
            400, "comment_content_column_length", "Comment field exceeds maximum length allowed."
        )
    author = sorted(state.users).index(user) + 1
    if any(
        c["post"] == post_id and c["author"] == author and c["content"] == content
        for c in comments.comments.values()
    ):
        raise wp._WPError(
            409,
            "comment_duplicate",
            "Duplicate comment detected; it looks as though you\u2019ve already said that!",
        )
    comment = {
        "id": comments.next_id,
        "post": post_id,
        "parent": parent,
        "author": author,
        "author_name": user,
        "date": wp._now(),
        "content": content,
    }
    comments.comments[comments.next_id] = comment
    comments.next_id += 1
    state.counters["comments.created"] += 1
    response = web.json_response(_rendered(request, comment), status=201)
    response.headers["Location"] = (
        f"{request.scheme}://{request.host}/wp-json/wp/v2/comments/{comment['id']}"
    )
    return response


async def _list(request: web.Request) -> web.Response:
    comments = request.app[COMMENTS_KEY]
    request.app[wp.STATE_KEY].counters["comments.list"] += 1
    q = request.query
    per_page, page = _int(q.get("per_page", 10), "per_page"), _int(q.get("page", 1), "page")
    if not 1 <= per_page <= 100:
        raise wp._WPError(400, "rest_invalid_param", "Invalid parameter(s): per_page")
    found = list(reversed(comments.comments.values()))
    for name in ("post", "author", "parent"):
        if name in q:
            wanted = _int(q[name], name)
            found = [c for c in found if c[name] == wanted]
    chunk = found[(max(page, 1) - 1) * per_page : max(page, 1) * per_page]
    response = web.json_response([_rendered(request, c) for c in chunk])
    response.headers["X-WP-Total"] = str(len(found))
    return response


async def _switch(request: web.Request) -> web.Response:
    body = await request.json()
    post = request.app[wp.STATE_KEY].posts[int(body["post"])]
    post["comment_status"] = "closed" if body.get("status") == "closed" else "open"
    return web.json_response({"post": post["id"], "comment_status": post["comment_status"]})


async def _all(request: web.Request) -> web.Response:
    return web.json_response(
        [_rendered(request, c) for c in request.app[COMMENTS_KEY].comments.values()]
    )


def install(app: web.Application) -> None:
    """Add ``/wp/v2/comments`` to a WordPress emulator app."""
    app[COMMENTS_KEY] = CommentState()
    app.router.add_post("/wp-json/wp/v2/comments", _create)
    app.router.add_get("/wp-json/wp/v2/comments", _list)
    app.router.add_post("/_emulator/comments/status", _switch)
    app.router.add_get("/_emulator/comments", _all)


__all__ = ["COMMENTS_KEY", "MAX_CONTENT_BYTES", "CommentState", "install"]
