"""What :mod:`gateway.watch.actions` needs of the alert store, on the real Valkey: the state
change checked in its transaction (``expect_state``), the ``kind`` and ``accounts`` filters and
the open count."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aredis

from gateway.errors import Conflict, NotFound
from gateway.keys import Keys
from gateway.watch.alerts import Alert, AlertKind, AlertStore, dedupe_key, new_alert_id


async def _raise(
    store: AlertStore, kind: AlertKind, account: str, at: float, title: str = ""
) -> Alert:
    alert = Alert(
        id=new_alert_id(),
        kind=kind,
        account=account,
        platform="weibo",
        unit="sub_east",
        platform_id=new_alert_id(),
        detected_at=at,
        title=title,
    )
    raised = await store.raise_once(alert, dedupe_key(kind, account, alert.platform_id))
    assert raised is not None
    return raised


async def test_closing_is_checked_in_the_transaction(redis: aredis.Redis) -> None:
    store = AlertStore(redis, Keys())
    alert = await _raise(store, "unapproved_publish", "east-weibo", time.time())
    assert await store.open_count() == 1
    results = await asyncio.gather(
        *(store.close(alert.id, "acknowledged", by=f"p{i}", note=f"说明{i}") for i in range(8)),
        return_exceptions=True,
    )
    done = [r for r in results if isinstance(r, Alert)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert (len(done), len(refused)) == (1, 7)
    stored = await store.require(alert.id)
    assert (stored.state, stored.acted_by, stored.note) == ("acknowledged", done[0].acted_by,
                                                           done[0].note)  # fmt: skip
    assert await store.open_count() == 0
    with pytest.raises(Conflict):
        await store.update(alert.id, expect_state="open", state="frozen")
    with pytest.raises(NotFound):
        await store.update("alr_nothing", expect_state="open", state="frozen")
    # without expect_state an update is what it was (the reconciler records its audit_seq)
    assert (await store.update(alert.id, audit_seq=7)).audit_seq == 7


@pytest.mark.parametrize(
    ("kind", "accounts", "expected"),
    [
        ("", None, ["c", "b", "a"]),
        ("unapproved_edit", None, ["b"]),
        ("", {"east-weibo"}, ["b", "a"]),
        ("removed_outside", {"east-weibo"}, []),
        ("", set(), []),
    ],
)
async def test_kind_and_accounts_filter(
    redis: aredis.Redis, kind: str, accounts: set[str] | None, expected: list[str]
) -> None:
    store = AlertStore(redis, Keys())
    now = time.time()
    await _raise(store, "unapproved_publish", "east-weibo", now - 3, "a")
    await _raise(store, "unapproved_edit", "east-weibo", now - 2, "b")
    await _raise(store, "removed_outside", "west-weibo", now - 1, "c")
    found = await store.list(kind=kind, accounts=accounts)
    assert [a.title for a in found] == expected


async def test_pages_of_the_index_give_the_same_answer_as_one_read(redis: aredis.Redis) -> None:
    """More alerts than one page of the index (500): filters, offset and limit still pick the
    same alerts a full read and a slice would."""
    store = AlertStore(redis, Keys())
    now = time.time()
    kinds: tuple[AlertKind, ...] = ("unapproved_publish", "unapproved_edit", "removed_outside")
    raised = [
        await _raise(store, kinds[i % 3], "east-weibo" if i % 2 else "west-weibo", now - i, str(i))
        for i in range(1_300)
    ]
    newest_first = sorted(raised, key=lambda a: -a.detected_at)
    edits = [a.title for a in newest_first if a.kind == "unapproved_edit"]
    found = await store.list(kind="unapproved_edit", offset=300, limit=100)
    assert [a.title for a in found] == edits[300:400]
    east = [a.title for a in newest_first if a.account == "east-weibo"]
    found = await store.list(accounts={"east-weibo"}, offset=480, limit=200)
    assert [a.title for a in found] == east[480:650]  # 650 in all: the last page is short
    assert len(await store.list(limit=10_000)) == 1_300
