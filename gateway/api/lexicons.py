"""Admin lexicon terms (any category, including a unit's confidential codenames).

A change bumps the global lexicon version; every gateway process applies it within a second
(``screening.reload_poll_s``) without a restart.
"""

from __future__ import annotations

import re

from aiohttp import web

from gateway.api.common import audit, json_response, parsed_body, parsed_query, services
from gateway.appkeys import GATE
from gateway.errors import field_error
from gateway.middleware import principal_of

CATEGORY_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def _category(request: web.Request) -> str:
    category = request.match_info["category"]
    if not CATEGORY_RE.match(category):
        raise field_error("category", "lower-case letters, digits and _, starting with a letter")
    return category


async def add_terms(request: web.Request) -> web.Response:
    category = _category(request)
    data = await parsed_body(request)
    terms, severity, action = data["terms"], data["severity"], data["action"]
    await audit(
        request,
        "lexicon.add",
        category,
        details={"terms": len(terms), "severity": severity, "action": action},
    )
    gate = request.app[GATE]
    entry = await gate.screening.change_terms(
        category, add=terms, action=action, severity=severity, by=principal_of(request).id
    )
    await gate.screening.reload()
    return json_response(entry.public(), status=201)


async def remove_terms(request: web.Request) -> web.Response:
    category = _category(request)
    terms = (await parsed_body(request))["terms"]
    await audit(request, "lexicon.remove", category, details={"terms": len(terms)})
    gate = request.app[GATE]
    entry = await gate.screening.change_terms(category, remove=terms, by=principal_of(request).id)
    await gate.screening.reload()
    return json_response(entry.public())


async def list_lexicons(request: web.Request) -> web.Response:
    gate = request.app[GATE]
    admin = await gate.screening.admin_lexicons()
    with_terms = parsed_query(request)["terms"] == "1"
    return json_response(
        {
            "version": gate.screening.applied_version,
            "admin": [a.public(with_terms=with_terms) for a in admin],
            "files": gate.screening.file_lexicons(),
            "categories": {
                name: {"action": c.action, "require": list(c.require), "severity": c.severity}
                for name, c in services(request).settings.policy.categories.items()
            },
        }
    )
