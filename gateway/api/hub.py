"""The hub over HTTP: material for Brand-PR (Art. 23).

Thin handlers: parse and bound the body, call one service, answer (docs/hub.md).
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import body, json_response, services
from gateway.errors import field_error
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
