"""The hub over HTTP: material for Brand-PR (Art. 23) and linked campaigns (Art. 13).

Thin handlers: parse the body or query by its definition (:mod:`gateway.api.bodies`), call one
service, answer (docs/hub.md). The hub's own parsers then shape what the definition admitted
(attachments hashed, lists deduplicated) and apply the rules no schema states.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.common import json_response, parsed_body, parsed_query, services
from gateway.api.reports import csv_response
from gateway.errors import field_error
from gateway.hub.campaigns import CampaignService, parse_campaign
from gateway.hub.materials import MaterialService, parse_material
from gateway.middleware import REQUEST_ID, principal_of


def _present(data: dict[str, Any]) -> dict[str, Any]:
    """The parsed fields that were sent (an absent or null optional field parses as None)."""
    return {k: v for k, v in data.items() if v is not None}


async def send_material(request: web.Request) -> web.Response:
    svc = services(request)
    data = _present(await parsed_body(request))
    fields = parse_material(data, svc.settings.limits.max_image_bytes)
    material = await MaterialService(svc).send(
        principal_of(request), fields, request.get(REQUEST_ID, "")
    )
    return json_response(
        material.public(), status=201, headers={"Location": f"/v1/materials/{material.id}"}
    )


async def list_materials(request: web.Request) -> web.Response:
    query = parsed_query(request)
    unit = query["unit"] or ""
    if unit and unit not in services(request).settings.policy.units:
        raise field_error("unit", f"no unit {unit!r}")
    items = await MaterialService(services(request)).list_for(
        principal_of(request), unit=unit, limit=query["limit"]
    )
    return json_response({"items": [m.public() for m in items], "count": len(items)})


async def get_material(request: web.Request) -> web.Response:
    material = await MaterialService(services(request)).get(
        principal_of(request), request.match_info["material_id"]
    )
    return json_response(material.public(with_data=True))


async def create_campaign(request: web.Request) -> web.Response:
    data = _present(await parsed_body(request))
    service = CampaignService(services(request))
    campaign = await service.create(
        principal_of(request), parse_campaign(data), data["due_at"], request.get(REQUEST_ID, "")
    )
    answer = {**campaign.public(), "board": await service.board(campaign)}
    return json_response(answer, status=201, headers={"Location": f"/v1/campaigns/{campaign.id}"})


async def list_campaigns(request: web.Request) -> web.Response:
    service = CampaignService(services(request))
    items = await service.list_for(principal_of(request))
    return json_response({"items": [c.public() for c in items], "count": len(items)})


async def get_campaign(request: web.Request) -> web.Response:
    fmt = parsed_query(request)["format"]
    service = CampaignService(services(request))
    campaign = await service.get(principal_of(request), request.match_info["campaign_id"])
    board = await service.board(campaign)
    if fmt == "csv":
        rows = [{"campaign": campaign.id, "title": campaign.title, **r} for r in board]
        return csv_response(rows, f"mediagate-campaign-{campaign.id}.csv")
    return json_response({**campaign.public(), "board": board})
