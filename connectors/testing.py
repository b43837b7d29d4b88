"""Conformance kit for connector plugins: run it against your connector and its test server.

Usage in a plugin's own tests (pytest + pytest-aiohttp)::

    from connectors.testing import assert_conformant

    async def test_conformance(aiohttp_server):
        server = await aiohttp_server(make_my_emulator())
        async with aiohttp.ClientSession() as session:
            await assert_conformant(
                MyConnector,
                section={"base_url": str(server.make_url(""))},
                session=session,
                account=AccountRef(id="acct-1", platform="mine", name="Demo"),
                post=sample_post(),
                credentials={"api_key": "k-123"},
                bad_credentials={"api_key": "wrong"},
            )

:func:`check_connector` returns the list of problems instead of raising. It checks the contract
attributes and signatures, ``from_config``, that ``validate`` reports over-limit posts, a
publish → status → (resume) → delete round trip, that failures are
:class:`~connectors.base.DeliveryOutcome` subclasses rather than HTTP errors, and that no
credential value appears in any exception (message, repr, cause) or log record of the plugin.

:class:`MemoryContext` is a process-local :class:`~connectors.base.PublishContext` for plugin
tests; the gateway itself passes contexts whose checkpoints and token cache live in Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from connectors.base import (
    AccountRef,
    Connector,
    Deleted,
    DeliveryOutcome,
    Image,
    OutboundPost,
    Pending,
    PublishContext,
    Published,
    Result,
)
from connectors.registry import contract_problems

ContextFactory = Callable[[], Awaitable[PublishContext]]


class MemoryTokenCache:
    """A process-local :class:`~connectors.base.TokenCache` (no TTL enforcement, one lock per
    name). Fine for a plugin's tests; the gateway's is Redis-backed and encrypted."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, name: str) -> str | None:
        return self._values.get(name)

    async def set(self, name: str, value: str, ttl_s: float) -> None:
        self._values[name] = value

    async def delete(self, name: str) -> None:
        self._values.pop(name, None)

    @asynccontextmanager
    async def _locked(self, name: str) -> AsyncIterator[None]:
        async with self._locks.setdefault(name, asyncio.Lock()):
            yield

    def lock(self, name: str, ttl_s: float = 30.0) -> Any:
        return self._locked(name)


@dataclass
class MemoryContext:
    """A :class:`~connectors.base.PublishContext` kept in memory (checkpoints in ``state``)."""

    account: AccountRef
    secrets: Mapping[str, str]
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: dict[str, Any] = field(default_factory=dict)
    tokens: MemoryTokenCache = field(default_factory=MemoryTokenCache)

    async def credentials(self) -> Mapping[str, str]:
        return dict(self.secrets)

    async def checkpoint(self, **updates: Any) -> None:
        self.state.update(updates)

    def __repr__(self) -> str:
        return f"MemoryContext(job_id={self.job_id!r}, account={self.account.id!r})"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("aiohttp"):
            return  # the test server's own access log, not the plugin's
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + _exception_text(record.exc_info[1])
        self.messages.append(text)


@contextmanager
def _capture_logs() -> Iterator[_Records]:
    handler = _Records()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _exception_text(exc: BaseException) -> str:
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(getattr(current, "args", ()))]
        current = current.__cause__ or current.__context__
    return " ".join(parts)


def over_limit_posts(post: OutboundPost, cls: type[Connector]) -> dict[str, OutboundPost]:
    """Variants of ``post`` that break each declared limit of ``cls`` (by limit name)."""
    lim = cls.limits
    variants: dict[str, OutboundPost] = {}
    if lim.title_max_chars is not None:
        variants["title_max_chars"] = dataclasses.replace(
            post, title="题" * (lim.title_max_chars + 1)
        )
    if lim.digest_max_chars is not None:
        variants["digest_max_chars"] = dataclasses.replace(
            post, digest="摘" * (lim.digest_max_chars + 1)
        )
    if lim.author_max_chars is not None:
        variants["author_max_chars"] = dataclasses.replace(
            post, author="作" * (lim.author_max_chars + 1)
        )
    if lim.content_max_chars is not None:
        variants["content_max_chars"] = dataclasses.replace(
            post, content="文" * (lim.content_max_chars + 1)
        )
    if lim.requires_title:
        variants["requires_title"] = dataclasses.replace(post, title="")
    if lim.requires_cover:
        variants["requires_cover"] = dataclasses.replace(post, cover=None)
    base_type = lim.image_types[0] if lim.image_types else "image/jpeg"
    if lim.image_max_bytes is not None:
        big = Image("big.img", base_type, b"\0" * (lim.image_max_bytes + 1), "0" * 64)
        variants["image_max_bytes"] = dataclasses.replace(post, images=(*post.images, big))
    odd = Image("odd.bin", "application/x-not-an-image", b"\0", "0" * 64)
    variants["image_types"] = dataclasses.replace(post, images=(*post.images, odd))
    if lim.max_images is not None:
        img = Image("one.img", base_type, b"\0", "0" * 64)
        variants["max_images"] = dataclasses.replace(post, images=(img,) * (lim.max_images + 1))
    return variants


async def _until_published(
    connector: Connector, ctx: PublishContext, result: Result, timeout_s: float, every_s: float
) -> Published:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while isinstance(result, Pending):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"still Pending after {timeout_s} s")
        await asyncio.sleep(every_s)
        result = await connector.status(ctx)
    return result


async def check_connector(
    cls: type[Connector],
    *,
    section: Mapping[str, Any],
    session: aiohttp.ClientSession,
    account: AccountRef,
    post: OutboundPost,
    credentials: Mapping[str, str] | None = None,
    make_context: ContextFactory | None = None,
    bad_credentials: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (),
    publish_timeout_s: float = 10.0,
    poll_every_s: float = 0.05,
) -> list[str]:
    """Every way ``cls`` breaks the connector contract, as readable sentences (empty = passes).

    ``make_context`` builds a fresh job context (default: a :class:`MemoryContext` with
    ``credentials``); ``secrets`` are further values that must never leak (by default every
    credential value, good or bad).
    """
    problems = [f"contract: {p}" for p in contract_problems(cls)]
    if problems:
        return problems
    if make_context is None:
        if credentials is None:
            return ["give credentials= or make_context="]
        creds = dict(credentials)

        async def _default_context() -> PublishContext:
            return MemoryContext(account=account, secrets=creds)

        make_context = _default_context
    leak_values = [s for s in (*secrets, *(credentials or {}).values()) if len(s) >= 4]
    leak_values += [s for s in (bad_credentials or {}).values() if len(s) >= 4]
    texts: list[str] = []

    with _capture_logs() as logs:
        try:
            connector = cls.from_config(section, session=session)
        except Exception as exc:
            return [f"from_config raised {type(exc).__name__}: {exc}"]
        if not isinstance(connector, Connector) or not isinstance(connector, cls):
            return ["from_config must return an instance of the class satisfying Connector"]
        texts.append(repr(connector))
        texts.append(repr(vars(connector)) if hasattr(connector, "__dict__") else "")

        sample = connector.validate(post, account)
        if sample:
            problems.append(f"validate rejects the sample post: {sample}")
        for limit, variant in over_limit_posts(post, cls).items():
            found = connector.validate(variant, account)
            if not found:
                problems.append(f"validate accepts a post breaking {limit}")
            elif not all(isinstance(p, str) and p for p in found):
                problems.append("validate must return non-empty strings")

        problems += await _round_trip(
            connector, cls, post, make_context, texts, publish_timeout_s, poll_every_s
        )
        if bad_credentials is not None:
            bad_ctx = MemoryContext(account=account, secrets=dict(bad_credentials))
            try:
                await connector.publish(post, bad_ctx)
                problems.append("publish with bad credentials succeeded")
            except DeliveryOutcome as exc:
                texts.append(_exception_text(exc))
            except Exception as exc:
                texts.append(_exception_text(exc))
                problems.append(
                    f"publish with bad credentials raised {type(exc).__name__}, "
                    "not a DeliveryOutcome"
                )
        try:
            alive = await connector.ping()
            if not isinstance(alive, bool):
                problems.append("ping must return a bool")
        except Exception as exc:
            problems.append(f"ping raised {type(exc).__name__} (it must never raise)")
    texts += logs.messages
    for value in leak_values:
        if any(value in text for text in texts):
            problems.append("a credential value appears in an exception, repr or log record")
            break
    return problems


async def _round_trip(
    connector: Connector,
    cls: type[Connector],
    post: OutboundPost,
    make_context: ContextFactory,
    texts: list[str],
    timeout_s: float,
    every_s: float,
) -> list[str]:
    problems: list[str] = []
    step = "publish"
    try:
        ctx = await make_context()
        result = await connector.publish(post, ctx)
        if isinstance(result, Pending) and not cls.asynchronous:
            problems.append("publish returned Pending but the class says asynchronous = False")
        if not isinstance(result, Published | Pending):
            return [f"publish returned {type(result).__name__}, not Published or Pending"]
        step = "status"
        published = await _until_published(connector, ctx, result, timeout_s, every_s)
        again = await connector.status(ctx)
        if not isinstance(again, Published) or again.platform_id != published.platform_id:
            problems.append("status after publication does not report the same Published item")
        step = "publish (resumed)"
        resumed = await connector.publish(post, ctx)
        if not isinstance(resumed, Published) or resumed.platform_id != published.platform_id:
            problems.append(
                "publish on a job whose checkpoints say it is published must return the same "
                "item (a resumed job never repeats a finished step)"
            )
        step = "delete"
        deleted = await connector.delete(ctx)
        if not isinstance(deleted, Deleted) or deleted.platform_id != published.platform_id:
            problems.append("delete must return Deleted for the published item")
    except DeliveryOutcome as exc:
        texts.append(_exception_text(exc))
        problems.append(f"{step} against the test server failed: {type(exc).__name__}: {exc}")
    except TimeoutError as exc:
        problems.append(f"{step}: {exc}")
    except Exception as exc:
        texts.append(_exception_text(exc))
        problems.append(
            f"{step} raised {type(exc).__name__}, not a DeliveryOutcome (outcomes are never "
            "HTTP or library errors)"
        )
    return problems


async def assert_conformant(cls: type[Connector], **kwargs: Any) -> None:
    """:func:`check_connector`, raising ``AssertionError`` listing every problem."""
    problems = await check_connector(cls, **kwargs)
    if problems:
        raise AssertionError(
            f"{cls.__name__} breaks the connector contract:\n- " + "\n- ".join(problems)
        )


__all__ = [
    "ContextFactory",
    "MemoryContext",
    "MemoryTokenCache",
    "assert_conformant",
    "check_connector",
    "over_limit_posts",
]
