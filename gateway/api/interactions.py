"""Comments, replies, reposts and comment switches through the gate (docs/interactions.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.api.bodies import IDEMPOTENCY_KEY
from gateway.api.common import body, json_response, parse_body, parsed_body, services
from gateway.api.posts import _wait_for_outcome
from gateway.appkeys import GATE
from gateway.errors import GatewayError, NotFound
from gateway.gate import acts_for
from gateway.idempotency import Idempotency, request_hash
from gateway.interactions.gate import InteractionGate
from gateway.interactions.model import InteractionRequest
from gateway.jobs import Job
from gateway.middleware import PROBLEM_JSON, REQUEST_ID, principal_of


def _gate(request: web.Request) -> InteractionGate:
    return InteractionGate(request.app[GATE])


def _answer(job: Job) -> tuple[int, dict[str, Any]]:
    status = 201 if job.state == "published" else 202
    return status, {**job.public(), "interaction_url": f"/v1/interactions/{job.id}"}


async def _idempotent(
    request: web.Request, run: Callable[[Any], Awaitable[tuple[int, dict[str, Any]]]]
) -> web.Response:
    """``Idempotency-Key`` as for ``POST /v1/posts``: the same key and body answer the first
    answer again (``Idempotent-Replayed: true``); the same key with another body is 422."""
    svc, principal = services(request), principal_of(request)
    raw = await body(request)
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        IDEMPOTENCY_KEY.parse(key, "Idempotency-Key")
    idem = Idempotency(svc.redis, svc.keys, svc.settings.delivery.idempotency_ttl_s)
    req_hash = request_hash({"interaction": raw})
    if key is not None:
        stored = await idem.begin(principal.id, key, req_hash)
        if stored is not None:
            replay = json_response(
                stored.body, status=stored.status, headers={"Idempotent-Replayed": "true"}
            )
            if stored.status >= 400:
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


async def create(request: web.Request) -> web.Response:
    principal = principal_of(request)

    async def run(data: Any) -> tuple[int, dict[str, Any]]:
        job = await _gate(request).submit(
            principal,
            InteractionRequest.parse(data),
            data["approvals"] or [],
            request.get(REQUEST_ID, ""),
        )
        return _answer(await _wait_for_outcome(request, job))

    return await _idempotent(request, run)


async def assess(request: web.Request) -> web.Response:
    """What approvers sign: the content hash, the screen and the approvals required."""
    data = await parsed_body(request)
    resolved, assessment = await _gate(request).assess(
        principal_of(request), InteractionRequest.parse(data)
    )
    return json_response({**assessment.public(), "platform_id": resolved.platform_id})


async def approve(request: web.Request) -> web.Response:
    data = await parsed_body(request)
    signed = await _gate(request).sign(
        principal_of(request),
        InteractionRequest.parse(data),
        data["decision"],
        data["reason"] or "",
        request.get(REQUEST_ID, ""),
    )
    return json_response(signed.public(), status=201)


async def get_interaction(request: web.Request) -> web.Response:
    svc, principal, gate = services(request), principal_of(request), request.app[GATE]
    interaction_id = request.match_info["interaction_id"]
    job = await gate.jobs.get(interaction_id)
    if (
        job is None
        or job.kind != "interaction"
        or not acts_for(svc.settings.policy, principal, job.unit)
    ):
        raise NotFound(f"no interaction {interaction_id!r}")
    stored = await gate.jobs.post(job.id)
    return json_response(
        {
            **job.public(),
            "interaction": stored.get("interaction", {}),
            "history": await gate.jobs.history(job.id),
        }
    )
