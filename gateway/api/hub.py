"""The hub over HTTP: material for Brand-PR (Art. 23) and linked campaigns (Art. 13).

Thin handlers: parse and bound the body, call one service, answer (docs/hub.md).
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import body, json_response, services
from gateway.api.desk import parse_time
from gateway.api.reports import csv_response
from gateway.errors import field_error
from gateway.hub.campaigns import CampaignService, parse_campaign
from gateway.hub.materials import MaterialService, parse_material
from gateway.middleware import REQUEST_ID, principal_of


async def send_material(request: web.Request) -> web.Response:
    svc = services(request)
    fields = parse_material(await body(request), svc.settings.limits.max_image_bytes)
    material = await MaterialService(svc).send(
        principal_of(request), fields, request.get(REQUEST_ID, "")
    )
    return json_response(
        material.public(), status=201, headers={"Location": f"/v1/materials/{material.id}"}
    )


async def list_materials(request: web.Request) -> web.Response:
    try:
        limit = min(500, max(1, int(request.query.get("limit", "100"))))
    except ValueError:
        raise field_error("limit", "a whole number from 1 to 500") from None
    unit = request.query.get("unit", "")
    if unit and unit not in services(request).settings.policy.units:
        raise field_error("unit", f"no unit {unit!r}")
    items = await MaterialService(services(request)).list_for(
        principal_of(request), unit=unit, limit=limit
    )
    return json_response({"items": [m.public() for m in items], "count": len(items)})


async def get_material(request: web.Request) -> web.Response:
    material = await MaterialService(services(request)).get(
        principal_of(request), request.match_info["material_id"]
    )
    return json_response(material.public(with_data=True))


async def create_campaign(request: web.Request) -> web.Response:
    data = await body(request)
    fields = parse_campaign(data)
    due_at = parse_time(data, "due_at", required=True)
    assert due_at is not None
    service = CampaignService(services(request))
    campaign = await service.create(
        principal_of(request), fields, due_at, request.get(REQUEST_ID, "")
    )
    answer = {**campaign.public(), "board": await service.board(campaign)}
    return json_response(answer, status=201, headers={"Location": f"/v1/campaigns/{campaign.id}"})


async def list_campaigns(request: web.Request) -> web.Response:
    service = CampaignService(services(request))
    items = await service.list_for(principal_of(request))
    return json_response({"items": [c.public() for c in items], "count": len(items)})


async def get_campaign(request: web.Request) -> web.Response:
    service = CampaignService(services(request))
    campaign = await service.get(principal_of(request), request.match_info["campaign_id"])
    board = await service.board(campaign)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise field_error("format", "json or csv")
    if fmt == "csv":
        rows = [{"campaign": campaign.id, "title": campaign.title, **r} for r in board]
        return csv_response(rows, f"mediagate-campaign-{campaign.id}.csv")
    return json_response({**campaign.public(), "board": board})
