"""Account filing (Art. 7): unit heads file, Brand-PR approves; everyone in scope can list."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import audit, json_response, parsed_body, parsed_query, services
from gateway.authz import covers, require_unit
from gateway.errors import NotFound
from gateway.middleware import principal_of


async def file_account(request: web.Request) -> web.Response:
    svc, principal = services(request), principal_of(request)
    data = await parsed_body(request)
    account_id, platform, unit, name = data["id"], data["platform"], data["unit"], data["name"]
    require_unit(svc.settings.policy, principal, unit, "file accounts")
    operators, settings = data["operators"] or [], data["settings"] or {}
    note = data["note"] or ""
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
    note: str = (await parsed_body(request))["note"] or ""
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
    state = parsed_query(request)["state"]
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
