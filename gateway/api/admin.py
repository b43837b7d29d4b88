"""Admin endpoints: freeze switch (Art. 8), credential vault (Art. 20), keys, audit check."""

from __future__ import annotations

from typing import cast

from aiohttp import web

from gateway.api.common import audit, json_response, parsed_body, parsed_query, services
from gateway.audit import Anchor
from gateway.errors import NotFound, field_error
from gateway.freeze import Scope, freeze_audited
from gateway.grants import KeyGrants
from gateway.middleware import REQUEST_ID, principal_of
from gateway.principals import IssuedKey
from gateway.services import actor_of


async def _freeze_args(request: web.Request) -> tuple[Scope, str, str]:
    data = await parsed_body(request)
    scope = cast(Scope, data["scope"])
    target: str = data["id"] or ""
    reason: str = data["reason"] or ""
    svc = services(request)
    if scope == "unit" and target not in svc.settings.policy.units:
        raise NotFound(
            f"unknown unit {target!r}", errors=[{"field": "id", "message": "unknown unit"}]
        )
    if scope == "account" and await svc.accounts.get(target) is None:
        raise NotFound(
            f"unknown account {target!r}", errors=[{"field": "id", "message": "unknown account"}]
        )
    return scope, target, reason


async def freeze(request: web.Request) -> web.Response:
    scope, target, reason = await _freeze_args(request)
    record = await freeze_audited(
        services(request),
        actor_of(principal_of(request)),
        scope,
        target,
        reason=reason,
        request_id=request.get(REQUEST_ID, ""),
    )
    return json_response(record.public(), status=201)


async def unfreeze(request: web.Request) -> web.Response:
    scope, target, reason = await _freeze_args(request)
    svc = services(request)
    await audit(request, "unfreeze", f"{scope}:{target or '*'}", reasons=[reason] if reason else [])
    removed = await svc.freeze.unfreeze(scope, target)
    return json_response({"scope": scope, "id": target or "*", "removed": removed})


async def list_freezes(request: web.Request) -> web.Response:
    return json_response(
        {"freezes": [f.public() for f in await services(request).freeze.list_all()]}
    )


async def put_credentials(request: web.Request) -> web.Response:
    svc = services(request)
    account_id = request.match_info["account"]
    if await svc.accounts.get(account_id) is None:
        raise NotFound(f"no account {account_id!r}", field="account")
    # Messages name the field, never the value.
    fields: dict[str, str] = (await parsed_body(request))["fields"]
    vault = svc.vault
    await audit(request, "vault.put", account_id, details={"fields": sorted(fields)})
    metas = await vault.put(account_id, fields, actor=principal_of(request).id)
    # Cached platform tokens were made with the old credentials.
    await svc.redis.delete(*[svc.keys.platform_token(account_id, n) for n in ("access_token",)])
    return json_response({"account": account_id, "fields": [m.public() for m in metas]})


async def get_credentials(request: web.Request) -> web.Response:
    svc = services(request)
    account_id = request.match_info["account"]
    metas = await svc.vault.metadata(account_id)
    if not metas and await svc.accounts.get(account_id) is None:
        raise NotFound(f"no account {account_id!r}", field="account")
    return json_response({"account": account_id, "fields": [m.public() for m in metas]})


async def delete_credentials(request: web.Request) -> web.Response:
    svc = services(request)
    account_id = request.match_info["account"]
    names: list[str] = parsed_query(request)["field"] or []
    vault = svc.vault
    await audit(request, "vault.delete", account_id, details={"fields": names or ["*"]})
    removed = await vault.delete(account_id, names)
    return json_response({"account": account_id, "removed": removed})


def _grants(request: web.Request) -> KeyGrants:
    svc = services(request)
    return KeyGrants(svc.redis, svc.keys, svc.principals)


def _issued(issued: IssuedKey) -> web.Response:
    return json_response(
        {**issued.principal.public(), "key": issued.key},
        status=201,
        headers={"Cache-Control": "no-store"},
    )


async def create_key(request: web.Request) -> web.Response:
    """Editor and auditor keys at once (201); approver and admin keys are proposed (202) and
    take a second person's confirmation (:mod:`gateway.grants`)."""
    svc = services(request)
    data = await parsed_body(request)
    role, unit, name = data["role"], data["unit"], data["name"]
    details = {"role": role, "unit": unit, "name": name}
    if KeyGrants.needs_second_person(role):
        grants = _grants(request)
        await svc.principals.check_name(name)
        await audit(request, "key.propose", details=details)
        proposal = await grants.propose(principal_of(request), name=name, role=role, unit=unit)
        return json_response(proposal.public(), status=202)
    await svc.principals.check_name(name)
    await audit(request, "key.create", details=details)
    issued = await svc.principals.create(name=name, role=role, unit=unit)
    await audit(request, "key.created", issued.principal.id)
    return _issued(issued)


async def list_key_proposals(request: web.Request) -> web.Response:
    pending = await _grants(request).list_pending()
    return json_response({"proposals": [p.public() for p in pending]})


async def confirm_key_proposal(request: web.Request) -> web.Response:
    grants, by = _grants(request), principal_of(request)
    proposal = await grants.get(request.match_info["proposal_id"])
    grants.check_confirmer(proposal, by)
    await services(request).principals.check_name(proposal.name)
    await audit(
        request,
        "key.confirm",
        proposal.id,
        details={
            "role": proposal.role,
            "unit": proposal.unit,
            "name": proposal.name,
            "proposed_by": proposal.proposed_by,
        },
    )
    issued = await grants.confirm(proposal, by)
    await audit(request, "key.created", issued.principal.id, details={"proposal": proposal.id})
    return _issued(issued)


async def reject_key_proposal(request: web.Request) -> web.Response:
    grants = _grants(request)
    proposal = await grants.get(request.match_info["proposal_id"])
    await audit(request, "key.proposal.reject", proposal.id, details={"name": proposal.name})
    await grants.reject(proposal)
    return json_response({**proposal.public(), "state": "rejected"})


async def list_keys(request: web.Request) -> web.Response:
    principals = await services(request).principals.list_all()
    return json_response({"keys": [p.public() for p in principals]})


async def revoke_key(request: web.Request) -> web.Response:
    svc = services(request)
    key_id = request.match_info["key_id"]
    if await svc.principals.get(key_id) is None:
        raise NotFound(f"no key {key_id!r}")
    await audit(request, "key.revoke", key_id)
    principal = await svc.principals.revoke(key_id)
    return json_response(principal.public() if principal else {})


MAX_ANCHORS = 100


async def verify_audit(request: web.Request) -> web.Response:
    """Recompute the chain; ``?anchor=SEQ:HASH`` (repeatable) also checks heads noted earlier.
    The answer's ``head`` is the anchor to note for the next check."""
    given: list[str] = parsed_query(request)["anchor"] or []
    try:
        anchors = [Anchor.parse(a) for a in given]
    except ValueError as exc:  # the declared pattern admits only what parses
        raise field_error("anchor", str(exc)) from None
    result = await services(request).audit.verify(anchors)
    return json_response(
        {
            "ok": result.ok,
            "records": result.records,
            "head": str(result.head) if result.head else None,
            "anchors_checked": result.anchors if result.ok else None,
            "broken_at": result.broken_at or None,
            "broken_seq": result.broken_seq if not result.ok else None,
            "reason": result.reason or None,
        },
        status=200,
    )
