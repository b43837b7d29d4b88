"""The review desk over HTTP: submissions, the inbox, decisions and attached approvals.

Thin handlers: parse the body or query by its definition (:mod:`gateway.api.bodies`), call one
:class:`gateway.desk.service.DeskService` method, answer. Rules, audit and notices live in the
service (docs/desk.md).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.common import json_response, parsed_body, parsed_query
from gateway.appkeys import DESK
from gateway.errors import field_error
from gateway.middleware import REQUEST_ID, principal_of


def _accounts(data: dict[str, Any]) -> list[str]:
    """``account`` or ``accounts`` (parsed), exactly one of them."""
    if data["account"] is not None and data["accounts"] is not None:
        raise field_error("accounts", "give either account or accounts, not both")
    if data["accounts"] is not None:
        return list(data["accounts"])
    if data["account"] is None:
        raise field_error("account", "is required")
    return [data["account"]]


async def create(request: web.Request) -> web.Response:
    data = await parsed_body(request)
    sub = await request.app[DESK].submit(
        principal_of(request),
        accounts=_accounts(data),
        post=data["post"],
        publish_at=data["publish_at"],
        campaign=data["campaign"] or "",
        note=data["note"] or "",
        request_id=request.get(REQUEST_ID, ""),
    )
    return json_response(
        sub.public(), status=201, headers={"Location": f"/v1/submissions/{sub.id}"}
    )


async def preview(request: web.Request) -> web.Response:
    data = await parsed_body(request)
    result = await request.app[DESK].preview(
        principal_of(request), accounts=_accounts(data), post=data["post"]
    )
    return json_response(result.public())


async def list_submissions(request: web.Request) -> web.Response:
    query = parsed_query(request)
    subs = await request.app[DESK].list_for(
        principal_of(request),
        state=query["state"],
        mine=query["mine"] in ("true", "1"),
        limit=query["limit"],
    )
    return json_response({"items": [s.summary() for s in subs], "count": len(subs)})


async def get_submission(request: web.Request) -> web.Response:
    sub = await request.app[DESK].get(principal_of(request), request.match_info["submission_id"])
    return json_response(sub.public())


async def revise(request: web.Request) -> web.Response:
    data = await parsed_body(request)
    sub = await request.app[DESK].resubmit(
        principal_of(request),
        request.match_info["submission_id"],
        data["post"],
        request.get(REQUEST_ID, ""),
    )
    return json_response(
        sub.public(), status=201, headers={"Location": f"/v1/submissions/{sub.id}"}
    )


async def withdraw(request: web.Request) -> web.Response:
    sub = await request.app[DESK].withdraw(
        principal_of(request), request.match_info["submission_id"], request.get(REQUEST_ID, "")
    )
    return json_response(sub.public())


async def inbox(request: web.Request) -> web.Response:
    items = await request.app[DESK].inbox_for(principal_of(request))
    return json_response({"items": [i.public() for i in items], "count": len(items)})


async def decide(request: web.Request) -> web.Response:
    data = await parsed_body(request)
    sub = await request.app[DESK].decide(
        principal_of(request),
        request.match_info["submission_id"],
        decision=data["decision"],
        reason=data["reason"] or "",
        attest=data["attest"] or [],
        request_id=request.get(REQUEST_ID, ""),
    )
    return json_response(sub.public())


async def attach(request: web.Request) -> web.Response:
    data = await parsed_body(request)
    sub = await request.app[DESK].attach_token(
        principal_of(request),
        request.match_info["submission_id"],
        data["token"],
        request.get(REQUEST_ID, ""),
    )
    return json_response(sub.public())
