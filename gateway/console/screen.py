"""Live screening for the compose page: the draft's findings and the approvals it will need.

``static/compose.js`` posts the draft here as JSON (with the session's CSRF token in a header)
while the editor types. The answer is what ``POST /v1/screen`` answers, per chosen account.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.appkeys import GATE
from gateway.console.context import me, services
from gateway.errors import NotFound
from gateway.gate import acts_for, post_hash
from gateway.postmodel import parse_post
from gateway.validation import expect_keys, read_json, take_str_list

MAX_ACCOUNTS = 20


async def screen(request: web.Request) -> web.Response:
    svc, principal, gate = services(request), me(request), request.config_dict[GATE]
    limits = svc.settings.limits
    data = await read_json(
        request, max_bytes=limits.max_body_bytes, max_depth=limits.max_json_depth
    )
    expect_keys(data, "", ("post", "accounts"))
    post = parse_post(data.get("post"), limits)
    account_ids = take_str_list(
        data, "accounts", required=False, max_items=MAX_ACCOUNTS, max_chars=64
    )
    result = await gate.screening.screen(post.texts())
    answer: dict[str, Any] = {
        **result.to_json(),
        "content_sha256": post_hash(post),
        "accounts": [],
    }
    for i, account_id in enumerate(account_ids):
        account = await svc.accounts.get(account_id)
        if account is None or not acts_for(svc.settings.policy, principal, account.unit):
            raise NotFound(f"no account {account_id!r}", field=f"accounts[{i}]")
        assessment = await gate.assess(principal, account, post)
        answer["accounts"].append(
            {
                "account": account.id,
                "name": account.name,
                "required_approvals": [r.public() for r in assessment.required],
            }
        )
    if not post.source.strip():
        answer.setdefault("warnings", []).append("未注明来源的内容不予发布（第十五条）")
    return web.json_response(answer, dumps=lambda v: json.dumps(v, ensure_ascii=False))
