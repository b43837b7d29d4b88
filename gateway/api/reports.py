"""Reports: the weekly per-unit activity (Art. 9, 23) and the annual filing export (Art. 24).

Weeks are ISO weeks in China Standard Time (UTC+8). What a unit delivered in a week is its
``material`` sent to Brand-PR plus its ``published`` posts (credited to the unit that sent them,
so a subsidiary's post on the company account counts for the subsidiary); refused attempts count
for nothing (``submitted`` and ``refused`` are shown for the record only). A unit other than HQ
and Brand-PR's own that delivered nothing is flagged ``silent``, one below its ``weekly_quota``
``under_quota``, and one whose policy names no ``information_administrator`` (Art. 9)
``no_information_administrator``. The rows come from :func:`weekly_rows`, which the hub's
reminder uses too (gateway/hub/reminders.py).

Both reports also count the bypass alerts (docs/bypass.md) of each account by the time they were
detected: the weekly report's ``alerts`` table (one row per account, a count per kind; the CSV of
it with ``?table=alerts``), and the annual report's ``alerts_*`` columns (per kind, and how many
of them Brand-PR acknowledged or froze the account for) with ``bypass`` naming the accounts that
had any.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from gateway.api.common import json_response, parsed_query, services
from gateway.appkeys import GATE
from gateway.errors import NotFound, field_error
from gateway.hub.materials import MaterialService
from gateway.jobs import JobStore
from gateway.services import Services
from gateway.watch.alerts import ALERT_KINDS, AlertStore

CST = timezone(timedelta(hours=8), "CST")
WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def _week_bounds(text: str) -> tuple[datetime, datetime]:
    match = WEEK_RE.match(text)
    if not match:
        raise field_error("week", "ISO week such as 2026-W48")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:  # W53 of a year with 52 weeks: well-formed, but no such week
        raise NotFound(
            f"no such week {text!r}", errors=[{"field": "week", "message": "no such week"}]
        ) from None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=CST)
    return start, start + timedelta(days=7)


def _current_week() -> str:
    year, week, _ = datetime.now(CST).isocalendar()
    return f"{year}-W{week:02d}"


def csv_response(
    rows: list[dict[str, Any]], filename: str, fieldnames: list[str] | None = None
) -> web.Response:
    """``rows`` as CSV; ``fieldnames`` give the header also when there are no rows."""
    out = io.StringIO()
    if rows or fieldnames:
        writer = csv.DictWriter(out, fieldnames=fieldnames or list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def weekly_rows(
    svc: Services, jobs: JobStore, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """One row per unit of the policy for the week ``[start, end)`` (see the module doc)."""
    submitted: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    async for _, record in svc.audit.records(since_ts=start.timestamp()):
        if record.get("ts", 0) >= end.timestamp():
            break
        if record.get("action") != "post.publish":
            continue
        unit = record.get("actor", {}).get("unit", "")
        if record.get("details", {}).get("voids"):
            # the same attempt, first audited as approved, then lost the race for its tokens
            refused[unit] += 1
            continue
        submitted[unit] += 1
        if record.get("result") == "refused":
            refused[unit] += 1
    units_of = {p.id: p.unit for p in await svc.principals.list_all()}
    published: Counter[str] = Counter(
        units_of.get(j.submitted_by, j.unit)
        for j in await jobs.in_range(start.timestamp(), end.timestamp())
        if j.kind == "publish" and j.state == "published"
    )
    material = await MaterialService(svc).count_by_unit(start.timestamp(), end.timestamp())
    policy = svc.settings.policy
    rows: list[dict[str, Any]] = []
    for unit in policy.units.values():
        delivered = material[unit.id] + published[unit.id]
        expected = unit.kind != "hq" and unit.id != policy.brand_pr_unit
        flags = []
        if expected and delivered == 0:
            flags.append("silent")
        elif unit.weekly_quota and delivered < unit.weekly_quota:
            flags.append("under_quota")
        if unit.kind != "hq" and not unit.information_administrator.strip():
            flags.append("no_information_administrator")
        rows.append(
            {
                "unit": unit.id,
                "name": unit.name,
                "kind": unit.kind,
                "information_administrator": unit.information_administrator,
                "material": material[unit.id],
                "published": published[unit.id],
                "delivered": delivered,
                "weekly_quota": unit.weekly_quota,
                "submitted": submitted[unit.id],
                "refused": refused[unit.id],
                "flags": ";".join(flags),
            }
        )
    return rows


async def alert_counts(svc: Services, since: float, until: float) -> dict[str, Counter[str]]:
    """Per account, the alerts detected in ``[since, until)``: a count per kind, ``total`` and
    ``state_<state>`` (their state now)."""
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for alert in await AlertStore(svc.redis, svc.keys).list(
        since=since, until=until, limit=10_000_000
    ):
        counts = per[alert.account]
        counts[alert.kind] += 1
        counts["total"] += 1
        counts[f"state_{alert.state}"] += 1
    return per


ALERT_ROW_FIELDS = ["account", "unit", "platform", "name", *ALERT_KINDS, "alerts"]


async def weekly_alert_rows(svc: Services, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One row per account (every filed one, and any other with alerts): its alerts of the week
    ``[start, end)`` per kind and in all."""
    per = await alert_counts(svc, start.timestamp(), end.timestamp())
    accounts = {a.id: a for a in await svc.accounts.list_all()}
    rows: list[dict[str, Any]] = []
    for account_id in sorted(set(accounts) | set(per)):
        account, counts = accounts.get(account_id), per.get(account_id, Counter())
        rows.append(
            {
                "account": account_id,
                "unit": account.unit if account else "",
                "platform": account.platform if account else "",
                "name": account.name if account else "",
                **{kind: counts[kind] for kind in ALERT_KINDS},
                "alerts": counts["total"],
            }
        )
    return rows


async def weekly(request: web.Request) -> web.Response:
    query = parsed_query(request)
    week = query["week"] or _current_week()
    start, end = _week_bounds(week)
    svc = services(request)
    if query["format"] == "csv" and query["table"] == "alerts":
        alert_rows = await weekly_alert_rows(svc, start, end)
        return csv_response(alert_rows, f"mediagate-weekly-alerts-{week}.csv", ALERT_ROW_FIELDS)
    rows = await weekly_rows(svc, request.app[GATE].jobs, start, end)
    if query["format"] == "csv":
        return csv_response(rows, f"mediagate-weekly-{week}.csv")
    return json_response(
        {
            "week": week,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "units": [{**r, "flags": r["flags"].split(";") if r["flags"] else []} for r in rows],
            "alerts": await weekly_alert_rows(svc, start, end),
        }
    )


async def annual(request: web.Request) -> web.Response:
    svc, gate = services(request), request.app[GATE]
    query = parsed_query(request)
    year: int = query["year"] or datetime.now(CST).year
    start = datetime(year, 1, 1, tzinfo=CST)
    end = datetime(year + 1, 1, 1, tzinfo=CST)
    jobs = await gate.jobs.in_range(start.timestamp(), end.timestamp())
    per_account: dict[str, Counter[str]] = defaultdict(Counter)
    for job in jobs:
        per_account[job.account][f"{job.kind}_{job.state}"] += 1
        per_account[job.account]["total"] += 1
    alerts = await alert_counts(svc, start.timestamp(), end.timestamp())
    rows = []
    for account in await svc.accounts.list_all():
        counts = per_account.get(account.id, Counter())
        bypass = alerts.get(account.id, Counter())
        rows.append(
            {
                "account": account.id,
                "platform": account.platform,
                "name": account.name,
                "unit": account.unit,
                "state": account.state,
                "filing_version": account.version,
                "filed_at": _iso(account.filed_at),
                "approved_at": _iso(account.approved_at),
                "operators": " ".join(account.operators),
                "jobs": counts["total"],
                "published": counts["publish_published"],
                "updated": counts["update_published"],
                "deleted": counts["delete_deleted"],
                "interactions": counts["interaction_published"],  # comments, replies, reposts
                "failed": sum(v for k, v in counts.items() if k.endswith("_failed")),
                "unconfirmed": sum(v for k, v in counts.items() if k.endswith("_unconfirmed")),
                # bypass alerts detected in the year (Art. 19, 22; docs/bypass.md)
                "alerts": bypass["total"],
                **{f"alerts_{kind}": bypass[kind] for kind in ALERT_KINDS},
                "alerts_acknowledged": bypass["state_acknowledged"],
                "alerts_frozen": bypass["state_frozen"],
            }
        )
    if query["format"] == "csv":
        return csv_response(rows, f"mediagate-annual-{year}.csv")
    return json_response(
        {"year": year, "accounts": rows, "bypass": [r["account"] for r in rows if r["alerts"]]}
    )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(CST).isoformat() if ts else ""
