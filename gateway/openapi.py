"""The OpenAPI 3.1 document, written from the route table and the body definitions.

Request bodies and query parameters come from :mod:`gateway.api.bodies` (the definitions the
handlers parse with), so every limit the server enforces is declared; answers are declared per
operation with their status codes and media types; problems (RFC 9457) for every 4xx/5xx.
Response schemas (:data:`ANSWERS`) list the members an answer always has and let later
versions add more.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import gateway
from gateway.api.bodies import IDEMPOTENCY_KEY, PATH_PARAMS, QUERIES, request_bodies
from gateway.postmodel import ImageType, post_type

if TYPE_CHECKING:
    from gateway.routes import Route
    from gateway.settings import LimitSettings, Settings

_S: dict[str, Any] = {"type": "string"}
_INT: dict[str, Any] = {"type": "integer"}
_NUM: dict[str, Any] = {"type": "number"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_OBJ: dict[str, Any] = {"type": "object"}
_STRS: dict[str, Any] = {"type": "array", "items": _S}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An answer object: ``required`` members always present, more may be added later."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": _S,
        "title": _S,
        "status": _INT,
        "detail": _S,
        "instance": _S,
        "request_id": _S,
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {"field": _S, "message": _S}},
        },
    },
}
_JOB = _obj(
    {
        "id": _S,
        "kind": _S,
        "account": _S,
        "platform": _S,
        "unit": _S,
        "state": _S,
        "content_sha256": _S,
        "created_at": _NUM,
        "updated_at": _NUM,
    },
    {"platform_id": _S, "url": _S, "reason": _S, "approvals": {"type": "array"}},
)
_ACCOUNT = _obj(
    {"id": _S, "platform": _S, "name": _S, "unit": _S, "state": _S, "version": _INT},
    {"operators": _STRS, "settings": _OBJ},
)
_PRINCIPAL = _obj(
    {"id": _S, "name": _S, "role": _S, "unit": _S, "created_at": _NUM, "revoked": _BOOL}
)
_PROXY_CLIENT = _obj(
    {"appid": _S, "name": _S, "principal": _S, "accounts": _STRS, "kind": _S, "revoked": _BOOL},
    {"source": _S, "category": _S, "created_at": _NUM, "created_by": _S},
)
_FREEZE = _obj({"scope": _S, "id": _S, "reason": _S, "by": _S, "at": _NUM})
_VAULT_FIELD = _obj(
    {"field": _S, "version": _INT, "key_id": _S, "updated_by": _S, "updated_at": _NUM}
)
_FINDING = _obj(
    {k: _S for k in ("detector", "rule", "category", "severity", "action", "field", "text")}
    | {"start": _INT, "end": _INT},
    {"evidence": _OBJ},
)
_BYPASS_ALERT = _obj(
    {
        "id": _S,
        "kind": _S,
        "account": _S,
        "platform": _S,
        "platform_id": _S,
        "detected_at": _NUM,
        "state": _S,
    },
    {"title": _S, "url": _S, "job": _S, "diff": _S, "excerpt": _S, "audit_seq": _INT},
)

# Answers by name (``Route.answer``).
ANSWERS: dict[str, Any] = {
    "Problem": _PROBLEM,
    "Finding": _FINDING,
    "Live": _obj({"status": _S}),
    "Health": _obj({"status": _S}),
    "ScreenResult": _obj(
        {
            "decision": {"enum": ["pass", "review", "block"]},
            "findings": {"type": "array", "items": _ref("Finding")},
            "content_sha256": _S,
        },
        {"required_roles": _STRS, "required_approvals": {"type": "array"}, "warnings": _STRS},
    ),
    "ContentHash": _obj({"content_sha256": _S}),
    "Approval": _obj(
        {
            "token": _S,
            "jti": _S,
            "decision": {"enum": ["approve", "reject"]},
            "content_sha256": _S,
            "accounts": _STRS,
            "role": _S,
            "unit": _S,
            "issued_at": _NUM,
            "expires_at": _NUM,
        },
        {"screening": _OBJ},
    ),
    "Job": {**_JOB, "properties": {**_JOB["properties"], "post_url": _S}},
    "JobWithHistory": {
        **_JOB,
        "required": [*_JOB["required"], "history"],
        "properties": {**_JOB["properties"], "history": {"type": "array"}},
    },
    "JobList": _obj({"posts": {"type": "array", "items": _JOB}, "count": _INT}),
    "WeeklyReport": _obj({"week": _S, "from": _S, "to": _S, "units": {"type": "array"}}),
    "AnnualReport": _obj({"year": _INT, "accounts": {"type": "array"}}),
    "LexiconEntry": _OBJ,
    "Lexicons": _obj(
        {"version": _INT, "admin": {"type": "array"}, "files": {}, "categories": _OBJ}
    ),
    "Account": _ACCOUNT,
    "AccountList": _obj({"accounts": {"type": "array", "items": _ACCOUNT}}),
    "AccountDetail": {
        **_ACCOUNT,
        "required": [*_ACCOUNT["required"], "frozen", "previous_versions"],
        "properties": {
            **_ACCOUNT["properties"],
            "frozen": _nullable(_FREEZE),
            "previous_versions": {"type": "array"},
        },
    },
    "ReconcileReport": _obj(
        {
            "account": _S,
            "platform": _S,
            "listed": _BOOL,
            "result": _S,
            "reason": _S,
            "items_seen": _INT,
            "fetched": _INT,
            "alerts": {"type": "array", "items": _BYPASS_ALERT},
        },
        {"at": _NUM},
    ),
    "FreezeRecord": _FREEZE,
    "Unfrozen": _obj({"scope": _S, "id": _S, "removed": {}}),
    "FreezeList": _obj({"freezes": {"type": "array", "items": _FREEZE}}),
    "VaultMeta": _obj({"account": _S, "fields": {"type": "array", "items": _VAULT_FIELD}}),
    "VaultDeleted": _obj({"account": _S, "removed": {}}),
    "Principal": _PRINCIPAL,
    "KeyCreated": {
        **_PRINCIPAL,
        "required": [*_PRINCIPAL["required"], "key"],
        "properties": {**_PRINCIPAL["properties"], "key": {**_S, "description": "shown once"}},
    },
    "ProxyClient": _PROXY_CLIENT,
    "ProxyClientCreated": _obj(
        {**_PROXY_CLIENT["properties"]},
        {
            "secret": {**_S, "description": "shown once (wechat)"},
            "access_token": _S,
            "expires_in": _INT,
        },
    ),
    "ProxyClientList": _obj({"items": {"type": "array", "items": _PROXY_CLIENT}}),
    "KeyList": _obj({"keys": {"type": "array", "items": _PRINCIPAL}}),
    "KeyProposal": _obj(
        {
            "id": _S,
            "name": _S,
            "role": _S,
            "unit": _S,
            "proposed_by": _S,
            "proposed_at": _NUM,
            "expires_at": _NUM,
            "state": {"enum": ["proposed", "rejected"]},
        }
    ),
    "KeyProposalList": _obj({"proposals": {"type": "array", "items": _ref("KeyProposal")}}),
    # the review desk (docs/desk.md)
    "Submission": _obj(
        {
            "id": _S,
            "version": _INT,
            "state": _S,
            "accounts": _STRS,
            "post": _OBJ,
            "content_sha256": _S,
            "decision": _S,
            "findings": {"type": "array", "items": _ref("Finding")},
            "required_approvals": {"type": "array", "items": _OBJ},
        }
    ),
    "SubmissionList": _obj(
        {"items": {"type": "array", "items": _obj({"id": _S, "state": _S})}, "count": _INT}
    ),
    "Preview": _obj(
        {
            "content_sha256": _S,
            "decision": _S,
            "findings": {"type": "array", "items": _ref("Finding")},
            "required_approvals": {"type": "array", "items": _OBJ},
        }
    ),
    "Inbox": _obj({"items": {"type": "array", "items": _OBJ}, "count": _INT}),
    # the hub (docs/hub.md)
    "Material": _obj(
        {
            "id": _S,
            "unit": _S,
            "title": _S,
            "text": _S,
            "images": {"type": "array", "items": _OBJ},
            "files": {"type": "array", "items": _OBJ},
        }
    ),
    "MaterialList": _obj({"items": {"type": "array", "items": _ref("Material")}, "count": _INT}),
    "Campaign": _obj(
        {"id": _S, "title": _S, "brief": _S, "units": _STRS, "due_at": _NUM},
        {"board": {"type": "array", "items": _OBJ}},
    ),
    "CampaignList": _obj({"items": {"type": "array", "items": _ref("Campaign")}, "count": _INT}),
    "AuditVerify": _obj(
        {"ok": _BOOL, "records": _INT},
        {"head": _nullable(_S), "broken_at": _nullable(_S), "reason": _nullable(_S)},
    ),
}

_PROBLEM_CONTENT = {"application/problem+json": {"schema": _ref("Problem")}}
_PROBLEMS = {
    400: "Not valid JSON or not valid Unicode text (the field is named)",
    401: "No API key, or an unknown or revoked one",
    403: "The caller's role or unit may not do this",
    404: "No such resource (or not visible to the caller)",
    405: "Method not allowed (see the Allow header)",
    409: "Conflicts with the resource's state (a replayed token, a duplicate)",
    413: "Body or image too large",
    415: "Content-Type is not JSON",
    422: "A field is invalid (errors name each field) or the content is blocked",
    423: "The account, its unit or everything is frozen",
    429: "Rate limit reached (see Retry-After)",
    503: "A part the gateway depends on is down; nothing was done",
}
_SUCCESS = {200: "OK", 201: "Created", 202: "Accepted: in progress"}


def _responses(route: Route) -> dict[str, Any]:
    answer = _ref(route.answer) if route.answer else _OBJ
    if route.media == "application/json":
        content: dict[str, Any] = {"application/json": {"schema": answer}}
    else:
        content = {route.media: {"schema": _S}}
    if route.csv:
        content["text/csv"] = {"schema": _S}
    responses: dict[str, Any] = {}
    for status in (route.status, *route.statuses):
        description = _SUCCESS.get(status) or _PROBLEMS.get(status, "")
        if status != route.status and route.other_answer:
            other = {"application/json": {"schema": _ref(route.other_answer)}}
            responses[str(status)] = {"description": description, "content": other}
        else:
            responses[str(status)] = {"description": description, "content": content}
    problems = {400, 405, 503}
    if route.roles is not None:
        problems |= {401, 403, 429}
    if route.request or route.query or "{" in route.path:
        problems |= {404, 422}
    if route.request:
        problems |= {409, 413, 415, 423}
    for status in sorted(problems):
        responses.setdefault(
            str(status), {"description": _PROBLEMS[status], "content": _PROBLEM_CONTENT}
        )
    responses["default"] = {"description": "A problem", "content": _PROBLEM_CONTENT}
    return responses


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": p,
            "in": "path",
            "required": True,
            "schema": PATH_PARAMS[p].json_schema() if p in PATH_PARAMS else _S,
        }
        for p in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query:
        for name, spec in QUERIES[route.query].fields.items():
            schema = spec.type.json_schema()
            param: dict[str, Any] = {"name": name, "in": "query", "required": spec.required}
            if schema.get("type") == "array":
                param |= {"style": "form", "explode": True}
            if spec.description:
                param["description"] = spec.description
            params.append({**param, "schema": schema})
    if route.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A replay with the same key and body answers the first result",
                "schema": IDEMPOTENCY_KEY.json_schema(),
            }
        )
    return params


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The document for ``settings`` (its limits and policy units); without, for the shipped
    configuration."""
    if settings is None:
        from gateway.settings import load_settings

        settings = load_settings(environ={})
    return _document(settings.limits, tuple(settings.policy.units))


@lru_cache(maxsize=8)
def _document(limits: LimitSettings, units: tuple[str, ...]) -> dict[str, Any]:
    from gateway.routes import ROUTES

    bodies = request_bodies(limits, units)
    schemas: dict[str, Any] = dict(ANSWERS)
    schemas["Post"] = post_type(limits).json_schema()
    schemas["Image"] = ImageType(limits.max_image_bytes).json_schema()
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        if not route.in_document:
            continue
        op: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.operation_id,
            "tags": [route.tag] if route.tag else [],
            "responses": _responses(route),
        }
        if route.roles is not None:
            op["security"] = [{"bearer": []}]
            op["x-roles"] = sorted(route.roles)
        params = _parameters(route)
        if params:
            op["parameters"] = params
        if route.request:
            schemas[route.request] = bodies[route.request].json_schema()
            op["requestBody"] = {
                "required": not route.body_optional,
                "content": {"application/json": {"schema": _ref(route.request)}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mediagate",
            "version": gateway.__version__,
            "description": "Publishing gateway with pre-publication gating.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
