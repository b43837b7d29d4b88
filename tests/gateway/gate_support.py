"""Shared helpers for the publish-gate tests: the demo organisation, drafts, approvals, tokens.

The gate tests run the real app on loopback against the real Valkey of the session. Delivery
workers are off (``delivery.workers = 0``) so accepted jobs stay ``approved`` and no connector is
ever called; the only connector loaded (WeChat) points at a closed loopback port all the same, so
nothing can reach the internet even by mistake.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization

from gateway.appkeys import GATE, SERVICES
from gateway.jws import load_private_key_pem, new_approval_claims, sign_approval
from gateway.settings import Settings
from tests.gateway.conftest import SIGNING_PEM, Caller, MakeClient, file_active_account

#: A closed port on loopback: a connector that tried to call out would fail here, locally.
LOOPBACK_CLOSED = "http://127.0.0.1:9"
PROBLEM_JSON = "application/problem+json"

#: Accounts of the demo organisation, all WeChat (no per-account settings to validate).
EAST = "east-wechat"  # owned by the subsidiary sub_east
WEST = "west-wechat"  # owned by the subsidiary sub_west
STRATEGY = "strategy-wechat"  # owned by the strategy department of HQ
HQ = "hq-wechat"  # owned by HQ itself (the company's official account)

COVER_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(48))
COVER = {
    "filename": "cover.png",
    "content_type": "image/png",
    "data": base64.b64encode(COVER_BYTES).decode(),
}

PLAIN = "华东分公司举办员工运动会，大家热情高涨。"
FINANCIAL = "华东分公司前三季度营收同比增长23%，净利润达到5.2亿元。"
EXECUTIVE = "董事长王建国出席了华东分公司的年度表彰大会。"
OUTSIDER = "清华大学经济管理学院张明教授表示：“这一合作具有示范意义。”"
STRATEGY_TEXT = "公司发布新的战略转型规划。"
REFORM_TEXT = "公司启动混合所有制改革。"
SENSITIVE_TEXT = "华东分公司通报了一起安全事故的处理进展。"
SECRET = "本文件属于绝密级别，请勿外传。"


def gate_settings(settings: Settings) -> Settings:
    """Settings for gate tests: no delivery worker, only WeChat loaded, pointing at loopback."""
    return replace(
        settings,
        delivery=replace(settings.delivery, workers=0),
        connectors=replace(
            settings.connectors,
            allow=("wechat",),
            sections={"wechat": {"base_url": LOOPBACK_CLOSED}},
        ),
    )


def draft(content: str = PLAIN, **changes: Any) -> dict[str, Any]:
    """A WeChat-ready post (title, cover, source) with ``content``; ``changes`` override fields."""
    post: dict[str, Any] = {
        "title": "华东分公司动态",
        "digest": "本周要闻",
        "author": "华东分公司宣传组",
        "content": f"<p>{content}</p>",
        "source": "华东分公司综合办公室",
        "category": "news",
        "cover": COVER,
    }
    post.update(changes)
    return post


@dataclass
class Org:
    """The running gateway with the demo organisation's callers and accounts."""

    client: TestClient[Any, Any]
    callers: dict[str, Caller]
    settings: Settings

    def __getitem__(self, name: str) -> Caller:
        return self.callers[name]

    async def screen(self, who: str, post: dict[str, Any], account: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"post": post}
        if account:
            body["account"] = account
        resp = await self.client.post("/v1/screen", headers=self[who].headers, json=body)
        assert resp.status == 200, await resp.text()
        data: dict[str, Any] = await resp.json()
        return data

    async def approve(
        self,
        who: str,
        post: dict[str, Any],
        accounts: list[str],
        *,
        attest: list[str] | None = None,
        decision: str = "approve",
        reason: str = "",
    ) -> str:
        """A token from ``POST /v1/approvals`` by caller ``who`` (asserts it was issued)."""
        resp = await self.approve_raw(
            who, post, accounts, attest=attest, decision=decision, reason=reason
        )
        assert resp.status == 201, await resp.text()
        token: str = (await resp.json())["token"]
        return token

    async def approve_raw(
        self,
        who: str,
        post: dict[str, Any],
        accounts: list[str],
        *,
        attest: list[str] | None = None,
        decision: str = "approve",
        reason: str = "",
    ) -> ClientResponse:
        body: dict[str, Any] = {"post": post, "accounts": accounts, "decision": decision}
        if attest:
            body["attest"] = attest
        if reason:
            body["reason"] = reason
        return await self.client.post("/v1/approvals", headers=self[who].headers, json=body)

    async def publish(
        self, who: str, account: str, post: dict[str, Any], tokens: list[str]
    ) -> ClientResponse:
        return await self.client.post(
            "/v1/posts",
            headers=self[who].headers,
            json={"account": account, "post": post, "approvals": tokens},
        )

    async def content_hash(self, post: dict[str, Any]) -> str:
        resp = await self.client.post(
            "/v1/posts/hash", headers=self["editor"].headers, json={"post": post}
        )
        assert resp.status == 200, await resp.text()
        digest: str = (await resp.json())["content_sha256"]
        return digest

    async def audit(self) -> list[dict[str, Any]]:
        """Every audit record, in order."""
        return [r async for _, r in self.client.app[SERVICES].audit.records()]

    async def published(self, job_id: str) -> None:
        """Mark an accepted job as published, as the delivery worker would after the platform
        confirmed it. The test suite runs without delivery workers (no connector is ever called),
        so tests of edits and deletions (Art. 19) put the job there directly."""
        await self.client.app[GATE].jobs.transition(
            job_id, "published", platform_id=f"wx-{job_id}", url=f"https://mp.example/{job_id}"
        )


async def start_org(make_client: MakeClient, settings: Settings, callers: dict[str, Caller]) -> Org:
    """Start the gateway and file the demo accounts (each approved by Brand-PR, so active)."""
    gs = gate_settings(settings)
    client = await make_client(gs)
    for account, unit in ((EAST, "sub_east"), (WEST, "sub_west"), (STRATEGY, "strategy_dept")):
        await file_active_account(client, callers, account, unit, platform="wechat")
    await file_active_account(client, callers, HQ, "hq", platform="wechat")
    return Org(client, callers, gs)


async def problem(resp: ClientResponse, status: int) -> dict[str, Any]:
    """The problem+json body of a refusal, after checking its status and shape."""
    text = await resp.text()
    assert resp.status == status, f"{resp.status} != {status}: {text}"
    assert resp.content_type == PROBLEM_JSON, resp.content_type
    data: dict[str, Any] = await resp.json(content_type=None)
    assert data["status"] == status
    assert {"type", "title", "detail"} <= set(data)
    return data


def ring_kid() -> str:
    """The kid of the test runtime's signing key (as ``build_key_ring`` derives it)."""
    private = serialization.load_pem_private_key(SIGNING_PEM, password=None)
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return "mediagate-" + hashlib.sha256(raw).hexdigest()[:12]


def forge(
    caller: Caller,
    content_sha256: str,
    accounts: list[str],
    *,
    now_s: float,
    lifetime_s: int = 3600,
    role: str | None = None,
    unit: str | None = None,
    issuer: str = "mediagate",
    pem: bytes = SIGNING_PEM,
    kid: str | None = None,
) -> str:
    """A token signed with the gateway's own ring key (or ``pem``), claims chosen by the test."""
    key = load_private_key_pem(kid or ring_kid(), pem)
    claims = new_approval_claims(
        iss=issuer,
        sub=caller.id,
        role=role or caller.role,
        unit=unit or caller.unit,
        accounts=tuple(accounts),
        content_sha256=content_sha256,
        decision="approve",
        now_s=now_s,
        lifetime_s=lifetime_s,
        name=caller.id,
    )
    return sign_approval(claims, key)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
