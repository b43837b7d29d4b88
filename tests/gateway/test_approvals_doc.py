"""docs/approvals.md's worked example is what the gateway answers (issue #11: it was not).

The example's post is published to ``east-wechat`` with only the unit head's and Brand-PR's
tokens; the 403 problem's fields are compared with the JSON shown in the document (the parts the
document abbreviates with "…" aside).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.gate_support import EAST, Org, draft, start_org

DOC = Path(__file__).resolve().parents[2] / "docs" / "approvals.md"
CONTENT = (
    "华东分公司前三季度营收同比增长23%，净利润达到5.2亿元。"
    "董事长王建国出席了华东分公司的年度表彰大会。"
)


@pytest.fixture
async def org(make_client: MakeClient, settings: Any, callers: dict[str, Caller]) -> Org:
    return await start_org(make_client, settings, callers)


def _documented_problem() -> dict[str, Any]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r'```json\n(\{\n  "type": "[^"]*approvals-missing".*?)```', text, re.S)
    assert block, "docs/approvals.md: the approvals-missing example is gone"
    return dict(json.loads(block.group(1)))


async def test_the_worked_example_answers_what_the_document_shows(org: Org) -> None:
    assert EAST == "east-wechat"
    post = draft(CONTENT, title="华东分公司三季度经营情况")
    screened = await org.screen("editor", post, EAST)
    assert screened["required_roles"] == ["brand_pr", "leader", "unit_head"]
    tokens = [
        await org.approve("unit_head", post, [EAST]),
        await org.approve("brand_pr", post, [EAST]),
    ]
    resp = await org.publish("editor", EAST, post, tokens)
    body = await resp.json()
    assert resp.status == 403, body
    doc = _documented_problem()
    for key in ("type", "title", "status", "detail", "instance", "required_roles", "missing_roles"):
        assert body[key] == doc[key], (key, body[key])
    assert body["required_approvals"] == doc["required_approvals"]
    assert [a["role"] for a in body["missing_approvals"]] == ["leader"]
    assert body["token_errors"] == doc["token_errors"]
    shown = [(f["category"], f["field"], f["start"], f["end"], f["text"]) for f in doc["findings"]]
    found = [(f["category"], f["field"], f["start"], f["end"], f["text"]) for f in body["findings"]]
    assert found == shown
