"""Bypass alerts: what the reconciler found on a platform that the gateway did not put there.

Kinds (docs/bypass.md):

* ``unapproved_publish`` -- an item on the account that the gateway never published (Art. 22);
* ``unapproved_edit``    -- an item the gateway published whose content changed on the platform
  (Art. 19); ``diff`` holds a unified text diff, approved → now;
* ``removed_outside``    -- an item the gateway published that is gone from the platform.

An alert is raised once: its ``dedupe`` key (kind, account, platform id and, for edits, the
fingerprint of the changed content) is taken with ``SET NX`` in the same transaction that records
it, so two gateway processes or two passes finding the same thing record one alert.
States: ``open`` → ``acknowledged`` (Brand-PR, with a note) or ``frozen`` (Brand-PR froze the
account from the alert).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

import redis.asyncio as aredis

from gateway.errors import Conflict, NotFound
from gateway.keys import Keys, text

AlertKind = Literal["unapproved_publish", "unapproved_edit", "removed_outside"]
AlertState = Literal["open", "acknowledged", "frozen"]
ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)
ALERT_STATES: tuple[str, ...] = get_args(AlertState)


@dataclass(frozen=True)
class Alert:
    id: str
    kind: AlertKind
    account: str
    platform: str
    unit: str
    platform_id: str
    detected_at: float
    title: str = ""
    url: str = ""
    job: str = ""  # the gateway job that published the item (edits and removals)
    diff: str = ""  # unified diff, approved text → platform text (edits)
    excerpt: str = ""  # the first characters of what the platform shows (publishes, edits)
    state: AlertState = "open"
    note: str = ""
    acted_by: str = ""
    acted_at: float = 0.0
    audit_seq: int = 0
    details: Mapping[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return asdict(self)

    def dump(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def load(cls, raw: bytes | str) -> Alert:
        return cls(**json.loads(raw))


#: At most this many alerts are read from an index at a time by :meth:`AlertStore.list`.
_PAGE = 500


def dedupe_key(kind: str, account: str, platform_id: str, fingerprint: str = "") -> str:
    """What makes two findings the same alert."""
    return ":".join((kind, account, platform_id, fingerprint if kind == "unapproved_edit" else ""))


def new_alert_id() -> str:
    return "alr_" + secrets.token_hex(8)


class AlertStore:
    """Alerts in the store: one JSON value each, indexed by time, by account and by state."""

    def __init__(self, redis: aredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def raise_once(self, alert: Alert, dedupe: str) -> Alert | None:
        """Record ``alert`` unless one with the same ``dedupe`` key exists; ``None`` if it did."""
        key = self._keys.alert_dedupe(dedupe)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    if await pipe.exists(key):
                        return None
                    pipe.multi()
                    pipe.set(key, alert.id)
                    pipe.set(self._keys.alert(alert.id), alert.dump())
                    pipe.zadd(self._keys.alerts(), {alert.id: alert.detected_at})
                    pipe.zadd(self._keys.alerts_of(alert.account), {alert.id: alert.detected_at})
                    pipe.zadd(self._keys.alerts_open(), {alert.id: alert.detected_at})
                    await pipe.execute()
                    return alert
                except aredis.WatchError:
                    continue

    async def seen(self, dedupe: str) -> bool:
        return bool(await self._redis.exists(self._keys.alert_dedupe(dedupe)))

    async def get(self, alert_id: str) -> Alert | None:
        raw = await self._redis.get(self._keys.alert(alert_id))
        return Alert.load(raw) if raw else None

    async def require(self, alert_id: str) -> Alert:
        alert = await self.get(alert_id)
        if alert is None:
            raise NotFound(f"no alert {alert_id!r}")
        return alert

    async def update(self, alert_id: str, *, expect_state: str = "", **changes: Any) -> Alert:
        """Change fields of a stored alert (e.g. its ``audit_seq`` once audited). With
        ``expect_state`` the change is made only if the alert is still in that state, checked in
        the same transaction (409 otherwise), so two people acting at once change it once."""
        key = self._keys.alert(alert_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise NotFound(f"no alert {alert_id!r}")
                    old = Alert.load(raw)
                    if expect_state and old.state != expect_state:
                        raise Conflict(
                            f"alert {alert_id} is already {old.state}",
                            reason="not_open",
                            state=old.state,
                        )
                    new = replace(old, **changes)
                    pipe.multi()
                    pipe.set(key, new.dump())
                    if new.state != "open":
                        pipe.zrem(self._keys.alerts_open(), alert_id)
                    await pipe.execute()
                    return new
                except aredis.WatchError:
                    continue

    async def close(self, alert_id: str, state: AlertState, *, by: str, note: str) -> Alert:
        """Acknowledge (or mark frozen) an open alert; 409 if it is no longer open."""
        alert = await self.require(alert_id)
        if alert.state != "open":
            raise Conflict(
                f"alert {alert_id} is already {alert.state}", reason="not_open", state=alert.state
            )
        return await self.update(
            alert_id,
            expect_state="open",
            state=state,
            note=note,
            acted_by=by,
            acted_at=time.time(),
        )

    async def open_count(self) -> int:
        """How many alerts are open (the console's navigation)."""
        return int(await self._redis.zcard(self._keys.alerts_open()))

    async def list(
        self,
        *,
        account: str = "",
        state: str = "",
        kind: str = "",
        accounts: Collection[str] | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Alert]:
        """Newest first; ``state``, ``kind`` and ``account`` filter, ``accounts`` (when given)
        keeps the alerts of those accounts only; ``since``/``until`` bound ``detected_at``."""
        if accounts is not None and not accounts:
            return []
        if state == "open":
            index = self._keys.alerts_open()
        elif account:
            index = self._keys.alerts_of(account)
        else:
            index = self._keys.alerts()
        high = f"({until}" if until is not None else "+inf"
        low = str(since) if since is not None else "-inf"

        def keep(alert: Alert) -> bool:
            return (
                (not account or alert.account == account)
                and (not state or alert.state == state)
                and (not kind or alert.kind == kind)
                and (accounts is None or alert.account in accounts)
            )

        # Read the index a page at a time and stop once ``offset + limit`` matched: a page of
        # the newest alerts costs the same with ten or a hundred thousand in the store.
        wanted, start = offset + limit, 0
        page = min(_PAGE, max(wanted, 100))
        matched: list[Alert] = []
        seen: set[str] = set()
        while len(matched) < wanted:
            ids: list[Any] = await self._redis.zrevrangebyscore(
                index, high, low, start=start, num=page
            )
            if not ids:
                break
            start += len(ids)
            raws = await self._redis.mget([self._keys.alert(text(i)) for i in ids])
            for raw in raws:
                alert = Alert.load(raw) if raw else None
                if alert is not None and alert.id not in seen and keep(alert):
                    seen.add(alert.id)  # an alert raised meanwhile shifts the pages by one
                    matched.append(alert)
            if len(ids) < page:
                break
        return matched[offset:wanted]

    async def counts(self, since: float, until: float) -> dict[str, dict[str, int]]:
        """``{account: {kind: n}}`` of alerts detected in [since, until) (reports)."""
        out: dict[str, dict[str, int]] = {}
        for alert in await self.list(since=since, until=until, limit=1_000_000):
            per = out.setdefault(alert.account, {})
            per[alert.kind] = per.get(alert.kind, 0) + 1
        return out
