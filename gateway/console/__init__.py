"""The web console at ``/console/``: server-rendered pages for people (views, templates, static).

It is a sub-application of the gateway with a middleware of its own (:mod:`.guard`); its views
call the gateway's services, never the API handlers, and nothing else imports it except the
app assembly. See docs/console.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gateway.console import accounts, alerts, audit, desk, hub, login, screen
from gateway.console.context import (
    ALERT_HANDLERS,
    ALERT_READERS,
    APPROVERS,
    AUDITORS,
    EDITORS_AND_UP,
    FREEZERS,
    SUBMITTERS,
)
from gateway.console.guard import PAGE_ROLES, guard
from gateway.settings import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HERE = Path(__file__).resolve().parent
PREFIX = "/console"


@dataclass(frozen=True)
class Page:
    method: str
    path: str  # inside the console, e.g. "/inbox"
    handler: Handler
    roles: frozenset[str] | None  # None: no session needed (login form, static files)


PAGES: list[Page] = [
    Page("GET", "/login", login.login_form, None),
    Page("POST", "/login", login.login, None),
    Page("POST", "/logout", login.logout, EDITORS_AND_UP),
    Page("GET", "/", login.home, EDITORS_AND_UP),
    Page("POST", "/api/screen", screen.screen, SUBMITTERS),
    Page("GET", "/compose", desk.compose_form, SUBMITTERS),
    Page("POST", "/compose", desk.compose, SUBMITTERS),
    Page("GET", "/submissions", desk.my_submissions, EDITORS_AND_UP),
    Page("GET", "/submissions/{submission_id}", desk.submission_page, EDITORS_AND_UP),
    Page("POST", "/submissions/{submission_id}/decide", desk.decide, APPROVERS),
    Page("POST", "/submissions/{submission_id}/withdraw", desk.withdraw, SUBMITTERS),
    Page("GET", "/submissions/{submission_id}/edit", desk.edit_form, SUBMITTERS),
    Page("POST", "/submissions/{submission_id}/edit", desk.edit, SUBMITTERS),
    Page("GET", "/inbox", desk.inbox, APPROVERS),
    Page("GET", "/accounts", accounts.accounts_page, EDITORS_AND_UP),
    Page("POST", "/accounts/freeze", accounts.freeze, FREEZERS),
    Page("POST", "/accounts/unfreeze", accounts.unfreeze, FREEZERS),
    Page("GET", "/audit", audit.audit_page, AUDITORS),
    # bypass alerts (docs/bypass.md, docs/console.md "Handling alerts")
    Page("GET", "/alerts", alerts.alerts_page, ALERT_READERS),
    Page("GET", "/alerts/{alert_id}", alerts.alert_page, ALERT_READERS),
    Page("POST", "/alerts/{alert_id}/acknowledge", alerts.acknowledge, ALERT_HANDLERS),
    Page("POST", "/alerts/{alert_id}/freeze", alerts.freeze, ALERT_HANDLERS),
    # the hub (docs/hub.md)
    Page("GET", "/campaigns", hub.campaigns_page, EDITORS_AND_UP),
    Page("GET", "/campaigns/{campaign_id}", hub.campaign_page, EDITORS_AND_UP),
    Page("GET", "/materials", hub.materials_page, EDITORS_AND_UP),
    Page("POST", "/materials", hub.send_material, SUBMITTERS),
    Page("GET", "/calendar", hub.calendar_page, EDITORS_AND_UP),
]


def make_console(settings: Settings) -> web.Application:
    """The console sub-application (no I/O: templates are read when first rendered)."""
    import aiohttp_jinja2
    import jinja2

    console = web.Application(middlewares=[guard], client_max_size=settings.limits.max_body_bytes)
    aiohttp_jinja2.setup(
        console,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    table: dict[tuple[str, str], frozenset[str] | None] = {}
    for entry in PAGES:
        console.router.add_route(entry.method, entry.path, entry.handler)
        table[(entry.method, PREFIX + entry.path)] = entry.roles
    console.router.add_static("/static/", HERE / "static", append_version=False)
    console[PAGE_ROLES] = table
    return console


def add_console(app: web.Application, settings: Settings) -> None:
    """Mount the console at ``/console/`` when ``console.enabled``."""
    if settings.console.enabled:
        app.router.add_get(PREFIX, _to_console)  # before the sub-app, which would claim it
        app.add_subapp(PREFIX + "/", make_console(settings))


async def _to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect(PREFIX + "/")
