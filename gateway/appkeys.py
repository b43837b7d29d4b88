"""Typed application state keys; the only names under which the app stores anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.services import Services
    from gateway.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
SERVICES: web.AppKey[Services] = web.AppKey("services")
