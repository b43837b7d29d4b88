"""WeCom group robot (企业微信群机器人): ``POST <url>?key=<key>`` with a Markdown message.

The robot answers HTTP 200 with ``{"errcode", "errmsg"}``; ``errcode`` 0 is success. A Markdown
``content`` is at most 4096 bytes of UTF-8. Frequency limits (45009) and system busy (-1) are
worth retrying; a wrong key (93000) or a bad message is not.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from gateway.notify.base import NotifyError, utf8_cut
from gateway.notify.notice import Notice

MAX_MARKDOWN_BYTES = 4096
RETRY_ERRCODES = frozenset({-1, 45009, 45033})


class WeComRobot:
    kind = "wecom"

    def __init__(
        self, name: str, url: str, key: str, session: aiohttp.ClientSession, timeout_s: float = 5.0
    ) -> None:
        self.name = name
        self._url = url
        self._key = key
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, notice: Notice, link: str) -> None:
        text = notice.text + (f"\n[打开]({link})" if link else "")
        body = {"msgtype": "markdown", "markdown": {"content": utf8_cut(text, MAX_MARKDOWN_BYTES)}}
        await post_robot(
            self._session,
            self._url,
            {"key": self._key},
            body,
            self._timeout,
            RETRY_ERRCODES,
            "WeCom robot",
        )


async def post_robot(
    session: aiohttp.ClientSession,
    url: str,
    params: dict[str, str],
    body: Mapping[str, object],
    client_timeout: aiohttp.ClientTimeout,
    retry_codes: frozenset[int],
    what: str,
) -> None:
    """POST a robot message and read the ``errcode`` answer both robots share."""
    try:
        async with session.post(url, params=params, json=body, timeout=client_timeout) as resp:
            if resp.status >= 500 or resp.status == 429:
                raise NotifyError(f"{what} answered HTTP {resp.status}")
            if resp.status >= 400:
                raise NotifyError(f"{what} answered HTTP {resp.status}", retry=False)
            answer = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise NotifyError(f"{what} unreachable: {type(exc).__name__}") from None
    code = int(answer.get("errcode", -1)) if isinstance(answer, dict) else -1
    if code != 0:
        message = str(answer.get("errmsg", "")) if isinstance(answer, dict) else ""
        raise NotifyError(
            f"{what} refused: errcode {code} {message}"[:300], retry=code in retry_codes
        )
