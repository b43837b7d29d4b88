"""Proxy clients over HTTP (admin): create (the secret is shown once), list, revoke.

The platform surfaces themselves (``/proxy/wechat/cgi-bin/…``) live in ``gateway/proxy/``; they
answer in the platforms' own envelopes, not problem+json (docs/proxy.md).
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import audit, json_response, parsed_body, services
from gateway.errors import NotFound
from gateway.middleware import REQUEST_ID, principal_of
from gateway.proxy.clients import ProxyClientStore, issue_client

DEFAULT_SOURCE = "本单位原创"


async def create(request: web.Request) -> web.Response:
    """``{"name", "principal", "accounts": [id], "source"?, "category"?, "kind"?}`` → 201 with
    ``secret`` (kind ``wechat``) or ``access_token``/``expires_in`` (kind ``weibo``)."""
    data = await parsed_body(request)
    name: str = data["name"]
    principal: str = data["principal"]
    accounts: list[str] = data["accounts"]
    source: str = data["source"] or DEFAULT_SOURCE
    category: str = data["category"]
    kind: str = data["kind"]
    issued = await issue_client(
        services(request),
        principal_of(request),
        name=name,
        principal_id=principal,
        accounts=tuple(dict.fromkeys(accounts)),
        source=source.strip() or DEFAULT_SOURCE,
        category=category,
        request_id=request.get(REQUEST_ID, ""),
        kind=kind,
    )
    shown: dict[str, object] = {"secret": issued.secret}
    if issued.access_token is not None:
        shown = {"access_token": issued.access_token.token,
                 "expires_in": issued.access_token.expires_in}  # fmt: skip
    return json_response(
        {**issued.client.public(), **shown},
        status=201,
        headers={"Cache-Control": "no-store"},
    )


async def list_clients(request: web.Request) -> web.Response:
    svc = services(request)
    clients = await ProxyClientStore(svc.redis, svc.keys).list_all()
    return json_response({"items": [c.public() for c in clients]})


async def revoke(request: web.Request) -> web.Response:
    svc = services(request)
    store = ProxyClientStore(svc.redis, svc.keys)
    appid = request.match_info["appid"]
    if await store.get(appid) is None:
        raise NotFound(f"no proxy client {appid!r}")
    await audit(request, "proxy.client.revoke", appid, details={"proxy_client": appid})
    client = await store.revoke(appid)
    return json_response(client.public() if client else {})
