"""The console's alert pages over HTTP (gateway/console/alerts.py): the list (open first, filters),
one alert with its diff, link and audit records, Brand-PR's acknowledge and freeze forms, the open
count in the navigation, and hostile titles, diffs and links rendered inert."""

from __future__ import annotations

import html as htmllib
import re
import time
from typing import Any

import pytest

from gateway.appkeys import SERVICES
from gateway.console.alerts import MAX_DIFF_CHARS, diff_view, platform_link
from tests.console.conftest import Caller, OpenDesk
from tests.console.test_desk import XSS_TITLES, assert_inert
from tests.gateway.alert_support import EDIT_DIFF, alert_store, seed
from tests.gateway.conftest import MakeClient
from tests.gateway.gate_support import EAST, HQ, WEST, Org, draft, start_org

ROW_RE = re.compile(r'data-testid="alert-row" data-id="([^"]+)" data-state="([^"]+)"')


@pytest.fixture
async def org(make_client: MakeClient, settings: Any, callers: dict[str, Caller]) -> Org:
    return await start_org(make_client, settings, callers)


def rows(page: str) -> list[tuple[str, str]]:
    return ROW_RE.findall(page)


def open_badge(page: str) -> str:
    match = re.search(r'data-testid="open-alerts">(\d+)<', page)
    return match.group(1) if match else ""


async def _three(org: Org) -> dict[str, str]:
    now = time.time()
    east = await seed(
        org.client,
        "unapproved_publish",
        EAST,
        unit="sub_east",
        title="华东分公司擅自发布的通知",
        url="https://mp.weixin.qq.com/s/abc",
        excerpt="各部门注意：本周五下午停电检修。",
        detected_at=now - 30,
    )
    west = await seed(
        org.client,
        "unapproved_edit",
        WEST,
        unit="sub_west",
        title="华西分公司运动会",
        diff=EDIT_DIFF,
        job="job_west",
        detected_at=now - 20,
    )
    hq = await seed(
        org.client, "removed_outside", HQ, unit="hq", title="集团年度报告", detected_at=now - 10
    )
    return {EAST: east.id, WEST: west.id, HQ: hq.id}


async def test_brand_pr_sees_open_alerts_first_with_a_count_in_the_navigation(
    org: Org, open_desk: OpenDesk
) -> None:
    ids = await _three(org)
    pr = await open_desk(org.client, org["brand_pr"].key)
    status, page = await pr.get("/console/alerts")
    assert status == 200
    assert open_badge(page) == "3"
    assert [r[0] for r in rows(page)] == [ids[HQ], ids[WEST], ids[EAST]]
    assert "华东分公司擅自发布的通知" in page and "未经网关发布" in page

    resp = await pr.post(f"/console/alerts/{ids[HQ]}/acknowledge", {"note": "已核实，系误删后恢复"})
    assert resp.status == 303
    assert resp.headers["Location"] == f"/console/alerts/{ids[HQ]}"
    _, page = await pr.get("/console/alerts")
    assert open_badge(page) == "2"
    # open first (newest first among them), then the handled one
    assert rows(page) == [(ids[WEST], "open"), (ids[EAST], "open"), (ids[HQ], "acknowledged")]
    # the badge is on every page Brand-PR opens
    _, accounts = await pr.get("/console/accounts")
    assert open_badge(accounts) == "2"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=open", {EAST, WEST}),
        ("state=acknowledged", {HQ}),
        ("state=frozen", set()),
        (f"account={WEST}", {WEST}),
        ("kind=unapproved_edit", {WEST}),
        ("kind=removed_outside&state=open", set()),
    ],
)
async def test_the_list_filters_by_state_account_and_kind(
    org: Org, open_desk: OpenDesk, query: str, expected: set[str]
) -> None:
    ids = await _three(org)
    await alert_store(org.client).close(ids[HQ], "acknowledged", by="t", note="已处理")
    pr = await open_desk(org.client, org["brand_pr"].key)
    status, page = await pr.get(f"/console/alerts?{query}")
    assert status == 200
    by_id = {v: k for k, v in ids.items()}
    assert {by_id[i] for i, _ in rows(page)} == expected


@pytest.mark.parametrize("query", ["state=closed", "kind=<script>"])
async def test_an_unknown_filter_value_is_refused(
    org: Org, open_desk: OpenDesk, query: str
) -> None:
    pr = await open_desk(org.client, org["brand_pr"].key)
    status, page = await pr.get(f"/console/alerts?{query}")
    assert status == 422
    assert_inert(page)


async def test_the_detail_page_shows_the_finding_the_diff_and_the_forms(
    org: Org, open_desk: OpenDesk
) -> None:
    ids = await _three(org)
    pr = await open_desk(org.client, org["brand_pr"].key)
    status, page = await pr.get(f"/console/alerts/{ids[WEST]}")
    assert status == 200
    assert "华西分公司运动会" in page and "在平台上被修改" in page
    # the edit, character by character: what was approved struck, what the platform shows added
    inline = page.split('data-testid="diff-inline">', 1)[1].split("</div>", 1)[0]
    assert "<del>。</del>" in inline and "<ins>，奖金翻倍！</ins>" in inline
    assert "大家热情高涨" in inline
    assert 'class="line-added">+大家热情高涨，奖金翻倍！</span>' in page
    assert "job_west" in page
    assert 'data-testid="acknowledge"' in page and 'data-testid="freeze-account"' in page

    _, page = await pr.get(f"/console/alerts/{ids[EAST]}")
    assert 'href="https://mp.weixin.qq.com/s/abc"' in page
    assert "各部门注意：本周五下午停电检修。" in page
    assert 'data-testid="alert-diff"' not in page  # no diff for a publish


async def test_acknowledge_from_the_console_is_audited_and_shown(
    org: Org, open_desk: OpenDesk
) -> None:
    ids = await _three(org)
    pr = await open_desk(org.client, org["brand_pr"].key)
    # without the CSRF token nothing happens
    resp = await pr.post(f"/console/alerts/{ids[EAST]}/acknowledge", {"note": "x"}, csrf=False)
    assert resp.status == 403
    # an empty note is refused, the alert stays open
    resp = await pr.post(f"/console/alerts/{ids[EAST]}/acknowledge", {"note": "　 "})
    assert resp.status == 422
    assert (await alert_store(org.client).require(ids[EAST])).state == "open"

    resp = await pr.post(f"/console/alerts/{ids[EAST]}/acknowledge", {"note": "系统演练，已删除"})
    assert resp.status == 303
    _, page = await pr.get(f"/console/alerts/{ids[EAST]}")
    assert 'data-state="acknowledged"' in page and "系统演练，已删除" in page
    assert 'data-testid="alert-actions"' not in page  # nothing more to do
    assert 'data-action="alert.acknowledged"' in page  # the audit record, on the page
    records = [r async for _, r in org.client.app[SERVICES].audit.records()]
    ack = [r for r in records if r["action"] == "alert.acknowledged"]
    assert ack[0]["details"]["via"] == "console" and ack[0]["target"] == ids[EAST]
    # twice: a conflict page
    resp = await pr.post(f"/console/alerts/{ids[EAST]}/acknowledge", {"note": "再次"})
    assert resp.status == 409


async def test_freeze_from_the_console_stops_the_account(org: Org, open_desk: OpenDesk) -> None:
    ids = await _three(org)
    post = draft()
    token = await org.approve("unit_head", post, [EAST])
    pr = await open_desk(org.client, org["brand_pr"].key)
    resp = await pr.post(f"/console/alerts/{ids[EAST]}/freeze", {"reason": "擅自发布，冻结核查"})
    assert resp.status == 303
    _, page = await pr.get(f"/console/alerts/{ids[EAST]}")
    assert 'data-state="frozen"' in page and 'data-testid="account-frozen"' in page
    actions = re.findall(r'data-testid="trail-row" data-action="([^"]+)"', page)
    assert actions == ["alert.frozen", "freeze"]
    _, accounts = await pr.get("/console/accounts")
    row = accounts.split(f'data-id="{EAST}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="account-frozen"' in row
    assert (await org.publish("editor", EAST, post, [token])).status == 423


@pytest.mark.parametrize(
    ("who", "sees"),
    [("unit_head", {EAST}), ("unit_head_west", {WEST}), ("admin", {EAST, WEST, HQ})],
)
async def test_readers_see_their_alerts_without_the_forms(
    org: Org, open_desk: OpenDesk, who: str, sees: set[str]
) -> None:
    ids = await _three(org)
    desk = await open_desk(org.client, org[who].key)
    status, page = await desk.get("/console/alerts")
    assert status == 200
    by_id = {v: k for k, v in ids.items()}
    assert {by_id[i] for i, _ in rows(page)} == sees
    assert 'data-testid="nav-alerts"' in page and open_badge(page) == ""  # the count: Brand-PR
    for account, alert_id in ids.items():
        status, page = await desk.get(f"/console/alerts/{alert_id}")
        assert status == (200 if account in sees else 404)
        if status == 200:
            assert 'data-testid="alert-actions"' not in page
    resp = await desk.post(f"/console/alerts/{ids[EAST]}/acknowledge", {"note": "越权"})
    assert resp.status == 403
    resp = await desk.post(f"/console/alerts/{ids[EAST]}/freeze", {"reason": "越权"})
    assert resp.status == 403
    assert (await alert_store(org.client).require(ids[EAST])).state == "open"


@pytest.mark.parametrize("who", ["editor", "leader", "auditor"])
async def test_other_roles_have_no_alert_pages(org: Org, open_desk: OpenDesk, who: str) -> None:
    ids = await _three(org)
    desk = await open_desk(org.client, org[who].key)
    status, _ = await desk.get("/console/alerts")
    assert status == 403
    status, _ = await desk.get(f"/console/alerts/{ids[EAST]}")
    assert status == 403
    _, page = await desk.get("/console/accounts")
    assert 'data-testid="nav-alerts"' not in page


SAME = "华东分公司举办员工运动会，"
HOSTILE_DIFF = (
    "--- approved\n+++ platform\n@@ -1 +1 @@\n"
    '-<p>原文</p>\n+<script>alert("x")</script><img src=x onerror=alert(1)>新文\n'
)


@pytest.mark.parametrize("title", XSS_TITLES)
async def test_hostile_titles_diffs_and_links_render_inert(
    org: Org, open_desk: OpenDesk, title: str
) -> None:
    alert = await seed(
        org.client,
        "unapproved_edit",
        EAST,
        unit="sub_east",
        title=title,
        diff=HOSTILE_DIFF,
        url="javascript:alert(document.cookie)",
        excerpt='<iframe src="https://evil.example"></iframe>摘要',
    )
    pr = await open_desk(org.client, org["brand_pr"].key)
    for path in ("/console/alerts", f"/console/alerts/{alert.id}"):
        status, page = await pr.get(path)
        assert status == 200, path
        assert_inert(page)
    _, page = await pr.get(f"/console/alerts/{alert.id}")
    shown = page.split('data-testid="alert-title">', 1)[1].split("</h1>", 1)[0]
    assert htmllib.unescape(shown) == title  # the title shown as text, exactly
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert 'data-testid="platform-link"' not in page  # a javascript: URL is never a link
    assert 'data-testid="platform-url"' in page


@pytest.mark.parametrize(
    ("diff", "kinds", "old", "new"),
    [
        (EDIT_DIFF, ["file", "file", "hunk", "same", "removed", "added"],
         f"{SAME}\n大家热情高涨。", f"{SAME}\n大家热情高涨，奖金翻倍！"),
        # two hunks: a gap mark on both sides keeps them apart
        ("@@ -1 +1 @@\n-甲\n+乙\n@@ -9 +9 @@\n 丙\n-丁\n", ["hunk", "removed", "added", "hunk",
         "same", "removed"], "甲\n⋯\n丙\n丁", "乙\n⋯\n丙"),
        # not a diff at all: shown as it is, nothing compared
        ("<b>随便一段文字</b>", ["meta"], "", ""),
        ("@@ -1 +1 @@\n-旧\n+新\n\\ No newline at end of file\n", ["hunk", "removed", "added",
         "meta"], "旧", "新"),
    ],
)  # fmt: skip
def test_a_unified_diff_is_made_readable(diff: str, kinds: list[str], old: str, new: str) -> None:
    view = diff_view(diff)
    assert view is not None and not view.cut
    assert [line.kind for line in view.lines] == kinds
    before = "".join(s.text for s in view.segments if s.op != "added")
    after = "".join(s.text for s in view.segments if s.op != "removed")
    assert (before, after) == (old, new)


def test_no_diff_and_a_huge_one() -> None:
    assert diff_view("") is None
    huge = "@@ -1 +1 @@\n" + "".join(f"+第{i}行新增的内容\n" for i in range(20_000))
    view = diff_view(huge)
    assert view is not None and view.cut
    assert sum(len(line.text) for line in view.lines) <= MAX_DIFF_CHARS


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://weibo.com/1/abc", "https://weibo.com/1/abc"),
        ("HTTP://example.com/", "HTTP://example.com/"),
        ("javascript:alert(1)", ""),
        (" javascript:alert(1)", ""),
        ("data:text/html,<script>", ""),
        ("//evil.example/x", ""),
        ("", ""),
    ],
)
def test_only_web_addresses_become_links(url: str, link: str) -> None:
    assert platform_link(url) == link


async def test_the_detail_page_shows_the_record_the_reconciler_wrote(
    org: Org, open_desk: OpenDesk
) -> None:
    """The record written when the alert was raised is found by its ``audit_seq`` whatever it
    names; unrelated records around it are not shown."""
    from gateway.audit import SYSTEM

    svc = org.client.app[SERVICES]
    alert = await seed(org.client, "removed_outside", EAST, unit="sub_east", title="被删除的文章")
    await svc.audit.append(actor=SYSTEM, action="unrelated", target=EAST)
    record = await svc.audit.append(
        actor=SYSTEM,
        action="watch.removed_outside",
        target=f"{EAST}:wx-1",
        reasons=["平台上已找不到此文章"],
    )
    await alert_store(org.client).update(alert.id, audit_seq=record["seq"])
    pr = await open_desk(org.client, org["brand_pr"].key)
    _, page = await pr.get(f"/console/alerts/{alert.id}")
    assert re.findall(r'data-testid="trail-row" data-action="([^"]+)"', page) == [
        "watch.removed_outside"
    ]
    assert "平台上已找不到此文章" in page
