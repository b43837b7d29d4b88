"""The OpenAPI document of this gateway, for its configured limits and policy."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import json_response, services
from gateway.openapi import openapi_document


async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document(services(request).settings))
