"""The OpenAPI 3.1 document, generated from the route table so it cannot drift."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import gateway

_S = {"type": "string"}
_POST = {
    "type": "object",
    "required": ["content", "category"],
    "additionalProperties": False,
    "properties": {
        "title": _S,
        "digest": _S,
        "author": _S,
        "content": {**_S, "description": "HTML allowed"},
        "source": {**_S, "description": "Required to publish (Art. 15)"},
        "category": {"enum": ["company", "news", "culture", "other"]},
        "cover": {"$ref": "#/components/schemas/Image"},
        "images": {"type": "array", "items": {"$ref": "#/components/schemas/Image"}},
    },
}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": _S,
            "title": _S,
            "status": {"type": "integer"},
            "detail": _S,
            "instance": _S,
            "request_id": _S,
            "errors": {
                "type": "array",
                "items": {"type": "object", "properties": {"field": _S, "message": _S}},
            },
        },
    },
    "Image": {
        "type": "object",
        "required": ["filename", "content_type", "data"],
        "properties": {
            "filename": _S,
            "content_type": _S,
            "data": {**_S, "contentEncoding": "base64"},
        },
    },
    "Post": _POST,
    "Finding": {
        "type": "object",
        "properties": {
            k: _S for k in ("detector", "rule", "category", "severity", "action", "field", "text")
        }
        | {
            "start": {"type": "integer"},
            "end": {"type": "integer"},
            "evidence": {"type": "object"},
        },
    },
    "AccountFiling": {
        "type": "object",
        "required": ["id", "platform", "name", "unit"],
        "properties": {
            "id": _S,
            "platform": _S,
            "name": _S,
            "unit": _S,
            "operators": {"type": "array", "items": _S},
            "settings": {"type": "object"},
            "note": _S,
        },
    },
    "Note": {"type": "object", "properties": {"note": _S}},
    "Freeze": {
        "type": "object",
        "required": ["scope"],
        "properties": {"scope": {"enum": ["account", "unit", "all"]}, "id": _S, "reason": _S},
    },
    "VaultPut": {
        "type": "object",
        "required": ["fields"],
        "properties": {"fields": {"type": "object", "additionalProperties": _S}},
    },
    "KeyCreate": {
        "type": "object",
        "required": ["name", "role", "unit"],
        "properties": {
            "name": _S,
            "role": {"enum": ["editor", "unit_head", "brand_pr", "leader", "admin", "auditor"]},
            "unit": _S,
        },
    },
    "ScreenRequest": {
        "type": "object",
        "required": ["post"],
        "properties": {"post": {"$ref": "#/components/schemas/Post"}},
    },
    "ApprovalRequest": {
        "type": "object",
        "required": ["post", "accounts", "decision"],
        "properties": {
            "post": {"$ref": "#/components/schemas/Post"},
            "accounts": {"type": "array", "items": _S},
            "decision": {"enum": ["approve", "reject"]},
            "reason": _S,
            "attest": {"type": "array", "items": _S},
        },
    },
    "PublishRequest": {
        "type": "object",
        "required": ["account", "post"],
        "properties": {
            "account": _S,
            "post": {"$ref": "#/components/schemas/Post"},
            "approvals": {"type": "array", "items": _S},
        },
    },
    "PostEdit": {
        "type": "object",
        "required": ["post"],
        "properties": {
            "post": {"$ref": "#/components/schemas/Post"},
            "approvals": {"type": "array", "items": _S},
        },
    },
    "LexiconTerms": {
        "type": "object",
        "required": ["terms"],
        "properties": {"terms": {"type": "array", "items": _S}, "severity": _S, "action": _S},
    },
    "JobResolve": {
        "type": "object",
        "required": ["resolution"],
        "properties": {
            "resolution": {"enum": ["retry", "published", "failed"]},
            "reason": _S,
            "platform_id": _S,
            "url": _S,
        },
    },
}

_PROBLEM_REF = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@cache
def openapi_document() -> dict[str, Any]:
    from gateway.routes import ROUTES

    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        op: dict[str, Any] = {
            "summary": route.summary,
            "operationId": f"{route.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', route.path)}",
            "tags": [route.tag] if route.tag else [],
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": "A problem", "content": _PROBLEM_REF},
            },
        }
        if route.roles is not None:
            op["security"] = [{"bearer": []}]
            op["x-roles"] = sorted(route.roles)
        params = re.findall(r"{(\w+)}", route.path)
        if params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": _S} for p in params
            ]
        if route.request:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{route.request}"}
                    }
                },
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
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
