"""The publish path: screen a draft, hash and approve it, publish, follow, edit or delete it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web

from gateway.api.bodies import IDEMPOTENCY_KEY
from gateway.api.common import (
    audit,
    body,
    json_response,
    parse_body,
    parsed_body,
    parsed_query,
    services,
)
from gateway.appkeys import GATE, WORKER
from gateway.desk.signing import sign_decision
from gateway.errors import Conflict, GatewayError, NotFound
from gateway.gate import acts_for, post_hash
from gateway.idempotency import Idempotency, request_hash
from gateway.jobs import Job
from gateway.middleware import PROBLEM_JSON, REQUEST_ID, principal_of

PUBLISH_WAIT_S = 3.0


async def screen(request: web.Request) -> web.Response:
    data = await parsed_body(request)
    post = data["post"]
    gate = request.app[GATE]
    result = await gate.screening.screen(post.texts())
    answer: dict[str, Any] = {**result.to_json(), "content_sha256": post_hash(post)}
    account_id = data["account"]
    if account_id:
        principal = principal_of(request)
        account = await services(request).accounts.require(account_id)
        if not acts_for(services(request).settings.policy, principal, account.unit):
            raise NotFound(f"no account {account_id!r}", field="account")
        assessment = await gate.assess(principal, account, post)
        answer["required_approvals"] = [r.public() for r in assessment.required]
        answer["required_roles"] = sorted({r.role for r in assessment.required})
    if not post.source.strip():
        answer["warnings"] = ["post.source is empty: unsourced items are not published (Art. 15)"]
    return json_response(answer)


async def content_hash(request: web.Request) -> web.Response:
    data = await parsed_body(request)
    return json_response({"content_sha256": post_hash(data["post"])})


async def approve(request: web.Request) -> web.Response:
    """An approver approves (or rejects, with a reason) exactly this content for accounts."""
    data = await parsed_body(request)
    signed = await sign_decision(
        request.app[GATE],
        principal_of(request),
        post=data["post"],
        accounts=data["accounts"],
        decision=data["decision"],
        reason=data["reason"] or "",
        attest=data["attest"] or [],
        request_id=request.get(REQUEST_ID, ""),
    )
    return json_response(signed.public(), status=201)


async def wait_for_outcome(request: web.Request, job: Job) -> Job:
    worker = request.app.get(WORKER)
    if worker is None:
        return job
    worker.wake()
    gate = request.app[GATE]
    deadline = time.monotonic() + PUBLISH_WAIT_S
    pause_s = 0.005  # a synchronous platform usually answers within tens of milliseconds
    while time.monotonic() < deadline:
        await asyncio.sleep(pause_s)
        pause_s = min(pause_s * 1.5, 0.1)
        current = await gate.jobs.get(job.id)
        if current is not None and current.state not in ("approved", "dispatching"):
            return current
    return await gate.jobs.get(job.id) or job


def _job_answer(job: Job) -> tuple[int, dict[str, Any]]:
    status = 201 if job.state in ("published", "deleted") else 202
    return status, {**job.public(), "post_url": f"/v1/posts/{job.id}"}


async def idempotent(
    request: web.Request,
    run: Callable[[Any], Awaitable[tuple[int, dict[str, Any]]]],
    *,
    scope: str = "",
) -> web.Response:
    """Run a creating request under its ``Idempotency-Key`` (docs/delivery.md): the same key and
    body answer the first answer again (``Idempotent-Replayed: true``), the same key with another
    body is 422. ``run`` gets the parsed body and answers ``(status, answer)``; ``scope`` keeps
    the request hashes of different routes apart."""
    svc, principal = services(request), principal_of(request)
    raw = await body(request)
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        IDEMPOTENCY_KEY.parse(key, "Idempotency-Key")
    idem = Idempotency(svc.redis, svc.keys, svc.settings.delivery.idempotency_ttl_s)
    # the body's hash is what a repeat of the key is compared with: only needed with a key
    req_hash = request_hash({scope: raw} if scope else raw) if key is not None else ""
    if key is not None:
        stored = await idem.begin(principal.id, key, req_hash)
        if stored is not None:
            replay = json_response(
                stored.body, status=stored.status, headers={"Idempotent-Replayed": "true"}
            )
            if stored.status >= 400:  # the first answer was a problem, and is again
                replay.content_type = PROBLEM_JSON
            return replay
    try:
        status, answer = await run(parse_body(request, raw))
    except Exception as exc:
        if key is not None:
            if isinstance(exc, GatewayError) and exc.status < 500:
                await idem.finish(
                    principal.id, key, req_hash, exc.status, exc.to_problem(request.path)
                )
            else:
                await idem.finish(principal.id, key, req_hash, 500, {})
        raise
    if key is not None:
        await idem.finish(principal.id, key, req_hash, status, answer)
    return json_response(answer, status=status)


async def publish(request: web.Request) -> web.Response:
    principal, gate = principal_of(request), request.app[GATE]

    async def run(data: Any) -> tuple[int, dict[str, Any]]:
        job = await gate.submit(
            principal,
            account_id=data["account"],
            post=data["post"],
            tokens=data["approvals"] or [],
            request_id=request.get(REQUEST_ID, ""),
        )
        return _job_answer(await wait_for_outcome(request, job))

    return await idempotent(request, run)


async def _visible_job(request: web.Request, job_id: str) -> Job:
    svc, principal = services(request), principal_of(request)
    job = await request.app[GATE].jobs.get(job_id)
    if job is None or not acts_for(svc.settings.policy, principal, job.unit):
        raise NotFound(f"no post {job_id!r}")
    return job


async def get_post(request: web.Request) -> web.Response:
    job = await _visible_job(request, request.match_info["post_id"])
    history = await request.app[GATE].jobs.history(job.id)
    return json_response({**job.public(), "history": history})


async def list_posts(request: web.Request) -> web.Response:
    svc, principal = services(request), principal_of(request)
    query = parsed_query(request)
    jobs = await request.app[GATE].jobs.list_jobs(state=query["state"], limit=query["limit"])
    visible = [
        j.public()
        for j in jobs
        if acts_for(svc.settings.policy, principal, j.unit) and j.kind != "interaction"
    ]  # comments, replies and reposts are followed at /v1/interactions/{id}
    return json_response({"posts": visible, "count": len(visible)})


async def edit_post(request: web.Request) -> web.Response:
    principal, gate = principal_of(request), request.app[GATE]
    data = await parsed_body(request)
    post, tokens = data["post"], data["approvals"] or []
    await _visible_job(request, request.match_info["post_id"])
    job = await gate.edit(
        principal, request.match_info["post_id"], post, tokens, request.get(REQUEST_ID, "")
    )
    job = await wait_for_outcome(request, job)
    status, answer = _job_answer(job)
    return json_response(answer, status=status)


async def delete_post(request: web.Request) -> web.Response:
    principal, gate = principal_of(request), request.app[GATE]
    reason = (await parsed_body(request))["reason"]
    await _visible_job(request, request.match_info["post_id"])
    job = await gate.delete(
        principal, request.match_info["post_id"], reason, request.get(REQUEST_ID, "")
    )
    job = await wait_for_outcome(request, job)
    status, answer = _job_answer(job)
    return json_response(answer, status=status)


async def resolve_post(request: web.Request) -> web.Response:
    """Brand-PR resolves a failed, unconfirmed or needs-reauthorisation job (audited)."""
    gate = request.app[GATE]
    data = await parsed_body(request)
    resolution, reason = data["resolution"], data["reason"]
    job = await _visible_job(request, request.match_info["post_id"])
    stuck = ("failed", "unconfirmed", "needs_reauth")
    if job.state not in stuck:
        raise Conflict(
            f"post {job.id} is {job.state}; only {', '.join(stuck)} posts are resolved by hand",
            state=job.state,
        )
    await audit(
        request,
        f"post.resolve.{resolution}",
        job.id,
        reasons=[reason],
        content_sha256=job.content_sha256,
        details={"from": job.state},
    )
    if resolution == "retry":
        job = await gate.jobs.transition(
            job.id,
            "dispatching" if job.state == "unconfirmed" else "approved",
            allowed_from=stuck,
            note=f"retry by Brand-PR: {reason}",
            reason="",
            details={**job.details, "reconcile": job.state == "unconfirmed", "reconcile_tries": 0},
            attempts=0,
            due_at=time.time(),
        )
        worker = request.app.get(WORKER)
        if worker:
            worker.wake()
    else:
        state = cast(Any, resolution)
        job = await gate.jobs.transition(
            job.id,
            state,
            allowed_from=stuck,
            note=f"resolved by Brand-PR: {reason}",
            reason=reason,
            platform_id=data["platform_id"] or job.platform_id,
            url=data["url"] or job.url,
        )
    return json_response(job.public())
