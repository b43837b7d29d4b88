"""An interaction request, its content hash and its stored form.

The hash binds an approval to exactly this interaction on this account: the kind, the account,
the target as the caller named it and the text in NFC, in the canonical JSON of
:mod:`gateway.canonical`, tagged ``"type": "interaction"`` so that no interaction ever hashes
like a post (docs/approval-tokens.md, docs/interactions.md).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from connectors.base import Interaction
from gateway.canonical import canonical_json

CANONICAL_VERSION = 1
TEXT_KINDS = frozenset({"comment", "reply", "repost"})


@dataclass(frozen=True)
class Target:
    """What the interaction acts on, as the caller named it."""

    post: str = ""  # a gateway job id of a published post
    platform_id: str = ""  # or the platform's id of the item
    comment_id: str = ""  # the comment replied to
    msg_data_id: str = ""  # WeChat: the message of the article
    index: int | None = None  # WeChat: the article within the message (from 0)

    def canonical(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None)}

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Target:
        return cls(
            post=data.get("post") or "",
            platform_id=data.get("platform_id") or "",
            comment_id=data.get("comment_id") or "",
            msg_data_id=data.get("msg_data_id") or "",
            index=data.get("index"),
        )


@dataclass(frozen=True)
class InteractionRequest:
    account: str
    kind: str
    target: Target
    text: str = ""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> InteractionRequest:
        """From a body parsed with ``InteractionRequest``/``InteractionAssess``; text in NFC."""
        return cls(
            account=data["account"],
            kind=data["kind"],
            target=Target.parse(data["target"]),
            text=unicodedata.normalize("NFC", data.get("text") or ""),
        )

    def canonical(self) -> dict[str, Any]:
        return {
            "v": CANONICAL_VERSION,
            "type": "interaction",
            "account": self.account,
            "kind": self.kind,
            "target": self.target.canonical(),
            "text": unicodedata.normalize("NFC", self.text),
        }

    @property
    def content_sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.canonical())).hexdigest()


@dataclass(frozen=True)
class Resolved:
    """The request with its target resolved to the platform's ids (what the connector gets)."""

    request: InteractionRequest
    platform_id: str = ""
    origin: str = ""  # the gateway job of the target post, if one was named

    def outbound(self, content_sha256: str) -> Interaction:
        t = self.request.target
        return Interaction(
            kind=self.request.kind,
            text=self.request.text,
            content_sha256=content_sha256,
            platform_id=self.platform_id,
            comment_id=t.comment_id,
            msg_data_id=t.msg_data_id,
            index=t.index or 0,
        )

    def stored(self) -> dict[str, Any]:
        return {
            "interaction": self.request.canonical(),
            "platform_id": self.platform_id,
            "origin": self.origin,
        }


def interaction_from_stored(data: Mapping[str, Any], content_sha256: str) -> Interaction:
    raw = data["interaction"]
    request = InteractionRequest(
        account=raw["account"],
        kind=raw["kind"],
        target=Target.parse(raw.get("target") or {}),
        text=raw.get("text", ""),
    )
    resolved = Resolved(request, str(data.get("platform_id", "")), str(data.get("origin", "")))
    return resolved.outbound(content_sha256)


__all__ = [
    "TEXT_KINDS",
    "InteractionRequest",
    "Resolved",
    "Target",
    "interaction_from_stored",
]
