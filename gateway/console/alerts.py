"""Bypass alerts for people: the list (open first), one alert with what was found, the edit's
diff and its audit records, and Brand-PR's two answers, acknowledge and freeze the account.

The views call :mod:`gateway.watch.actions`, the same functions as ``/v1/alerts`` (docs/bypass.md,
docs/console.md "Handling alerts").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.console.context import form_text, me, page, services
from gateway.console.diff import Segment, diff_text
from gateway.errors import field_error
from gateway.watch import actions
from gateway.watch.actions import MAX_NOTE_CHARS
from gateway.watch.alerts import ALERT_KINDS, ALERT_STATES, Alert

MAX_SHOWN = 200
#: A longer diff is shown cut to this many characters (the API answers all of it).
MAX_DIFF_CHARS = 100_000


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "file", "hunk", "added", "removed", "same", "meta"
    text: str


@dataclass(frozen=True)
class DiffView:
    """A unified diff (approved text → platform text) made readable: the lines as they are,
    and the two texts compared character by character (Chinese has no words to split on)."""

    lines: tuple[DiffLine, ...]
    segments: tuple[Segment, ...]
    cut: bool


def diff_view(diff: str) -> DiffView | None:
    if not diff:
        return None
    cut = len(diff) > MAX_DIFF_CHARS
    lines: list[DiffLine] = []
    old: list[str] = []
    new: list[str] = []
    hunks = 0
    for line in diff[:MAX_DIFF_CHARS].splitlines():
        if line.startswith(("--- ", "+++ ")) and not hunks:
            lines.append(DiffLine("file", line))
        elif line.startswith("@@"):
            if hunks:  # a gap between hunks, the same on both sides
                old.append("⋯")
                new.append("⋯")
            hunks += 1
            lines.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            new.append(line[1:])
            lines.append(DiffLine("added", line))
        elif line.startswith("-"):
            old.append(line[1:])
            lines.append(DiffLine("removed", line))
        elif line.startswith(" "):
            old.append(line[1:])
            new.append(line[1:])
            lines.append(DiffLine("same", line))
        else:  # "\ No newline at end of file", or text that is not a diff at all
            lines.append(DiffLine("meta", line))
    return DiffView(tuple(lines), diff_text("\n".join(old), "\n".join(new)), cut)


def platform_link(url: str) -> str:
    """``url`` if it is a web address a browser may follow, else "" (shown as text only)."""
    return url if url.lower().startswith(("https://", "http://")) else ""


def _choice(value: str, choices: tuple[str, ...], name: str) -> str:
    if value and value not in choices:
        raise field_error(name, f"one of {', '.join(choices)}")
    return value


async def alerts_page(request: web.Request) -> web.Response:
    svc, principal = services(request), me(request)
    state = _choice(request.query.get("state", ""), ALERT_STATES, "state")
    kind = _choice(request.query.get("kind", ""), ALERT_KINDS, "kind")
    account = request.query.get("account", "").strip()[:64]
    filters = actions.Filters(state=state, account=account, kind=kind, limit=MAX_SHOWN)
    items = await actions.list_for(svc, principal, filters)
    items.sort(key=lambda a: (a.state != "open", -a.detected_at))  # open first, newest first
    visible = await actions.visible_accounts(svc, principal)
    accounts = sorted(
        a.id for a in await svc.accounts.list_all() if visible is None or a.id in visible
    )
    return page(
        "alerts.html",
        request,
        {
            "items": items,
            "limit": MAX_SHOWN,
            "states": ALERT_STATES,
            "kinds": ALERT_KINDS,
            "accounts": accounts,
            "f": {"state": state, "kind": kind, "account": account},
        },
    )


async def alert_page(request: web.Request) -> web.Response:
    svc = services(request)
    alert: Alert = await actions.get_for(svc, me(request), request.match_info["alert_id"])
    account = await svc.accounts.get(alert.account)
    freeze = await svc.freeze.blocking(
        account=alert.account, unit=account.unit if account else alert.unit
    )
    trail = await actions.audit_trail(svc, alert)
    context: dict[str, Any] = {
        "a": alert,
        "account": account,
        "freeze": freeze,
        "link": platform_link(alert.url),
        "diff": diff_view(alert.diff),
        "trail": trail,
        "max_note": MAX_NOTE_CHARS,
    }
    return page("alert.html", request, context)


async def acknowledge(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    note = form_text(form, "note", required=True, max_chars=MAX_NOTE_CHARS)
    alert_id = request.match_info["alert_id"]
    await actions.acknowledge(services(request), me(request), alert_id, note, via="console")
    raise web.HTTPSeeOther(f"/console/alerts/{alert_id}")


async def freeze(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    reason = form_text(form, "reason", required=True, max_chars=MAX_NOTE_CHARS)
    alert_id = request.match_info["alert_id"]
    await actions.freeze(services(request), me(request), alert_id, reason, via="console")
    raise web.HTTPSeeOther(f"/console/alerts/{alert_id}")
