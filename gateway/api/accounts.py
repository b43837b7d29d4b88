"""Account filing (Art. 7): unit heads file, Brand-PR approves; everyone in scope can list."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from gateway.accounts import ACCOUNT_ID_RE
from gateway.api.common import audit, body, json_response, services
from gateway.authz import covers, require_unit
from gateway.errors import NotFound, field_error
from gateway.middleware import principal_of
from gateway.validation import expect_keys, take_obj, take_str, take_str_list

PLATFORM_RE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_SETTING_VALUE_TYPES = (str, int, float, bool)


def _settings(raw: dict[str, Any]) -> dict[str, Any]:
    """Non-secret connector settings of an account (base URL, link domain ...)."""
    if len(raw) > 32:
        raise field_error("settings", "at most 32 settings")
    for key, value in raw.items():
        items = value if isinstance(value, list) else [value]
        if len(items) > 50 or not all(
            isinstance(v, _SETTING_VALUE_TYPES) and not (isinstance(v, str) and len(v) > 2000)
            for v in items
        ):
            raise field_error(
                f"settings.{key}", "must be a string, number, boolean or a short list of them"
            )
        if any(word in key.lower() for word in ("secret", "password", "token", "key")):
            raise field_error(
                f"settings.{key}",
                "looks like a credential: store it with PUT /admin/vault/{account}",
            )
    return raw


async def file_account(request: web.Request) -> web.Response:
    svc, principal = services(request), principal_of(request)
    data = await body(request)
    expect_keys(data, "", ("id", "platform", "name", "unit", "operators", "settings", "note"))
    account_id = take_str(data, "id", max_chars=63)
    if not ACCOUNT_ID_RE.match(account_id):
        raise field_error("id", "lower-case letters, digits, '-' and '_', 2-63 characters")
    platform = take_str(data, "platform", max_chars=32)
    if not PLATFORM_RE.match(platform):
        raise field_error("platform", "must be a platform name such as wechat, weibo, wordpress")
    unit = take_str(data, "unit", max_chars=64)
    if unit not in svc.settings.policy.units:
        raise field_error("unit", f"unknown unit {unit!r}")
    require_unit(svc.settings.policy, principal, unit, "file accounts")
    name = take_str(data, "name", max_chars=200, min_chars=1)
    operators = take_str_list(data, "operators", required=False, max_items=50, max_chars=64)
    settings = _settings(take_obj(data, "settings", required=False))
    note = take_str(data, "note", required=False, max_chars=2000)
    old = await svc.accounts.check_filing(account_id, platform=platform, unit=unit)
    # Audit first: if the record cannot be written, nothing is filed.
    await audit(
        request,
        "account.file",
        account_id,
        details={
            "version": old.version + 1 if old else 1,
            "platform": platform,
            "unit": unit,
            "name": name,
        },
    )
    account = await svc.accounts.file(
        account_id=account_id,
        platform=platform,
        name=name,
        unit=unit,
        operators=operators,
        settings=settings,
        filed_by=principal.id,
        note=note,
    )
    return json_response(account.public(), status=201)


async def _decide(request: web.Request, approve: bool) -> web.Response:
    svc, principal = services(request), principal_of(request)
    data = await body(request) if request.can_read_body else {}
    expect_keys(data, "", ("note",))
    note = take_str(data, "note", required=False, max_chars=2000)
    account_id = request.match_info["account"]
    pending = await svc.accounts.check_pending(account_id)
    await audit(
        request,
        "account.approve" if approve else "account.reject",
        account_id,
        decision="active" if approve else "rejected",
        reasons=[note] if note else [],
        details={"version": pending.version},
    )
    account = await svc.accounts.decide(account_id, approve=approve, by=principal.id, note=note)
    return json_response(account.public())


async def approve_account(request: web.Request) -> web.Response:
    return await _decide(request, True)


async def reject_account(request: web.Request) -> web.Response:
    return await _decide(request, False)


async def list_accounts(request: web.Request) -> web.Response:
    svc, principal = services(request), principal_of(request)
    state = request.query.get("state")
    accounts = await svc.accounts.list_all(state=state)
    visible = [a for a in accounts if covers(svc.settings.policy, principal, a.unit)]
    return json_response(
        {
            "accounts": [
                {
                    "id": a.id,
                    "platform": a.platform,
                    "name": a.name,
                    "unit": a.unit,
                    "state": a.state,
                    "version": a.version,
                }
                for a in visible
            ]
        }
    )


async def get_account(request: web.Request) -> web.Response:
    svc, principal = services(request), principal_of(request)
    account = await svc.accounts.require(request.match_info["account"])
    if not covers(svc.settings.policy, principal, account.unit):
        raise NotFound(f"no account {account.id!r}")
    versions = await svc.accounts.versions(account.id)
    freeze = await svc.freeze.blocking(account=account.id, unit=account.unit)
    return json_response(
        {
            **account.public(),
            "frozen": freeze.public() if freeze else None,
            "previous_versions": [v.public() for v in versions],
        }
    )
