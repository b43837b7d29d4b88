"""The bypass reconciler end to end (docs/bypass.md): the real gateway, the platform's emulator
and the real store. A person publishes, edits or deletes on the platform's own console; the
reconciler raises the right alert within two intervals, exactly once, audited, with a notice to
Brand-PR. What the gateway published never alerts, not even while its job is still settling;
a listing fault raises nothing and the next pass recovers. Every test runs for every row of
:data:`tests.gateway.watch.conftest.PLATFORMS`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from connectors.base import Lister
from gateway.appkeys import SERVICES, WATCH
from gateway.errors import ServiceUnavailable
from gateway.watch.alerts import Alert
from gateway.watch.reconciler import PassReport
from tests.gateway.watch.conftest import (
    ACCOUNT,
    INTERVAL_S,
    PLATFORMS,
    Platform,
    StartWatched,
    Watched,
    eventually,
    platform_ids,
)

pytestmark = pytest.mark.parametrize("platform", PLATFORMS, ids=platform_ids())

# Two intervals, plus the loop's tick and a slow shared machine's scheduling.
WITHIN_S = 2 * INTERVAL_S + 2.0


async def _alert(w: Watched, kind: str, platform_id: str, timeout_s: float = WITHIN_S) -> Alert:
    async def found() -> Alert | None:
        for alert in await w.alerts(kind):
            if alert.platform_id == platform_id:
                return alert
        return None

    alert: Alert = await eventually(found, timeout_s)
    return alert


async def _settle(w: Watched, passes: int = 3) -> None:
    """Let the background reconciler make a few more passes."""
    before = await w.redis.hget(w.app[SERVICES].keys.watch_state(ACCOUNT), "last_pass_at")

    async def moved() -> bool:
        now = await w.redis.hget(w.app[SERVICES].keys.watch_state(ACCOUNT), "last_pass_at")
        return now is not None and now != before

    for _ in range(passes):
        await eventually(moved, WITHIN_S)
        before = await w.redis.hget(w.app[SERVICES].keys.watch_state(ACCOUNT), "last_pass_at")


async def test_console_publish_edit_and_delete_alert_once_each(
    platform: Platform, start_watched: StartWatched
) -> None:
    w = await start_watched(platform)
    kept, edited, removed = await w.publish(1), await w.publish(2), await w.publish(3)
    assert {kept["state"], edited["state"], removed["state"]} == {"published"}
    await _settle(w)
    assert await w.alerts() == []  # what the gateway published never alerts

    started = time.monotonic()
    outside = await platform.console_publish(
        w.emulator_url, "未经审核的稿件", "<p>绕过网关发布的内容。</p>"
    )
    published = await _alert(w, "unapproved_publish", outside)
    assert time.monotonic() - started <= WITHIN_S
    assert published.title == "未经审核的稿件" and "绕过网关" in published.excerpt
    assert published.job == ""

    changed = platform.post(2)["content"] + "<p>后来加上的一句话。</p>"
    await platform.console_edit(w.emulator_url, edited["platform_id"], changed)
    edit = await _alert(w, "unapproved_edit", edited["platform_id"])
    assert edit.job == edited["id"]
    assert edit.diff.startswith("--- approved\n+++ platform")
    assert "\n+后来加上的一句话。" in edit.diff
    kinds = ["removed_outside", "unapproved_publish", "unapproved_edit"]

    await platform.console_delete(w.emulator_url, removed["platform_id"])
    gone = await _alert(w, "removed_outside", removed["platform_id"])
    assert gone.job == removed["id"] and gone.title

    await _settle(w)
    alerts = await w.alerts()
    assert sorted(a.kind for a in alerts) == sorted(kinds)  # once each over further passes
    assert not any(a.platform_id == kept["platform_id"] for a in alerts)

    # audited by the gateway itself, the record's seq kept on the alert, no secret in it
    records = await w.audit_records("alert.raised")
    assert sorted(r["target"] for r in records) == sorted(a.id for a in alerts)
    for alert in alerts:
        record = next(r for r in records if r["target"] == alert.id)
        assert record["actor"]["id"] == "system"
        assert record["seq"] == alert.audit_seq > 0
        assert record["result"] == alert.kind
        assert record["details"]["platform_id"] == alert.platform_id
    dumped = json.dumps(records, ensure_ascii=False)
    for secret in platform.vault_fields.values():
        if len(secret) > 12:  # ids (an AppID) may appear; secrets may not
            assert secret not in dumped

    # one notice each, to Brand-PR's channel, linking the console page
    for alert in alerts:
        notices = await w.notices_of(alert.id)
        assert len(notices) == 1
        assert notices[0]["event"] == "alert"
        assert notices[0]["link"] == f"https://gateway.example.com/console/alerts/{alert.id}"
        assert notices[0]["data"]["kind"] == alert.kind

    # a second, different edit is a new finding; the first is not raised again
    await platform.console_edit(w.emulator_url, edited["platform_id"], "<p>又改了一次。</p>")

    async def two_edits() -> list[Alert] | None:
        edits = await w.alerts("unapproved_edit")
        return edits if len(edits) == 2 else None

    edits = await eventually(two_edits, WITHIN_S)
    assert len({a.details["platform_fingerprint"] for a in edits}) == 2
    await _settle(w, passes=2)
    assert len(await w.alerts()) == 4


async def test_items_in_flight_or_unconfirmed_never_alert(
    platform: Platform, start_watched: StartWatched
) -> None:
    """The item is on the platform while its job is not published yet (the platform's answer
    hangs, or the connection drops after the platform applied the call): no alert, during or
    after."""
    w = await start_watched(platform, enabled=False, max_attempts=3)
    seen_unsettled = 0
    finals = []
    for i, fault in enumerate(platform.settle_faults):
        await w.fault(**fault)
        job = await w.api.publish(ACCOUNT, platform.post(f"f{i}"))
        while True:
            state = (await w.api.job(job["id"]))["state"]
            report = await w.run_pass()
            assert report.listed and report.alerts == [], report
            if report.items_seen > i and state not in ("published", "unconfirmed", "failed"):
                seen_unsettled += 1  # the pass saw the item while the job was settling
            if state in ("published", "unconfirmed", "failed"):
                break
            await asyncio.sleep(0.1)
        await w.clear_faults()
        final = await w.api.wait_final(job["id"])
        assert final["state"] in ("published", "unconfirmed"), final
        finals.append(final["state"])
        for _ in range(2):
            report = await w.run_pass()
            assert report.listed and report.alerts == [], report
    assert seen_unsettled > 0
    assert "unconfirmed" in finals  # a row's settle_faults leave at least one job unconfirmed
    assert await w.alerts() == []

    # Brand-PR settles the unconfirmed jobs as published without the platform's item id (the
    # job keeps whatever id it had, e.g. WeChat's publish_id): still the same items, no alert.
    for job in await w.api.listing("unconfirmed"):
        status, resolved = await w.api.call(
            "POST",
            f"/v1/posts/{job['id']}/resolve",
            "brand_pr",
            {"resolution": "published", "reason": "平台上已发布，核对无误"},
        )
        assert status == 200 and resolved["state"] == "published", resolved
    for _ in range(2):
        report = await w.run_pass()
        assert report.listed and report.alerts == [], report
    assert await w.alerts() == []


async def test_listing_faults_raise_nothing_and_the_next_pass_recovers(
    platform: Platform, start_watched: StartWatched
) -> None:
    w = await start_watched(platform, enabled=False)
    gateway_item = await w.publish(1)
    assert (await w.run_pass()).alerts == []
    outside = await platform.console_publish(
        w.emulator_url, "控制台发布", "<p>控制台直接发布。</p>"
    )
    await platform.console_delete(w.emulator_url, gateway_item["platform_id"])
    metrics = w.app[SERVICES].metrics

    for fault in ({"status": 502}, {"hang": True}):
        await w.fault(path=platform.list_path, times=1, **fault)
        report = await w.run_pass()
        assert (report.listed, report.result, report.alerts) == (False, "unavailable", [])
        assert platform.list_path.rsplit("/", 1)[-1] in report.reason
    # the listing works but confirming the missing item fails: still nothing (no partial pass)
    await w.fault(path=platform.fetch_path, times=1, status=503)
    report = await w.run_pass()
    assert (report.listed, report.result, report.alerts) == (False, "unavailable", [])
    assert await w.alerts() == []
    state = await w.redis.hgetall(w.app[SERVICES].keys.watch_state(ACCOUNT))
    assert state[b"last_result"] == b"unavailable"
    rendered = metrics.render()
    assert (
        f'mediagate_watch_passes_total{{platform="{platform.name}",result="unavailable"}} 3.0'
        in (rendered)
    )

    if platform.bad_vault_fields is not None:  # credentials refused: needs_reauth, no alert
        vault = f"/admin/vault/{ACCOUNT}"
        status, _ = await w.api.call("PUT", vault, "admin", {"fields": platform.bad_vault_fields})
        assert status == 200
        if platform.revoke is not None:
            await platform.revoke(w.emulator_url)
        report = await w.run_pass()
        assert (report.listed, report.result, report.alerts) == (False, "needs_reauth", [])
        assert "not-the-app-secret" not in json.dumps(report.public(), ensure_ascii=False)
        fields = dict(platform.vault_fields)
        assert (await w.api.call("PUT", vault, "admin", {"fields": fields}))[0] == 200
    if platform.revoke is not None:  # tokens revoked: the connector's usual refresh
        await platform.revoke(w.emulator_url)
    report = await w.run_pass()
    assert report.listed and report.result == "ok", report
    assert sorted((a.kind, a.platform_id) for a in report.alerts) == sorted(
        [("unapproved_publish", outside), ("removed_outside", gateway_item["platform_id"])]
    )
    report = await w.run_pass()
    assert report.alerts == [] and report.fetched == 0  # a reported removal is not fetched again


async def test_two_gateways_on_one_store_raise_one_alert(
    platform: Platform, start_watched: StartWatched
) -> None:
    w = await start_watched(platform, apps=2)
    other = w.extra_apps[0]
    await w.publish(1)
    outside = await platform.console_publish(w.emulator_url, "两个进程", "<p>只应告警一次。</p>")
    await _alert(w, "unapproved_publish", outside)
    await _settle(w)
    assert len(await w.alerts()) == 1
    assert len(await w.audit_records("alert.raised")) == 1

    # Even without the lease (two passes at once), the store's dedupe records one alert.
    second = await platform.console_publish(w.emulator_url, "并发", "<p>两个进程同时发现。</p>")
    await w.app[WATCH].stop()
    await other[WATCH].stop()
    account = await w.app[SERVICES].accounts.require(ACCOUNT)
    found = await asyncio.gather(
        *(
            app[WATCH]._reconcile(account, app[WATCH].listable(account), _report())  # type: ignore[arg-type]
            for app in (w.app, other, w.app, other)
        )
    )
    assert found == [None] * 4
    raised = [a for a in await w.alerts() if a.platform_id == second]
    assert len(raised) == 1
    assert len(await w.audit_records("alert.raised")) == 2
    assert len(await w.notices_of(raised[0].id)) == 1


def _report() -> PassReport:
    return PassReport(ACCOUNT, "")


async def test_reconcile_route_answers_what_it_found(
    platform: Platform, start_watched: StartWatched
) -> None:
    w = await start_watched(platform, enabled=False)
    path = f"/v1/accounts/{ACCOUNT}/reconcile"
    status, answer = await w.api.call("POST", path, "brand_pr")
    assert status == 200, answer
    assert answer["listed"] is True and answer["alerts"] == [] and answer["result"] == "ok"

    outside = await platform.console_publish(w.emulator_url, "路由", "<p>立即对账。</p>")
    await w.fault(path=platform.list_path, times=1, status=500)
    status, answer = await w.api.call("POST", path, "admin")
    assert status == 200 and answer["listed"] is False and answer["result"] == "unavailable"
    assert answer["reason"]

    status, answer = await w.api.call("POST", path, "brand_pr")
    assert status == 200 and answer["items_seen"] >= 1
    assert [(a["kind"], a["platform_id"]) for a in answer["alerts"]] == [
        ("unapproved_publish", outside)
    ]
    assert answer["alerts"][0]["audit_seq"] > 0
    records = await w.audit_records("watch.reconcile")
    assert [r["result"] for r in records] == ["ok", "unavailable", "ok"]
    assert records[-1]["details"]["alerts"] == [answer["alerts"][0]["id"]]

    for who in ("editor", "unit_head", "auditor"):
        status, answer = await w.api.call("POST", path, who)
        assert status == 403, answer

    status, answer = await w.api.call("POST", "/v1/accounts/no-such-account/reconcile", "admin")
    assert status == 404, answer
    # a pending account is not reconciled
    status, answer = await w.api.call(
        "POST",
        "/v1/accounts",
        "unit_head",
        {"id": "east-pending", "platform": platform.name, "name": "待批", "unit": "sub_east"},
    )
    assert status == 201, answer
    status, answer = await w.api.call("POST", "/v1/accounts/east-pending/reconcile", "admin")
    assert status == 409 and answer["reason"] == "not_active", answer


async def test_an_account_whose_connector_cannot_list_is_refused(
    platform: Platform, start_watched: StartWatched
) -> None:
    w = await start_watched(platform, enabled=False)
    reconciler = w.app[WATCH]
    connectors = reconciler.connectors
    assert isinstance(connectors[platform.name], Lister)
    reconciler.connectors = {platform.name: object()}  # type: ignore[dict-item]
    status, answer = await w.api.call("POST", f"/v1/accounts/{ACCOUNT}/reconcile", "admin")
    assert status == 409 and answer["reason"] == "not_listable", answer
    account = await w.app[SERVICES].accounts.require(ACCOUNT)
    assert (await reconciler.run_pass(account)).result == "error"
    reconciler.connectors = connectors
    status, answer = await w.api.call("POST", f"/v1/accounts/{ACCOUNT}/reconcile", "admin")
    assert status == 200 and answer["listed"], answer


async def test_edits_and_deletions_through_the_gateway_never_alert(
    platform: Platform, start_watched: StartWatched
) -> None:
    w = await start_watched(platform)
    first, second = await w.publish(1), await w.publish(2)
    new = platform.post("1v2")
    tokens = await w.api.approvals(ACCOUNT, new)
    status, edit = await w.api.call(
        "PATCH", f"/v1/posts/{first['id']}", "editor", {"post": new, "approvals": tokens}
    )
    assert status in (201, 202), edit
    edit = await w.api.wait_final(edit["id"])
    assert edit["state"] == "published", edit
    status, delete = await w.api.call(
        "DELETE", f"/v1/posts/{second['id']}", "brand_pr", {"reason": "撤稿"}
    )
    assert status in (201, 202), delete
    assert (await w.api.wait_final(delete["id"]))["state"] == "deleted"
    await _settle(w)
    assert await w.alerts() == []

    # the reconciler compares the item with its *new* approved content
    live_id = edit["platform_id"] or first["platform_id"]
    await platform.console_edit(w.emulator_url, live_id, "<p>控制台改回了旧稿。</p>")
    alert = await _alert(w, "unapproved_edit", live_id)
    assert alert.job == edit["id"]
    removed_lines = [line for line in alert.diff.splitlines()[2:] if line.startswith("-")]
    assert any("1v2" in line for line in removed_lines), alert.diff


# Console edits of a gateway item, as Chinese newsrooms' tools and adversaries make them: what a
# reader sees decides. Each variant rewrites the approved HTML of ``platform.post(7)`` (which has
# a "，", a "。", "编号7" and "结束", like tests/delivery/conftest.make_post); alert expected?
EditVariant = tuple[str, Callable[[str], str], bool]


def _first(old: str, new: str) -> Callable[[str], str]:
    def edit(html: str) -> str:
        assert old in html, (old, html)
        return html.replace(old, new, 1)

    return edit


EDIT_VARIANTS: list[EditVariant] = [
    (
        "re-wrapped paragraphs",
        lambda h: h.replace("<p>", "<div>").replace("</p>", "</div>\n\n"),
        False,
    ),
    (
        "full-width space, nbsp",
        lambda h: _first("，", "，\u3000")(h).replace("</p>", "&nbsp;</p>", 1),
        False,
    ),
    ("numeric entities", lambda h: _first("编", "&#32534;")(h).replace("。", "&#12290;"), False),
    (
        "comment and style",
        lambda h: _first("，", "，<!-- 备注 -->")(h) + "<style>p{}</style>",
        False,
    ),
    ("an image's address", lambda h: h + '<p><img src="https://example.com/x.png"></p>', False),
    ("traditional character", _first("编号", "編号"), True),
    ("zero-width space", _first("编号", "编\u200b号"), True),
    ("ascii full stop", _first("。", "."), True),
    ("negation inserted", _first("结束", "不结束"), True),
    ("full-width digit", _first("编号7", "编号７"), True),
    ("sentence appended", lambda h: h + "<p>补充一句。</p>", True),
    ("back to the approved", lambda h: h, False),
]


async def test_chinese_console_edits_alert_only_when_the_visible_text_changes(
    platform: Platform, start_watched: StartWatched
) -> None:
    w = await start_watched(platform, enabled=False)
    post = platform.post(7)
    item = await w.publish(7)
    assert (await w.run_pass()).alerts == []
    for name, rewrite, alerts in EDIT_VARIANTS:
        await platform.console_edit(w.emulator_url, item["platform_id"], rewrite(post["content"]))
        report = await w.run_pass()
        assert report.listed, (name, report)
        assert [a.kind for a in report.alerts] == (["unapproved_edit"] if alerts else []), name
    assert len(await w.alerts()) == sum(1 for *_, alerts in EDIT_VARIANTS if alerts)


async def test_accounts_are_scheduled_and_one_process_holds_an_account(
    platform: Platform, start_watched: StartWatched
) -> None:
    w = await start_watched(platform, enabled=False)
    reconciler, svc = w.reconciler, w.app[SERVICES]
    state_key = svc.keys.watch_state(ACCOUNT)
    now = time.time()
    assert await reconciler.tick(now) == []  # first seen: due one interval later
    next_at = float(await w.redis.hget(state_key, "next_at"))
    assert next_at == pytest.approx(now + INTERVAL_S)
    assert await reconciler.tick(next_at - 0.01) == []
    [report] = await reconciler.tick(next_at + 0.01)
    assert report.listed and report.result == "ok"
    assert float(await w.redis.hget(state_key, "next_at")) > next_at

    # another process holds the account: this one neither lists nor raises anything
    await platform.console_publish(w.emulator_url, "租约", "<p>另一个进程正在对账。</p>")
    await w.redis.set(svc.keys.watch_lease(ACCOUNT), "another-process", px=5000)
    report = await w.run_pass()
    assert (report.result, report.listed, report.alerts) == ("busy", False, [])
    status, answer = await w.api.call("POST", f"/v1/accounts/{ACCOUNT}/reconcile", "brand_pr")
    assert status == 409 and answer["reason"] == "busy", answer
    assert await w.redis.get(svc.keys.watch_lease(ACCOUNT)) == b"another-process"
    await w.redis.delete(svc.keys.watch_lease(ACCOUNT))
    report = await w.run_pass()
    assert [a.kind for a in report.alerts] == ["unapproved_publish"]
    assert await w.redis.get(svc.keys.watch_lease(ACCOUNT)) is None  # released after the pass


async def test_an_alert_whose_audit_failed_is_audited_by_the_next_pass(
    platform: Platform, start_watched: StartWatched
) -> None:
    w = await start_watched(platform, enabled=False)
    audit = w.app[SERVICES].audit
    real_append = audit.append
    failures = []

    async def append_once_unavailable(**kw: Any) -> dict[str, Any]:
        if kw.get("action") == "alert.raised" and not failures:
            failures.append(kw["target"])
            raise ServiceUnavailable("audit log unavailable", reason="audit_unavailable")
        return await real_append(**kw)

    audit.append = append_once_unavailable  # type: ignore[method-assign]
    outside = await platform.console_publish(w.emulator_url, "审计", "<p>审计暂时不可用。</p>")
    [alert] = (await w.run_pass()).alerts
    assert alert.platform_id == outside and alert.audit_seq == 0 and failures == [alert.id]
    assert len(await w.notices_of(alert.id)) == 1  # Brand-PR is told regardless
    assert (await w.run_pass()).alerts == []
    [record] = await w.audit_records("alert.raised")
    assert record["target"] == alert.id
    stored = await w.store.require(alert.id)
    assert stored.audit_seq == record["seq"]
    await w.run_pass()
    assert len(await w.audit_records("alert.raised")) == 1


async def test_an_item_the_gateway_is_deleting_never_alerts_as_removed(
    platform: Platform, start_watched: StartWatched
) -> None:
    """The platform applied the gateway's delete but the answer never came back (the job keeps
    retrying): the item is gone, and that is the gateway's doing."""
    w = await start_watched(platform, enabled=False)
    item = await w.publish(1)
    await w.fault(path=platform.delete_path, hang=True)
    status, delete = await w.api.call(
        "DELETE", f"/v1/posts/{item['id']}", "brand_pr", {"reason": "撤稿"}
    )
    assert status in (201, 202), delete
    await platform.console_delete(w.emulator_url, item["platform_id"])  # as if applied
    for _ in range(2):
        report = await w.run_pass()
        assert report.listed and report.alerts == [] and report.fetched == 0, report
        assert (await w.api.job(delete["id"]))["state"] not in ("deleted", "failed")
    await w.clear_faults()
    assert (await w.api.wait_final(delete["id"]))["state"] == "deleted"
    report = await w.run_pass()
    assert report.listed and report.alerts == [], report
    assert await w.alerts() == []
