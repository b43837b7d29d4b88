"""The hub for people: the campaign board, material for Brand-PR and the publishing calendar.

Every view calls the hub's and the desk's services (never the API handlers) and renders what
they answer (docs/hub.md).
"""

from __future__ import annotations

import base64
import time
from typing import Any

from aiohttp import web

from gateway.appkeys import DESK
from gateway.console.context import form_text, me, page, services
from gateway.errors import GatewayError
from gateway.hub.campaigns import CampaignService
from gateway.hub.materials import MaterialService, parse_material

BOARD_LABELS = {
    "not_started": "未开始",
    "awaiting_approval": "审批中",
    "published": "已发布",
    "overdue": "已逾期",
}


async def campaigns_page(request: web.Request) -> web.Response:
    items = await CampaignService(services(request)).list_for(me(request))
    return page("campaigns.html", request, {"items": items, "now": time.time()})


async def campaign_page(request: web.Request) -> web.Response:
    service = CampaignService(services(request))
    campaign = await service.get(me(request), request.match_info["campaign_id"])
    board = await service.board(campaign)
    return page(
        "campaign.html",
        request,
        {"c": campaign, "board": board, "board_label": BOARD_LABELS},
    )


async def materials_page(request: web.Request, *, error: str = "", status: int = 200) -> Any:
    items = await MaterialService(services(request)).list_for(me(request), limit=200)
    return page("materials.html", request, {"items": items, "error": error}, status=status)


async def _uploads(form: Any, name: str) -> list[dict[str, str]]:
    out = []
    for item in form.getall(name, []):
        if isinstance(item, web.FileField) and item.filename:
            data = item.file.read()
            if data:
                out.append(
                    {
                        "filename": item.filename[-200:],
                        "content_type": item.content_type,
                        "data": base64.b64encode(data).decode(),
                    }
                )
    return out


async def send_material(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    form = await request.post()
    try:
        fields = parse_material(
            {
                "title": form_text(form, "title", max_chars=400),
                "text": form_text(form, "text", max_chars=40_000),
                "images": await _uploads(form, "images") or None,
                "files": await _uploads(form, "files") or None,
            },
            svc.settings.limits.max_image_bytes,
        )
        await MaterialService(svc).send(me(request), fields)
    except GatewayError as exc:
        return await materials_page(request, error=exc.detail, status=exc.status)
    raise web.HTTPSeeOther("/console/materials")


async def calendar_page(request: web.Request) -> web.Response:
    """What goes out when: approved and waiting submissions with ``publish_at`` (those the
    caller may see), and the due times of the caller's campaigns, soonest first."""
    principal, desk = me(request), request.config_dict[DESK]
    subs = await desk.list_for(principal, limit=500)
    now = time.time()
    entries: list[dict[str, Any]] = [
        {
            "at": s.publish_at,
            "kind": "post",
            "title": s.title,
            "accounts": list(s.accounts),
            "state": s.state,
            "link": f"/console/submissions/{s.id}",
        }
        for s in subs
        if s.publish_at and s.state in ("awaiting_approval", "approved")
    ]
    for c in await CampaignService(services(request)).list_for(principal):
        if c.due_at >= now - 86400:
            entries.append(
                {
                    "at": c.due_at,
                    "kind": "campaign",
                    "title": c.title,
                    "accounts": list(c.accounts),
                    "state": "",
                    "link": f"/console/campaigns/{c.id}",
                }
            )
    entries.sort(key=lambda e: e["at"])
    return page("calendar.html", request, {"entries": entries})
