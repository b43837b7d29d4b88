"""The desk pages over HTTP: compose and submit, my submissions, the inbox, one submission,
decisions and withdrawal (gateway/console/desk.py), against the real gateway and desk services.

Delivery workers are off here (the gate tests' settings), so an approved submission stops at
``publishing``; the browser test (test_browser.py) follows one all the way to ``published``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import aiohttp
import pytest

from gateway.appkeys import DESK
from tests.console.conftest import Caller, Desk, OpenDesk
from tests.gateway.conftest import MakeClient
from tests.gateway.gate_support import (
    COVER_BYTES,
    EAST,
    EXECUTIVE,
    PLAIN,
    SECRET,
    WEST,
    Org,
    start_org,
)

MARK_RE = re.compile(r'<mark class="finding[^"]*" data-rule="([^"]+)"[^>]*>(.*?)</mark>', re.S)


@pytest.fixture
async def org(make_client: MakeClient, settings: Any, callers: dict[str, Caller]) -> Org:
    return await start_org(make_client, settings, callers)


async def compose(
    desk: Desk,
    *,
    content: str,
    title: str = "华东分公司动态",
    accounts: tuple[str, ...] = (EAST,),
    csrf: str | None = None,
    cover: bool = True,
    **fields: str,
) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("csrf", desk.csrf if csrf is None else csrf)
    for account in accounts:
        form.add_field("accounts", account)
    values = {
        "title": title,
        "digest": "本周要闻",
        "author": "华东分公司宣传组",
        "source": "华东分公司综合办公室",
        "category": "news",
        "content": content,
        **fields,
    }
    for name, value in values.items():
        form.add_field(name, value)
    if cover:
        form.add_field("cover", COVER_BYTES, filename="cover.png", content_type="image/png")
    resp = await desk.session.post(
        desk.client.make_url("/console/compose"),
        data=form,
        headers={"Origin": desk.origin},
        allow_redirects=False,
    )
    await resp.read()
    return resp


async def submitted(desk: Desk, **kw: Any) -> str:
    resp = await compose(desk, **kw)
    assert resp.status == 303, await resp.text()
    match = re.fullmatch(r"/console/submissions/(sub_[0-9a-f]+)", resp.headers["Location"])
    assert match, resp.headers["Location"]
    return match.group(1)


async def state_of(desk: Desk, submission_id: str) -> str:
    status, html = await desk.get(f"/console/submissions/{submission_id}")
    assert status == 200, html
    match = re.search(r'data-testid="submission-state"[^>]*>([a-z_]+)<', html)
    assert match, html
    return match.group(1)


async def test_compose_lists_only_accounts_the_editor_may_publish_to(
    org: Org, open_desk: OpenDesk
) -> None:
    desk = await open_desk(org.client, org["editor"].key)
    status, html = await desk.get("/console/compose")
    assert status == 200
    offered = re.findall(r'name="accounts" value="([^"]+)"', html)
    # its own unit's account, and the company account it sends up to (Art. 17(1), docs/hub.md)
    assert offered == [EAST, "hq-wechat"]
    assert 'src="/console/static/compose.js"' in html
    assert 'data-testid="submit"' in html


async def test_submit_inbox_approve_and_reject_with_reason(org: Org, open_desk: OpenDesk) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    sid = await submitted(editor, content=f"<p>{EXECUTIVE}</p>")
    assert await state_of(editor, sid) == "awaiting_approval"
    # the executive finding (Art. 17(2)) is marked in place in the rendered post
    _, html = await editor.get(f"/console/submissions/{sid}")
    marks = MARK_RE.findall(html)
    assert any("王建国" in text for _, text in marks), marks
    # both approvers see it waiting; an approver of another unit does not
    head = await open_desk(org.client, org["unit_head"].key)
    pr = await open_desk(org.client, org["brand_pr"].key)
    west = await open_desk(org.client, org["unit_head_west"].key)
    for desk, expected in ((head, [sid]), (pr, [sid]), (west, [])):
        _, inbox = await desk.get("/console/inbox")
        assert re.findall(r'data-testid="inbox-item" data-id="([^"]+)"', inbox) == expected
    # the unit head approves: still waiting for Brand-PR
    resp = await head.post(f"/console/submissions/{sid}/decide", {"decision": "approve"})
    assert resp.status == 303, await resp.text()
    _, inbox = await head.get("/console/inbox")
    assert sid not in inbox
    assert await state_of(editor, sid) == "awaiting_approval"
    # Brand-PR must give a reason to reject; then the editor sees it
    resp = await pr.post(f"/console/submissions/{sid}/decide", {"decision": "reject"})
    assert resp.status == 422
    assert await state_of(editor, sid) == "awaiting_approval"
    resp = await pr.post(
        f"/console/submissions/{sid}/decide",
        {"decision": "reject", "reason": "请删去董事长姓名后再提交"},
    )
    assert resp.status == 303
    assert await state_of(editor, sid) == "rejected"
    _, mine = await editor.get("/console/submissions")
    assert "请删去董事长姓名后再提交" in mine
    _, page = await editor.get(f"/console/submissions/{sid}")
    assert 'data-testid="rejection-reason"' in page


async def test_complete_approvals_hand_the_post_to_the_gate(org: Org, open_desk: OpenDesk) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    sid = await submitted(editor, content=f"<p>{PLAIN}</p>")
    head = await open_desk(org.client, org["unit_head"].key)
    resp = await head.post(
        f"/console/submissions/{sid}/decide", {"decision": "approve", "reason": "同意"}
    )
    assert resp.status == 303, await resp.text()
    sub = await org.client.app[DESK].store.get(sid)
    assert sub is not None and sub.jobs and sub.jobs[0].id, sub
    assert await state_of(editor, sid) in ("publishing", "approved")
    # the auditor's search by submission shows its whole story, the gate's records included
    auditor = await open_desk(org.client, org["auditor"].key)
    _, html = await auditor.get(f"/console/audit?post={sid}")
    actions = re.findall(r"<td><code>([a-z_.]+)</code></td>", html)
    assert {"submission.create", "approval.approve", "post.publish"} <= set(actions), actions
    _, other = await auditor.get("/console/audit?post=sub_0000")
    assert 'data-testid="audit-row"' not in other


async def test_blocked_content_is_not_submitted_and_says_why(org: Org, open_desk: OpenDesk) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    resp = await compose(editor, content=f"<p>{SECRET}</p>")
    assert resp.status == 422
    html = await resp.text()
    assert 'data-testid="compose-blocked"' in html
    assert SECRET in html  # the form keeps what was typed
    assert not await org.client.app[DESK].store.newest(limit=5)


@pytest.mark.parametrize(
    "form",
    [
        {"content": ""},
        {"content": "<p>正文</p>", "accounts": ()},
        {"content": "<p>正文</p>", "accounts": (WEST,)},
        {"content": "<p>正文</p>", "category": "gossip"},
        {"content": "<p>正文</p>", "publish_at": "明天"},
    ],
)
async def test_bad_compose_forms_come_back_with_the_reason(
    org: Org, open_desk: OpenDesk, form: dict[str, Any]
) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    resp = await compose(editor, **form)
    assert 400 <= resp.status < 500, resp.status
    assert 'data-testid="compose-error"' in await resp.text()
    assert not await org.client.app[DESK].store.newest(limit=5)


async def test_submitting_without_csrf_or_cross_site_is_refused(
    org: Org, open_desk: OpenDesk
) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    resp = await compose(editor, content=f"<p>{PLAIN}</p>", csrf="")
    assert resp.status == 403
    editor.origin = "https://evil.example"
    resp = await compose(editor, content=f"<p>{PLAIN}</p>")
    assert resp.status == 403
    assert not await org.client.app[DESK].store.newest(limit=5)


async def test_a_decision_without_csrf_or_cross_site_is_refused(
    org: Org, open_desk: OpenDesk
) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    sid = await submitted(editor, content=f"<p>{PLAIN}</p>")
    head = await open_desk(org.client, org["unit_head"].key)
    resp = await head.post(
        f"/console/submissions/{sid}/decide", {"decision": "approve"}, csrf=False
    )
    assert resp.status == 403
    resp = await head.post(
        f"/console/submissions/{sid}/decide",
        {"decision": "approve"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert resp.status == 403
    assert await state_of(editor, sid) == "awaiting_approval"


async def test_who_may_see_and_decide(org: Org, open_desk: OpenDesk) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    sid = await submitted(editor, content=f"<p>{PLAIN}</p>")
    # the editor cannot decide (role) and sees no decision form
    _, page = await editor.get(f"/console/submissions/{sid}")
    assert 'data-testid="approve"' not in page
    resp = await editor.post(f"/console/submissions/{sid}/decide", {"decision": "approve"})
    assert resp.status == 403
    # another unit's editor does not see it at all
    other = await open_desk(org.client, org["editor_west"].key)
    status, _ = await other.get(f"/console/submissions/{sid}")
    assert status == 404
    # the approver in scope gets the form
    head = await open_desk(org.client, org["unit_head"].key)
    _, page = await head.get(f"/console/submissions/{sid}")
    assert 'data-testid="approve"' in page and 'data-testid="reason"' in page


async def test_the_submitter_withdraws(org: Org, open_desk: OpenDesk) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    sid = await submitted(editor, content=f"<p>{PLAIN}</p>")
    resp = await editor.post(f"/console/submissions/{sid}/withdraw", {})
    assert resp.status == 303
    assert await state_of(editor, sid) == "withdrawn"
    head = await open_desk(org.client, org["unit_head"].key)
    _, inbox = await head.get("/console/inbox")
    assert sid not in inbox


# WeChat titles hold 32 characters, so the title payloads come one at a time.
XSS_TITLES = [
    "<script>alert(1)</script>标题",
    "<img src=x onerror=alert(1)>",
    '"><a href="javascript:x">',
]


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))


def assert_inert(html: str) -> None:
    """Parsed as a browser would: the only scripts are the console's own files, no element has
    an event handler, and no URL attribute carries a ``javascript:`` URL."""
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.elements:
        if tag == "script":
            assert attrs.get("src", "").startswith("/console/static/"), attrs
        assert tag not in ("iframe", "svg", "object", "embed"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in ("href", "src", "action", "formaction"):
                assert not value.strip().lower().startswith("javascript:"), (tag, name, value)


XSS_BODY = (
    "<p>正文<script>alert(1)</script></p>"
    '<img src="x" onerror="alert(2)">'
    '<a href="javascript:alert(3)">链接</a>'
    '<a href="JAVASCRIPT:alert(4)">链接</a>'
    "<svg onload=alert(5)></svg>"
    '<iframe src="javascript:alert(6)"></iframe>'
)


@pytest.mark.parametrize("title", XSS_TITLES)
async def test_hostile_title_and_body_render_inert(
    org: Org, open_desk: OpenDesk, title: str
) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    sid = await submitted(editor, title=title, content=XSS_BODY)
    head = await open_desk(org.client, org["unit_head"].key)
    for desk, path in ((editor, f"/console/submissions/{sid}"), (head, "/console/inbox"),
                       (editor, "/console/submissions")):  # fmt: skip
        status, html = await desk.get(path)
        assert status == 200, path
        assert_inert(html)
    _, html = await editor.get(f"/console/submissions/{sid}")
    assert "&lt;" in html.split("<h1>", 1)[1].split("</h1>", 1)[0]  # the title shown as text


async def test_live_screening_answers_findings_and_required_approvals(
    org: Org, open_desk: OpenDesk
) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    draft = {
        "post": {"title": "动态", "content": f"<p>{EXECUTIVE}</p>", "category": "news"},
        "accounts": [EAST],
    }
    url = editor.client.make_url("/console/api/screen")
    headers = {"Origin": editor.origin, "X-CSRF-Token": editor.csrf}
    async with editor.session.post(url, json=draft, headers=headers) as r:
        assert r.status == 200, await r.text()
        data = await r.json()
    assert data["decision"] == "review"
    assert any("王建国" in f["text"] for f in data["findings"])
    roles = {r["role"] for r in data["accounts"][0]["required_approvals"]}
    assert roles == {"unit_head", "brand_pr"}
    assert data["warnings"]  # no source given
    async with editor.session.post(url, json=draft, headers={"Origin": editor.origin}) as r:
        assert r.status == 403  # no CSRF header
    async with editor.session.post(url, json={**draft, "accounts": [WEST]}, headers=headers) as r:
        assert r.status == 404
        assert r.content_type == "application/problem+json"


async def edit(desk: Desk, submission_id: str, content: str, csrf: str | None = None) -> Any:
    form = aiohttp.FormData()
    form.add_field("csrf", desk.csrf if csrf is None else csrf)
    fields = {
        "title": "华东分公司动态",
        "digest": "本周要闻",
        "author": "华东分公司宣传组",
        "source": "华东分公司综合办公室",
        "category": "news",
        "content": content,
    }
    for name, value in fields.items():
        form.add_field(name, value)
    resp = await desk.session.post(
        desk.client.make_url(f"/console/submissions/{submission_id}/edit"),
        data=form,
        headers={"Origin": desk.origin},
        allow_redirects=False,
    )
    await resp.read()
    return resp


async def test_an_edit_after_one_approval_needs_every_approval_again(
    org: Org, open_desk: OpenDesk
) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    first = await submitted(editor, content=f"<p>{EXECUTIVE}</p>")
    head = await open_desk(org.client, org["unit_head"].key)
    resp = await head.post(f"/console/submissions/{first}/decide", {"decision": "approve"})
    assert resp.status == 303
    status, form = await editor.get(f"/console/submissions/{first}/edit")
    assert status == 200 and "王建国" in form and "此前的审批全部作废" in form
    resp = await edit(editor, first, f"<p>{EXECUTIVE}</p><p>补充一句。</p>")
    assert resp.status == 303, await resp.text()
    second = resp.headers["Location"].rsplit("/", 1)[1]
    assert second != first
    assert await state_of(editor, first) == "superseded"
    assert await state_of(editor, second) == "awaiting_approval"
    # the unit head's approval stayed with the old version: both approvers are asked again
    for desk in (head, await open_desk(org.client, org["brand_pr"].key)):
        _, inbox = await desk.get("/console/inbox")
        assert re.findall(r'data-testid="inbox-item" data-id="([^"]+)"', inbox) == [second]
    sub = await org.client.app[DESK].store.get(second)
    assert sub is not None and sub.post["cover"]  # the cover was kept
    assert not any(r.satisfied_by for r in sub.required)


async def test_only_the_submitter_edits_and_only_while_open(org: Org, open_desk: OpenDesk) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    sid = await submitted(editor, content=f"<p>{PLAIN}</p>")
    head = await open_desk(org.client, org["unit_head"].key)
    status, _ = await head.get(f"/console/submissions/{sid}/edit")
    assert status == 403
    resp = await edit(editor, sid, "<p>无令牌</p>", csrf="")
    assert resp.status == 403
    resp = await editor.post(f"/console/submissions/{sid}/withdraw", {})
    assert resp.status == 303
    status, _ = await editor.get(f"/console/submissions/{sid}/edit")
    assert status == 409


async def test_every_attached_image_is_shown_to_the_approver(org: Org, open_desk: OpenDesk) -> None:
    editor = await open_desk(org.client, org["editor"].key)
    form = aiohttp.FormData()
    form.add_field("csrf", editor.csrf)
    form.add_field("accounts", EAST)
    for name, value in {
        "title": "图片稿",
        "source": "华东分公司",
        "category": "news",
        "content": '<p>正文</p><img src="image:1">',
    }.items():
        form.add_field(name, value)
    form.add_field("cover", COVER_BYTES, filename="cover.png", content_type="image/png")
    for i in range(2):
        form.add_field(
            "images", COVER_BYTES + bytes([i]), filename=f"{i}.png", content_type="image/png"
        )
    resp = await editor.session.post(
        editor.client.make_url("/console/compose"),
        data=form,
        headers={"Origin": editor.origin},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    head = await open_desk(org.client, org["unit_head"].key)
    _, html = await head.get(resp.headers["Location"])
    gallery = html.split('data-testid="images"', 1)[1].split("</div>", 1)[0]
    assert gallery.count('src="data:image/png;base64,') == 2
    body = html.split('data-testid="post-body"', 1)[1].split("</div>", 1)[0]
    assert body.count('src="data:image/png;base64,') == 1  # image:1 placed in the body
