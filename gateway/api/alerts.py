"""Bypass alerts over the API: list, read, acknowledge, freeze the account (docs/bypass.md).

The handlers parse and answer; what is allowed and what is recorded is
:mod:`gateway.watch.actions`, which the console calls too.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import json_response, parsed_body, parsed_query, services
from gateway.middleware import REQUEST_ID, principal_of
from gateway.watch import actions


async def list_alerts(request: web.Request) -> web.Response:
    query = parsed_query(request)
    since, until = query["since"], query["until"]  # until <= since: an empty list, not an error
    filters = actions.Filters(
        state=query["state"] or "",
        account=query["account"] or "",
        kind=query["kind"] or "",
        since=since,
        until=until,
        limit=query["limit"],
        offset=query["offset"],
    )
    alerts = await actions.list_for(services(request), principal_of(request), filters)
    return json_response(
        {
            "alerts": [a.public() for a in alerts],
            "count": len(alerts),
            "limit": filters.limit,
            "offset": filters.offset,
        }
    )


async def get_alert(request: web.Request) -> web.Response:
    alert = await actions.get_for(
        services(request), principal_of(request), request.match_info["alert_id"]
    )
    return json_response(alert.public())


async def acknowledge(request: web.Request) -> web.Response:
    note: str = (await parsed_body(request))["note"]
    alert = await actions.acknowledge(
        services(request),
        principal_of(request),
        request.match_info["alert_id"],
        note,
        request_id=request.get(REQUEST_ID, ""),
    )
    return json_response(alert.public())


async def freeze(request: web.Request) -> web.Response:
    reason: str = (await parsed_body(request))["reason"]
    alert, record = await actions.freeze(
        services(request),
        principal_of(request),
        request.match_info["alert_id"],
        reason,
        request_id=request.get(REQUEST_ID, ""),
    )
    return json_response({**record.public(), "alert": alert.public()}, status=201)
