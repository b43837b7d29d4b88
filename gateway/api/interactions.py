"""Comments, replies, reposts and comment switches through the gate (docs/interactions.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.common import json_response, parsed_body, services
from gateway.api.posts import idempotent, wait_for_outcome
from gateway.appkeys import GATE
from gateway.errors import NotFound
from gateway.gate import acts_for
from gateway.interactions.gate import InteractionGate
from gateway.interactions.model import InteractionRequest
from gateway.jobs import Job
from gateway.middleware import REQUEST_ID, principal_of


def _gate(request: web.Request) -> InteractionGate:
    return InteractionGate(request.app[GATE])


def _answer(job: Job) -> tuple[int, dict[str, Any]]:
    status = 201 if job.state == "published" else 202
    return status, {**job.public(), "interaction_url": f"/v1/interactions/{job.id}"}


async def create(request: web.Request) -> web.Response:
    principal = principal_of(request)

    async def run(data: Any) -> tuple[int, dict[str, Any]]:
        job = await _gate(request).submit(
            principal,
            InteractionRequest.parse(data),
            data["approvals"] or [],
            request.get(REQUEST_ID, ""),
        )
        return _answer(await wait_for_outcome(request, job))

    return await idempotent(request, run, scope="interaction")


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
