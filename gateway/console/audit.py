"""The audit log for auditors: searchable by post and by person, with chain verification."""

from __future__ import annotations

import collections
import json
from typing import Any

from aiohttp import web

from gateway.audit import read_anchor_file
from gateway.console.context import page, services
from gateway.settings import anchor_path

MAX_SHOWN = 200
MAX_QUERY_CHARS = 128


def _matches_post(record: dict[str, Any], post: str) -> bool:
    """``post`` is a submission or post id, a content hash (or its prefix), or a request id."""
    if post in str(record.get("target", "")):
        return True
    if str(record.get("content_sha256", "")).startswith(post):
        return True
    if record.get("request_id") == post:
        return True
    return post in json.dumps(record.get("details", {}), ensure_ascii=False)


def _matches_person(record: dict[str, Any], person: str) -> bool:
    actor = record.get("actor") or {}
    return person == actor.get("id") or person.lower() in str(actor.get("name", "")).lower()


async def audit_page(request: web.Request) -> web.Response:
    svc = services(request)
    post = request.query.get("post", "").strip()[:MAX_QUERY_CHARS]
    person = request.query.get("person", "").strip()[:MAX_QUERY_CHARS]
    shown: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_SHOWN)
    total = matched = 0
    async for _, record in svc.audit.records():
        total += 1
        if post and not _matches_post(record, post):
            continue
        if person and not _matches_person(record, person):
            continue
        matched += 1
        shown.append(record)
    verify: dict[str, Any] | None = None
    if request.query.get("verify"):
        try:
            anchors = read_anchor_file(anchor_path(svc.settings))
            anchor_problem = ""
        except ValueError as exc:
            anchors, anchor_problem = [], str(exc)
        result = await svc.audit.verify(anchors)
        verify = {
            "ok": result.ok and not anchor_problem,
            "records": result.records,
            "head": str(result.head) if result.head else "",
            "anchors": result.anchors,
            "broken_seq": result.broken_seq,
            "reason": anchor_problem or result.reason,
        }
    return page(
        "audit.html",
        request,
        {
            "records": list(reversed(shown)),
            "total": total,
            "matched": matched,
            "limit": MAX_SHOWN,
            "post": post,
            "person": person,
            "verify": verify,
        },
    )
