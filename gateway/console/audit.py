"""The audit log for auditors: searchable by post and by person, with chain verification."""

from __future__ import annotations

import collections
import json
from typing import Any

from aiohttp import web

from gateway.appkeys import DESK, GATE
from gateway.audit import read_anchor_file
from gateway.console.context import page, services
from gateway.settings import anchor_path

MAX_SHOWN = 200
MAX_QUERY_CHARS = 128


async def _post_needles(request: web.Request, post: str) -> tuple[set[str], set[str]]:
    """What a post query stands for: the ids to look for, and the content hashes.

    A submission id also stands for its content hash and its publish jobs, a job id for its
    content hash, so one query shows the whole story of a post: submitted, approved, recorded,
    published (the gate's records name the job and the hash, not the submission).
    """
    ids, hashes = {post}, set()
    desk = request.config_dict.get(DESK)
    sub = await desk.store.get(post) if desk is not None and post.startswith("sub_") else None
    if sub is not None:
        hashes.add(sub.content_sha256)
        ids.update(j.id for j in sub.jobs if j.id)
    gate = request.config_dict.get(GATE)
    for job_id in list(ids):
        job = await gate.jobs.get(job_id) if gate is not None and job_id else None
        if job is not None:
            hashes.add(job.content_sha256)
    return ids, hashes


def _matches_post(record: dict[str, Any], ids: set[str], hashes: set[str]) -> bool:
    """A record about one of ``ids`` (target, request id, details) or with one of ``hashes``
    (a query may also be a hash prefix)."""
    digest = str(record.get("content_sha256", ""))
    if digest and (digest in hashes or any(digest.startswith(i) for i in ids)):
        return True
    target, details = str(record.get("target", "")), None
    for needle in ids:
        if needle in target or record.get("request_id") == needle:
            return True
        details = details or json.dumps(record.get("details", {}), ensure_ascii=False)
        if needle in details:
            return True
    return False


def _matches_person(record: dict[str, Any], person: str) -> bool:
    actor = record.get("actor") or {}
    return person == actor.get("id") or person.lower() in str(actor.get("name", "")).lower()


async def audit_page(request: web.Request) -> web.Response:
    svc = services(request)
    post = request.query.get("post", "").strip()[:MAX_QUERY_CHARS]
    person = request.query.get("person", "").strip()[:MAX_QUERY_CHARS]
    shown: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_SHOWN)
    total = matched = 0
    ids, hashes = await _post_needles(request, post) if post else (set(), set())
    async for _, record in svc.audit.records():
        total += 1
        if post and not _matches_post(record, ids, hashes):
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
