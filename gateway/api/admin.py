"""Admin endpoints: freeze switch (Art. 8), credential vault (Art. 20), keys, audit check."""

from __future__ import annotations

import re
from typing import cast

from aiohttp import web

from gateway.api.common import audit, body, json_response, services
from gateway.audit import Anchor
from gateway.errors import NotFound, field_error
from gateway.freeze import Scope
from gateway.middleware import principal_of
from gateway.settings import ROLES
from gateway.validation import expect_keys, take_obj, take_str
from gateway.vault import FIELD_NAME_CHARS, MAX_FIELDS, MAX_VALUE_CHARS

FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


async def _freeze_args(request: web.Request) -> tuple[Scope, str, str]:
    data = await body(request)
    expect_keys(data, "", ("scope", "id", "reason"))
    scope = cast(Scope, take_str(data, "scope", choices=("account", "unit", "all")))
    target = take_str(data, "id", required=scope != "all", max_chars=64)
    reason = take_str(data, "reason", required=False, max_chars=2000)
    svc = services(request)
    if scope == "unit" and target not in svc.settings.policy.units:
        raise field_error("id", f"unknown unit {target!r}")
    if scope == "account" and await svc.accounts.get(target) is None:
        raise field_error("id", f"unknown account {target!r}")
    return scope, target, reason


async def freeze(request: web.Request) -> web.Response:
    scope, target, reason = await _freeze_args(request)
    if not reason:
        raise field_error("reason", "is required to freeze")
    svc = services(request)
    await audit(request, "freeze", f"{scope}:{target or '*'}", reasons=[reason])
    record = await svc.freeze.freeze(
        scope,
        target,
        reason=reason,
        by=principal_of(request).id,
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
    data = await body(request)
    expect_keys(data, "", ("fields",))
    fields = take_obj(data, "fields")
    if not fields:
        raise field_error("fields", "at least one field is required")
    if len(fields) > MAX_FIELDS:
        raise field_error("fields", f"at most {MAX_FIELDS} fields")
    for name, value in fields.items():
        if not FIELD_RE.match(name):
            raise field_error(
                "fields", f"field names are letters, digits and _, ≤ {FIELD_NAME_CHARS} characters"
            )
        # The message names the field, never the value.
        if not isinstance(value, str) or not value:
            raise field_error(f"fields.{name}", "must be a non-empty string")
        if len(value) > MAX_VALUE_CHARS:
            raise field_error(f"fields.{name}", f"longer than {MAX_VALUE_CHARS} characters")
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
    names = [n for n in request.query.getall("field", []) if n]
    vault = svc.vault
    await audit(request, "vault.delete", account_id, details={"fields": names or ["*"]})
    removed = await vault.delete(account_id, names)
    return json_response({"account": account_id, "removed": removed})


async def create_key(request: web.Request) -> web.Response:
    svc = services(request)
    data = await body(request)
    expect_keys(data, "", ("name", "role", "unit"))
    role = take_str(data, "role", choices=ROLES)
    unit = take_str(data, "unit", max_chars=64)
    if unit not in svc.settings.policy.units:
        raise field_error("unit", f"unknown unit {unit!r}")
    name = take_str(data, "name", max_chars=200, min_chars=1)
    await audit(request, "key.create", details={"role": role, "unit": unit, "name": name})
    issued = await svc.principals.create(name=name, role=role, unit=unit)
    await audit(request, "key.created", issued.principal.id)
    return json_response(
        {**issued.principal.public(), "key": issued.key},
        status=201,
        headers={"Cache-Control": "no-store"},
    )


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
    given = request.query.getall("anchor", [])
    if len(given) > MAX_ANCHORS:
        raise field_error("anchor", f"at most {MAX_ANCHORS} anchors per request")
    try:
        anchors = [Anchor.parse(a) for a in given]
    except ValueError as exc:
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
