"""The desk test rig: the demo organisation's gateway plus helpers that speak the desk API."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse

from gateway.appkeys import DESK, GATE
from tests.gateway.gate_support import Org, problem


@dataclass
class Desk:
    org: Org

    def __getattr__(self, name: str) -> Any:
        return getattr(self.org, name)

    def __getitem__(self, name: str) -> Any:
        return self.org[name]

    def h(self, who: str) -> dict[str, str]:
        return self.org[who].headers

    async def submit_raw(self, who: str, body: dict[str, Any]) -> ClientResponse:
        return await self.org.client.post("/v1/submissions", headers=self.h(who), json=body)

    async def submit(
        self, who: str, post: dict[str, Any], *accounts: str, **extra: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"post": post, **extra}
        if len(accounts) == 1:
            body["account"] = accounts[0]
        else:
            body["accounts"] = list(accounts)
        resp = await self.submit_raw(who, body)
        assert resp.status == 201, await resp.text()
        data: dict[str, Any] = await resp.json()
        return data

    async def get(self, who: str, sub_id: str) -> dict[str, Any]:
        resp = await self.org.client.get(f"/v1/submissions/{sub_id}", headers=self.h(who))
        assert resp.status == 200, await resp.text()
        data: dict[str, Any] = await resp.json()
        return data

    async def get_raw(self, who: str, sub_id: str) -> ClientResponse:
        return await self.org.client.get(f"/v1/submissions/{sub_id}", headers=self.h(who))

    async def inbox(self, who: str) -> list[dict[str, Any]]:
        resp = await self.org.client.get("/v1/inbox", headers=self.h(who))
        assert resp.status == 200, await resp.text()
        items: list[dict[str, Any]] = (await resp.json())["items"]
        return items

    async def decide_raw(self, who: str, sub_id: str, **body: Any) -> ClientResponse:
        return await self.org.client.post(
            f"/v1/submissions/{sub_id}/decisions", headers=self.h(who), json=body
        )

    async def approve(self, who: str, sub_id: str, **body: Any) -> dict[str, Any]:
        resp = await self.decide_raw(who, sub_id, decision="approve", **body)
        assert resp.status == 200, await resp.text()
        data: dict[str, Any] = await resp.json()
        return data

    async def reject(self, who: str, sub_id: str, reason: str) -> dict[str, Any]:
        resp = await self.decide_raw(who, sub_id, decision="reject", reason=reason)
        assert resp.status == 200, await resp.text()
        data: dict[str, Any] = await resp.json()
        return data

    async def put(self, who: str, sub_id: str, post: dict[str, Any]) -> ClientResponse:
        return await self.org.client.put(
            f"/v1/submissions/{sub_id}", headers=self.h(who), json={"post": post}
        )

    async def withdraw(self, who: str, sub_id: str) -> ClientResponse:
        return await self.org.client.delete(f"/v1/submissions/{sub_id}", headers=self.h(who))

    async def attach(self, who: str, sub_id: str, token: str) -> ClientResponse:
        return await self.org.client.post(
            f"/v1/submissions/{sub_id}/approvals", headers=self.h(who), json={"token": token}
        )

    async def list(self, who: str, query: str = "") -> list[dict[str, Any]]:
        resp = await self.org.client.get(f"/v1/submissions{query}", headers=self.h(who))
        assert resp.status == 200, await resp.text()
        items: list[dict[str, Any]] = (await resp.json())["items"]
        return items

    async def job_published(self, job_id: str) -> None:
        """What the delivery worker does after the platform confirmed (workers are off here)."""
        await self.org.client.app[GATE].jobs.transition(
            job_id, "published", platform_id=f"wx-{job_id}", url=f"https://mp.example/{job_id}"
        )

    async def wait_state(
        self, who: str, sub_id: str, state: str, timeout_s: float = 8.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            data = await self.get(who, sub_id)
            if data["state"] == state or time.monotonic() > deadline:
                assert data["state"] == state, data["history"]
                return data
            await asyncio.sleep(0.1)

    @property
    def service(self) -> Any:
        return self.org.client.app[DESK]


__all__ = ["Desk", "problem"]
