"""The review desk over HTTP: submissions, the inbox, decisions and attached approvals.

Thin handlers: parse and bound the body, call one :class:`gateway.desk.service.DeskService`
method, answer. Rules, audit and notices live in the service (docs/desk.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from gateway.api.common import body, json_response, services
from gateway.appkeys import DESK
from gateway.desk.model import SUBMISSION_STATES
from gateway.errors import field_error
from gateway.middleware import REQUEST_ID, principal_of
from gateway.postmodel import Post, parse_post
from gateway.validation import expect_keys, take_obj, take_str, take_str_list

MAX_ACCOUNTS = 50


def _post(request: web.Request, data: dict[str, Any]) -> Post:
    return parse_post(take_obj(data, "post"), services(request).settings.limits)


def _publish_at(data: dict[str, Any]) -> float | None:
    return parse_time(data, "publish_at")


def parse_time(data: dict[str, Any], key: str, *, required: bool = False) -> float | None:
    """An RFC 3339 date-time with an offset (``publish_at``, a campaign's ``due_at``)."""
    raw = take_str(data, key, required=required, max_chars=64)
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise field_error(key, "must be an RFC 3339 date-time") from None
    if when.tzinfo is None:
        raise field_error(key, "needs a time zone offset (RFC 3339), e.g. +08:00")
    return when.timestamp()


def _accounts(data: dict[str, Any]) -> list[str]:
    if "account" in data and "accounts" in data:
        raise field_error("accounts", "give either account or accounts, not both")
    if "accounts" in data:
        accounts = take_str_list(data, "accounts", max_items=MAX_ACCOUNTS, max_chars=64)
        if not accounts:
            raise field_error("accounts", "name at least one account")
        return accounts
    return [take_str(data, "account", max_chars=64)]


async def create(request: web.Request) -> web.Response:
    data = await body(request)
    expect_keys(data, "", ("account", "accounts", "post", "publish_at", "campaign", "note"))
    accounts = _accounts(data)
    post = _post(request, data)
    sub = await request.app[DESK].submit(
        principal_of(request),
        accounts=accounts,
        post=post,
        publish_at=_publish_at(data),
        campaign=take_str(data, "campaign", required=False, max_chars=64),
        note=take_str(data, "note", required=False, max_chars=2000),
        request_id=request.get(REQUEST_ID, ""),
    )
    return json_response(
        sub.public(), status=201, headers={"Location": f"/v1/submissions/{sub.id}"}
    )


async def preview(request: web.Request) -> web.Response:
    data = await body(request)
    expect_keys(data, "", ("account", "accounts", "post"))
    accounts = _accounts(data)
    result = await request.app[DESK].preview(
        principal_of(request), accounts=accounts, post=_post(request, data)
    )
    return json_response(result.public())


async def list_submissions(request: web.Request) -> web.Response:
    state = request.query.get("state") or None
    if state is not None and state not in SUBMISSION_STATES:
        raise field_error("state", f"one of {', '.join(SUBMISSION_STATES)}")
    mine = request.query.get("mine", "false").lower()
    if mine not in ("true", "false", "1", "0"):
        raise field_error("mine", "true or false")
    try:
        limit = min(500, max(1, int(request.query.get("limit", "100"))))
    except ValueError:
        raise field_error("limit", "must be an integer") from None
    subs = await request.app[DESK].list_for(
        principal_of(request),
        state=state,  # type: ignore[arg-type]
        mine=mine in ("true", "1"),
        limit=limit,
    )
    return json_response({"items": [s.summary() for s in subs], "count": len(subs)})


async def get_submission(request: web.Request) -> web.Response:
    sub = await request.app[DESK].get(principal_of(request), request.match_info["submission_id"])
    return json_response(sub.public())


async def revise(request: web.Request) -> web.Response:
    data = await body(request)
    expect_keys(data, "", ("post",))
    post = _post(request, data)
    sub = await request.app[DESK].resubmit(
        principal_of(request),
        request.match_info["submission_id"],
        post,
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
    data = await body(request)
    expect_keys(data, "", ("decision", "reason", "attest"))
    decision = take_str(data, "decision", choices=("approve", "reject"))
    reason = take_str(
        data,
        "reason",
        required=decision == "reject",
        max_chars=2000,
        min_chars=1 if decision == "reject" else 0,
    )
    attest = take_str_list(data, "attest", required=False, max_items=4, max_chars=64)
    sub = await request.app[DESK].decide(
        principal_of(request),
        request.match_info["submission_id"],
        decision=decision,  # type: ignore[arg-type]
        reason=reason,
        attest=attest,
        request_id=request.get(REQUEST_ID, ""),
    )
    return json_response(sub.public())


async def attach(request: web.Request) -> web.Response:
    data = await body(request)
    expect_keys(data, "", ("token",))
    token = take_str(data, "token", max_chars=8192, min_chars=1)
    sub = await request.app[DESK].attach_token(
        principal_of(request),
        request.match_info["submission_id"],
        token,
        request.get(REQUEST_ID, ""),
    )
    return json_response(sub.public())
