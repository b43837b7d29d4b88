"""DingTalk custom robot (钉钉自定义机器人), signed: ``POST <url>?access_token&timestamp&sign``.

``sign`` is Base64(HmacSHA256(secret, timestamp + "\\n" + secret)), URL-encoded, with the
timestamp in milliseconds; DingTalk refuses a timestamp more than an hour off. The message is
``{"msgtype": "markdown", "markdown": {"title", "text"}}``; the answer is ``{"errcode",
"errmsg"}`` like WeCom's. Sending too fast (130101) is worth retrying.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import aiohttp

from gateway.notify.base import utf8_cut
from gateway.notify.notice import Notice
from gateway.notify.wecom import post_robot

MAX_TEXT_BYTES = 20000
RETRY_ERRCODES = frozenset({-1, 130101})


def sign(secret: str, timestamp_ms: int) -> str:
    """The robot signature for ``timestamp_ms`` (not URL-encoded: the client encodes it)."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class DingTalkRobot:
    kind = "dingtalk"

    def __init__(
        self,
        name: str,
        url: str,
        access_token: str,
        secret: str,
        session: aiohttp.ClientSession,
        timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        self._url = url
        self._token = access_token
        self._secret = secret
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, notice: Notice, link: str) -> None:
        text = notice.text + (f"\n\n[打开]({link})" if link else "")
        body = {
            "msgtype": "markdown",
            "markdown": {"title": notice.title[:100], "text": utf8_cut(text, MAX_TEXT_BYTES)},
        }
        ts = int(time.time() * 1000)
        params = {"access_token": self._token, "timestamp": str(ts), "sign": sign(self._secret, ts)}
        await post_robot(
            self._session, self._url, params, body, self._timeout, RETRY_ERRCODES, "DingTalk robot"
        )
