"""The connector contract: what every platform plugin provides to the publish pipeline.

A connector turns an approved post into a published item on one platform. It is built once from
its configuration section and the gateway's shared outbound ``ClientSession``; per-account
settings, credentials and checkpoints arrive with each call in a :class:`PublishContext`.

Delivery outcomes are exceptions, never HTTP errors: the pipeline alone decides what happens next.

* :class:`RetryLater` -- nothing reached the platform (or the platform said "try again"); safe to
  repeat the same step after ``after_s`` seconds.
* :class:`PermanentFailure` -- the platform refused the content or the account; do not retry.
* :class:`Unconfirmed` -- the request may have reached the platform and its effect is unknown;
  the pipeline must reconcile through :meth:`Connector.status`, never blindly repeat the step.
* :class:`NeedsReauthorisation` -- the account's credentials were revoked or expired; an admin
  must refresh them in the vault; the job is kept.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import aiohttp


class DeliveryOutcome(Exception):
    """Base of every outcome a connector reports instead of an HTTP error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(DeliveryOutcome):
    """The step did not take effect; it may be repeated after ``after_s`` seconds."""

    def __init__(self, reason: str, after_s: float = 5.0) -> None:
        super().__init__(reason)
        self.after_s = after_s


class PermanentFailure(DeliveryOutcome):
    """The platform refused; repeating the step will not help."""


class Unconfirmed(DeliveryOutcome):
    """The step may have reached the platform; its outcome must be reconciled, not retried."""

    def __init__(self, reason: str, step: str = "") -> None:
        super().__init__(reason)
        self.step = step


class NeedsReauthorisation(PermanentFailure):
    """The platform rejected the account's credentials; an admin must refresh them."""


def reject_unknown_keys(platform: str, section: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """For ``from_config``: a key the connector does not know is an error naming it."""
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ValueError(f"{platform} connector: unknown config key(s): {', '.join(unknown)}")


@dataclass(frozen=True, slots=True)
class Limits:
    """What a platform accepts; checked before anything is sent (Art. 16)."""

    title_max_chars: int | None = None
    digest_max_chars: int | None = None
    author_max_chars: int | None = None
    content_max_chars: int | None = None
    content_max_bytes: int | None = None
    image_max_bytes: int | None = None
    image_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/gif")
    max_images: int | None = None
    requires_cover: bool = False
    requires_title: bool = True


@dataclass(frozen=True, slots=True)
class Image:
    """An image carried with a post; ``sha256`` is part of the approved content hash."""

    filename: str
    content_type: str
    data: bytes
    sha256: str


@dataclass(frozen=True, slots=True)
class OutboundPost:
    """Exactly the content that was approved (its ``content_sha256`` is the approvals' subject)."""

    title: str
    digest: str
    author: str
    content: str  # HTML allowed; in-article images are referenced as <img src="image:N"> (index)
    source: str
    category: str
    content_sha256: str
    cover: Image | None = None
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountRef:
    """The target account as a connector sees it: no credentials, only non-secret settings."""

    id: str
    platform: str
    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Published:
    """The platform confirmed the item is live."""

    platform_id: str
    url: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Pending:
    """The platform accepted the item and publishes it asynchronously; poll :meth:`status`."""

    platform_id: str
    poll_after_s: float = 5.0
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Deleted:
    """The platform item is gone (or trashed)."""

    platform_id: str


Result = Published | Pending


class TokenCache(Protocol):
    """Shared, encrypted cache for platform access tokens (a secret: never log a value).

    The gateway backs it with Redis; every gateway process sees the same tokens, and ``lock``
    ensures that one process at a time refreshes a token (callers double-check after locking).
    """

    async def get(self, name: str) -> str | None: ...

    async def set(self, name: str, value: str, ttl_s: float) -> None: ...

    async def delete(self, name: str) -> None: ...

    def lock(self, name: str, ttl_s: float = 30.0) -> AbstractAsyncContextManager[None]: ...


class MediaLibrary(Protocol):
    """What a platform already holds of one account's media, by content sha256.

    Optional: a :class:`PublishContext` may offer one as ``media`` (the gateway keeps it in
    Redis, shared by every process); a connector finds it with ``getattr(ctx, "media", None)``
    and uploads identical bytes once per account instead of once per job. Records are small
    JSON objects chosen by the connector (e.g. ``{"id": 12, "url": "…"}``), not secrets.
    """

    async def get(self, sha256: str) -> Mapping[str, Any] | None: ...

    async def put(self, sha256: str, record: Mapping[str, Any]) -> None: ...

    async def forget(self, sha256: str) -> None: ...


class PublishContext(Protocol):
    """Everything one call needs, handed over by the pipeline.

    ``state`` holds the checkpoints of earlier steps of this job (possibly from another, crashed,
    gateway process). A connector calls ``checkpoint(...)`` after each step that changed something
    on the platform and before the next one, so a resumed job never repeats a finished step.
    Mark the *intent* of a step that cannot be safely repeated before sending it
    (e.g. ``checkpoint(submitting=True)``): on resume, such a marker without a result means the
    outcome is unknown and must be reconciled.
    """

    # Read-only members: an implementation may use plain attributes or properties.
    @property
    def job_id(self) -> str: ...

    @property
    def account(self) -> AccountRef: ...

    @property
    def state(self) -> Mapping[str, Any]: ...

    @property
    def tokens(self) -> TokenCache: ...

    async def credentials(self) -> Mapping[str, str]:
        """Open the account's credentials from the vault; use them for this call only."""
        ...

    async def checkpoint(self, **updates: Any) -> None:
        """Durably record step results before the next step is taken."""
        ...


@runtime_checkable
class Connector(Protocol):
    """One platform. Implementations are plain classes registered under ``mediagate.connectors``."""

    platform: ClassVar[str]
    limits: ClassVar[Limits]
    asynchronous: ClassVar[bool]  # True if publish() may return Pending

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], *, session: aiohttp.ClientSession
    ) -> Connector: ...

    def validate(self, post: OutboundPost, account: AccountRef) -> list[str]:
        """Problems with this post on this platform (Art. 16), each a readable sentence."""
        ...

    async def publish(self, post: OutboundPost, ctx: PublishContext) -> Result: ...

    async def status(self, ctx: PublishContext) -> Result:
        """Where the job's item stands, from the checkpoints and the platform's status or listing
        API; raises :class:`Unconfirmed` if it cannot tell, :class:`PermanentFailure` if the
        platform rejected it."""
        ...

    async def update(self, post: OutboundPost, ctx: PublishContext) -> Result: ...

    async def delete(self, ctx: PublishContext) -> Deleted: ...

    async def ping(self) -> bool:
        """True if the platform endpoint answers (used by /healthz); never raises."""
        ...


# Bypass detection (gateway/watch/, docs/bypass.md) -------------------------------------------


@dataclass(frozen=True, slots=True)
class RemoteItem:
    """One item as the platform holds it now, read back for the bypass reconciler.

    ``platform_id`` is the same id :class:`Published` carried when the gateway published the item,
    so the reconciler can match it to the job. ``title`` and ``text`` are in :func:`visible_text`
    form. Times are epoch seconds, 0 when the platform does not say.
    """

    platform_id: str
    title: str = ""
    text: str = ""
    url: str = ""
    published_at: float = 0.0
    updated_at: float = 0.0

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.title, self.text)


@runtime_checkable
class Lister(Protocol):
    """Optional connector capability: read what the account holds on the platform now.

    Faults are outcomes as for publishing: :class:`RetryLater` when the platform cannot answer
    now (5xx, timeout, rate limit), :class:`NeedsReauthorisation` when the account's credentials
    are refused, never an HTTP error. A listing call never changes anything on the platform.
    """

    async def recent(
        self, ctx: PublishContext, *, since: float, limit: int
    ) -> Sequence[RemoteItem]:
        """The account's items published or modified at or after ``since``, newest first, at
        most ``limit`` (the connector pages within the platform's quota)."""
        ...

    async def fetch(self, ctx: PublishContext, platform_id: str) -> RemoteItem | None:
        """The item as it is now, or ``None`` when the platform says it is gone (deleted,
        trashed); raises :class:`RetryLater` when it cannot tell."""
        ...

    def expected(self, post: OutboundPost) -> tuple[str, str]:
        """``(title, text)`` the platform shows for this approved post, in
        :func:`visible_text` form, so that an untouched item has the same :func:`fingerprint`."""
        ...


_BLOCK_TAG = re.compile(
    r"<\s*(?:br|/?p|/?div|/?h[1-6]|/?li|/?ul|/?ol|/?section|/?blockquote|/?tr|/?table|hr)"
    r"\b[^>]*>",
    re.IGNORECASE,
)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_DROPPED = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u3000]+")


def visible_text(markup: str) -> str:
    """What a reader sees of ``markup``: tags, comments, scripts and styles removed, entities
    decoded, NFC, one line per paragraph, runs of spaces collapsed, empty lines dropped."""
    text = _COMMENT.sub("", markup)
    text = _DROPPED.sub("", text)
    text = _BLOCK_TAG.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    text = unicodedata.normalize("NFC", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def fingerprint(title: str, text: str) -> str:
    """The content hash the reconciler compares: whitespace-insensitive, over title and text in
    :func:`visible_text` form (platforms re-wrap paragraphs; they do not change words)."""
    flat = "".join(title.split()) + "\x1f" + "".join(text.split())
    return hashlib.sha256(flat.encode("utf-8")).hexdigest()


# Interactions (gateway/interactions/, docs/interactions.md) ---------------------------------

InteractionKind = Literal["comment", "reply", "repost", "comments_open", "comments_close"]
INTERACTION_KINDS: tuple[str, ...] = (
    "comment",
    "reply",
    "repost",
    "comments_open",
    "comments_close",
)


@dataclass(frozen=True, slots=True)
class Interaction:
    """An approved comment, reply, repost or comment switch, exactly as it was approved.

    ``platform_id`` is the platform's id of the item interacted with (a Weibo status, a
    WordPress post); ``comment_id`` the comment replied to; WeChat addresses an article by
    ``msg_data_id`` and ``index`` (0 = the first article of the message). ``text`` is NFC.
    """

    kind: str
    text: str
    content_sha256: str
    platform_id: str = ""
    comment_id: str = ""
    msg_data_id: str = ""
    index: int = 0


@runtime_checkable
class Interactor(Protocol):
    """Optional connector capability: comment, reply, repost, open or close comments.

    ``interact`` is effectively once like ``publish``: it checkpoints its intent before the
    platform call, and a resumed job (or a lost answer) is reconciled through the platform's
    listing, never by repeating the call blindly. It returns :class:`Published` (the id of the
    comment or repost) or raises the delivery outcomes.
    """

    interaction_kinds: ClassVar[frozenset[str]]

    def validate_interaction(self, interaction: Interaction, account: AccountRef) -> list[str]:
        """Problems with this interaction on this platform, each a readable sentence."""
        ...

    async def interact(self, interaction: Interaction, ctx: PublishContext) -> Published: ...


HealthState = Literal["ok", "degraded", "down"]
CredentialsOpener = Callable[[], Awaitable[Mapping[str, str]]]
__all__: Sequence[str] = (
    "INTERACTION_KINDS",
    "AccountRef",
    "Connector",
    "Deleted",
    "DeliveryOutcome",
    "Image",
    "Interaction",
    "InteractionKind",
    "Interactor",
    "Limits",
    "Lister",
    "MediaLibrary",
    "NeedsReauthorisation",
    "OutboundPost",
    "Pending",
    "PermanentFailure",
    "PublishContext",
    "Published",
    "RemoteItem",
    "Result",
    "RetryLater",
    "TokenCache",
    "Unconfirmed",
    "fingerprint",
    "reject_unknown_keys",
    "visible_text",
)
