"""What the gateway tells people, independent of the channel it travels by.

A :class:`Notice` names its event, a title, a Markdown body and who it is for (roles of units,
or a person). The outbox (:mod:`gateway.notify.outbox`) turns it into one message per matching
channel and delivers those in the background: enqueueing is one store write and never waits for
a channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, get_args

EventKind = Literal[
    "submitted", "decided", "published", "failed", "unconfirmed", "alert", "reminder"
]
EVENTS: tuple[str, ...] = get_args(EventKind)


@dataclass(frozen=True)
class Recipient:
    """Someone a notice is for: a role (of a unit; "" = any unit) or one person (principal id)."""

    role: str = ""
    unit: str = ""
    person: str = ""


@dataclass(frozen=True)
class Notice:
    event: EventKind
    title: str
    text: str  # Markdown; channels without Markdown send it as it is
    recipients: tuple[Recipient, ...] = ()
    link: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["recipients"] = [asdict(r) for r in self.recipients]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notice:
        return cls(
            event=data["event"],
            title=data["title"],
            text=data["text"],
            recipients=tuple(Recipient(**r) for r in data.get("recipients", ())),
            link=data.get("link", ""),
            data=dict(data.get("data", {})),
        )


class NoticeSink(Protocol):
    """Where services hand notices; implementations must not block on any channel."""

    async def enqueue(self, notice: Notice) -> None: ...
