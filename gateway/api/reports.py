"""Reports: the weekly per-unit activity (Art. 9, 23) and the annual filing export (Art. 24).

Weeks are ISO weeks in China Standard Time (UTC+8). ``submitted`` counts every publish attempt
recorded in the audit log (approved or refused), ``published`` the jobs that reached the
platform. A unit whose ``weekly_quota`` (policy) is above its submissions is flagged, and so is a
unit with no editor key (no information administrator, Art. 9).
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


def _csv(rows: list[dict[str, Any]], filename: str) -> web.Response:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def weekly(request: web.Request) -> web.Response:
    svc, gate = services(request), request.app[GATE]
    query = parsed_query(request)
    week = query["week"] or _current_week()
    start, end = _week_bounds(week)
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
    jobs = await gate.jobs.in_range(start.timestamp(), end.timestamp())
    published: Counter[str] = Counter(
        j.unit for j in jobs if j.kind == "publish" and j.state == "published"
    )
    editors: Counter[str] = Counter()
    for principal in await svc.principals.list_all():
        if principal.role == "editor" and not principal.revoked:
            editors[principal.unit] += 1
    rows: list[dict[str, Any]] = []
    for unit in svc.settings.policy.units.values():
        flags = []
        if unit.weekly_quota and submitted[unit.id] < unit.weekly_quota:
            flags.append("under_quota")
        if unit.kind != "hq" and not editors[unit.id]:
            flags.append("no_information_administrator")
        rows.append(
            {
                "unit": unit.id,
                "name": unit.name,
                "kind": unit.kind,
                "submitted": submitted[unit.id],
                "refused": refused[unit.id],
                "published": published[unit.id],
                "weekly_quota": unit.weekly_quota,
                "flags": ";".join(flags),
            }
        )
    if query["format"] == "csv":
        return _csv(rows, f"mediagate-weekly-{week}.csv")
    return json_response(
        {
            "week": week,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "units": [{**r, "flags": r["flags"].split(";") if r["flags"] else []} for r in rows],
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
    rows = []
    for account in await svc.accounts.list_all():
        counts = per_account.get(account.id, Counter())
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
                "failed": sum(v for k, v in counts.items() if k.endswith("_failed")),
                "unconfirmed": sum(v for k, v in counts.items() if k.endswith("_unconfirmed")),
            }
        )
    if query["format"] == "csv":
        return _csv(rows, f"mediagate-annual-{year}.csv")
    return json_response({"year": year, "accounts": rows})


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(CST).isoformat() if ts else ""
