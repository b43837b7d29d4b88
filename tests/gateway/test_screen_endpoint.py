"""``POST /v1/screen``: every text field, spans in the original text, required approvals for an
account the caller may publish to (and nothing about accounts it may not)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.gateway.conftest import Caller, file_active_account


async def test_findings_for_every_field_with_original_spans(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    post = {
        "title": "李总视察华东分公司",
        "digest": "营收同比增长23%",
        "content": "<p>（绝密）会议纪要</p>",
        "source": "综合部",
        "category": "news",
    }
    resp = await client.post("/v1/screen", headers=callers["editor"].headers, json={"post": post})
    assert resp.status == 200
    body = await resp.json()
    assert body["decision"] == "block"
    fields = {f["field"] for f in body["findings"]}
    assert {"title", "digest", "content"} <= fields
    for finding in body["findings"]:
        original = post[finding["field"]]
        assert original[finding["start"] : finding["end"]] == finding["text"]
    assert len(body["content_sha256"]) == 64


async def test_required_approvals_only_for_accounts_in_scope(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    await file_active_account(client, callers, "east-wechat", platform="wechat")
    post = {"title": "开放日", "content": "<p>欢迎参观</p>", "source": "综合部", "category": "news"}
    resp = await client.post(
        "/v1/screen",
        headers=callers["editor"].headers,
        json={"post": post, "account": "east-wechat"},
    )
    body = await resp.json()
    assert body["required_approvals"][0]["role"] == "unit_head"
    assert body["required_approvals"][0]["unit"] == "sub_east"
    resp = await client.post(
        "/v1/screen",
        headers=callers["editor_west"].headers,
        json={"post": post, "account": "east-wechat"},
    )
    assert resp.status == 404
    assert (await resp.json())["field"] == "account"


async def test_an_unsourced_draft_is_screened_with_a_warning(
    client: TestClient[Any, Any], callers: dict[str, Caller]
) -> None:
    resp = await client.post(
        "/v1/screen",
        headers=callers["editor"].headers,
        json={"post": {"content": "<p>欢迎参观</p>", "category": "news"}},
    )
    assert resp.status == 200
    assert "Art. 15" in (await resp.json())["warnings"][0]
