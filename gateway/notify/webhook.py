"""A signed generic webhook: ``POST <url>`` with the notice as JSON.

Signed like the gateway's webhook CMS connector: ``X-Gateway-Timestamp: <unix s>`` and
``X-Gateway-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`` (no signature
headers when no secret is configured). 2xx is success; 5xx, 429 and network errors are retried.
"""

from __future__ import annotations

import json
import time

import aiohttp

from connectors.webhook import signature
from gateway.notify.base import NotifyError
from gateway.notify.notice import Notice


class SignedWebhook:
    kind = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        secret: str,
        session: aiohttp.ClientSession,
        timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, notice: Notice, link: str) -> None:
        body = json.dumps(
            {
                "event": notice.event,
                "title": notice.title,
                "text": notice.text,
                "link": link,
                "data": notice.data,
                "sent_at": round(time.time(), 3),
            },
            ensure_ascii=False,
        ).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self._secret:
            ts = str(int(time.time()))
            headers["X-Gateway-Timestamp"] = ts
            headers["X-Gateway-Signature"] = signature(self._secret, ts, body)
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, timeout=self._timeout
            ) as resp:
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise NotifyError(f"webhook unreachable: {type(exc).__name__}") from None
        if status >= 500 or status == 429:
            raise NotifyError(f"webhook answered HTTP {status}")
        if status >= 300:
            raise NotifyError(f"webhook answered HTTP {status}", retry=False)
