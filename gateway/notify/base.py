"""The notifier contract: one object per configured channel, ``send`` one notice or raise.

Channels raise :class:`NotifyError` with ``retry`` saying whether trying again later may help
(a timeout, a rate limit, a 5xx) or not (a refused key, a malformed message). The outbox alone
decides when to try again; a notifier never sleeps or loops.
"""

from __future__ import annotations

from typing import Protocol

from gateway.notify.notice import Notice


class NotifyError(Exception):
    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class Notifier(Protocol):
    name: str
    kind: str

    async def send(self, notice: Notice, link: str) -> None:
        """Deliver ``notice`` (``link``: absolute URL or ""); raise :class:`NotifyError`."""
        ...


def utf8_cut(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 without splitting a character."""
    raw = text.encode()
    if len(raw) <= max_bytes:
        return text
    return raw[: max_bytes - 3].decode(errors="ignore") + "…"
