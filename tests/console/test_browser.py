"""The console in a real headless Chromium, against the real gateway and the WeChat emulator.

An editor composes (live screening shows the findings), the unit head and Brand-PR open their
inboxes, see the findings marked in the rendered article, approve, and the submission becomes
``published`` through the gate, the delivery worker and the emulator. Hostile titles and bodies
render inert in the browser. With ``MEDIAGATE_SCREENSHOTS=docs/console`` every page is saved.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis

from gateway.app import Runtime, create_app
from gateway.appkeys import WORKER
from gateway.settings import Settings
from tests.console.browser import Browser, chromium, png  # noqa: F401 - fixture
from tests.console.conftest import Caller
from tests.delivery.conftest import SAFE_LINK, wechat_app, wechat_fields
from tests.gateway.conftest import file_active_account

# A browser on a shared 2-core machine can be slow: generous bounds, still bounded.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

EAST = "east-wechat"
WEIBO = "east-weibo"
EXECUTIVE = "董事长王建国出席了华东分公司的年度表彰大会，并为优秀员工颁奖。"


@dataclasses.dataclass
class Stage:
    browser: Browser
    api: str
    callers: dict[str, Caller]
    emulator: str
    session: aiohttp.ClientSession

    async def call(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(
            method, self.api + path, headers=self.callers[who].headers, json=body
        ) as r:
            return r.status, await r.json(content_type=None)


@pytest.fixture
async def stage(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Runtime,
    settings: Settings,
    callers: dict[str, Caller],
    chromium: Any,  # noqa: F811 - the module's browser
) -> Any:
    emulator = await aiohttp_server(wechat_app(publish_delay_s=0.2))
    emulator_url = str(emulator.make_url("")).rstrip("/")
    gateway_settings = dataclasses.replace(
        settings,
        delivery=dataclasses.replace(
            settings.delivery, workers=1, poll_interval_s=0.1, lease_s=5.0
        ),
        connectors=dataclasses.replace(
            settings.connectors,
            allow=("wechat", "weibo"),
            sections={
                "weibo": {"base_url": "http://127.0.0.1:9"},  # never published to here
                "wechat": {
                    "base_url": emulator_url,
                    "timeout_s": 3.0,
                    "poll_interval_s": 0.2,
                    "max_poll_interval_s": 0.5,
                    "submit_settle_s": 1.0,
                },
            },
        ),
    )
    app = create_app(gateway_settings, runtime)
    server = await aiohttp_server(app)
    app[WORKER].max_retry_after_s = 0.2
    base = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        client_like = _Client(session, base)
        await file_active_account(client_like, callers, EAST, "sub_east", platform="wechat")  # type: ignore[arg-type]
        await file_active_account(
            client_like,  # type: ignore[arg-type]
            callers,
            WEIBO,
            "sub_east",
            platform="weibo",
            settings={"link": SAFE_LINK, "rip": "211.156.0.1", "safe_domains": ["example.com"]},
        )
        stage = Stage(Browser(chromium, base), base, callers, emulator_url, session)
        status, data = await stage.call(
            "PUT", f"/admin/vault/{EAST}", "admin", {"fields": wechat_fields("wx_east_app")}
        )
        assert status == 200, data
        yield stage


class _Client:
    """Enough of aiohttp's TestClient for :func:`file_active_account` on a plain server."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    def post(self, path: str, **kw: Any) -> Any:
        return self.session.post(self.base + path, **kw)


async def _state(browser: Browser) -> str:
    return (await browser.text("submission-state")).strip()


async def _wait_state(browser: Browser, path: str, wanted: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        await browser.open(path)
        state = await _state(browser)
        if state == wanted:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} still {state!r} after {timeout_s} s, not {wanted!r}")
        await asyncio.sleep(0.5)


async def test_approver_sees_findings_in_place_approves_and_it_is_published(
    stage: Stage, tmp_path: Path
) -> None:
    b, keys = stage.browser, {n: c.key for n, c in stage.callers.items()}
    cover = tmp_path / "cover.png"
    cover.write_bytes(png())

    # the login page, then the editor composes with live screening
    await b.call(b.driver.delete_all_cookies)
    await b.open("/console/login")
    await b.screenshot("login")
    await b.login(keys["editor"])
    await b.open("/console/compose")
    await b.type("compose-title", "华东分公司年度表彰大会")
    await b.type("compose-digest", "表彰优秀员工，共话新年目标")
    await b.type("compose-author", "华东分公司宣传组")
    await b.type("compose-source", "华东分公司综合办公室")
    await b.type(
        "compose-content",
        f"<p>{EXECUTIVE}</p><p>大会总结了一年来的工作，表彰了先进集体和个人。</p>",
    )
    cover_input = await b.find("compose-cover")
    await b.call(cover_input.send_keys, str(cover))
    await b.wait_for('[data-testid="screen-finding"]')
    assert any("王建国" in t for t in await b.texts('[data-testid="screen-finding"]'))
    required = await b.texts('[data-testid="screen-required"]')
    assert any("品牌公关部" in r for r in required), required
    await b.screenshot("compose")
    await b.follow("submit")
    await b.wait_for('[data-testid="submission-state"]')
    submission_path = await b.path()
    assert submission_path.startswith("/console/submissions/sub_")
    assert await _state(b) == "awaiting_approval"
    await b.open("/console/submissions")
    await b.wait_for('[data-testid="submission-item"]')
    await b.screenshot("my-submissions")
    await b.logout()

    # the unit head: inbox → the post with the finding marked in place → approve
    await b.login(keys["unit_head"])
    await b.open("/console/inbox")
    items = await b.find_all('[data-testid="inbox-item"]')
    assert len(items) == 1
    await b.screenshot("inbox")
    await b.follow("inbox-open")
    marks = await b.wait_for('[data-testid="post-body"] mark.finding[data-rule]')
    marked = await b.texts('[data-testid="post-body"] mark.finding[data-rule]')
    assert any("王建国" in text for text in marked), marked
    rule = await b.call(marks[0].get_attribute, "data-rule")
    assert rule
    await b.screenshot("submission-review")
    await b.type("reason", "内容属实，同意。")
    await b.follow("approve")
    await b.wait_for('[data-testid="submission-state"]')
    assert await _state(b) == "awaiting_approval"  # Brand-PR is still needed
    await b.logout()

    # Brand-PR approves last: the desk hands the post to the gate, the worker publishes
    await b.login(keys["brand_pr"])
    await b.open("/console/inbox")
    await b.follow("inbox-open")
    await b.wait_for('[data-testid="post-body"] mark.finding')
    await b.follow("approve")
    await b.wait_for('[data-testid="submission-state"]')
    await _wait_state(b, submission_path, "published")
    await b.screenshot("submission-published")
    # Brand-PR freezes the Weibo account from the accounts page (Art. 8)
    await b.open("/console/accounts")
    row = f'[data-testid="account-row"][data-id="{WEIBO}"]'
    await b.fill_css(f"{row} input[name=reason]", "舆情处置，暂停发布")
    await b.follow_css(f'{row} [data-testid="freeze"]')
    assert await b.texts(f'{row} [data-testid="account-frozen"]') == ["已冻结"]
    await b.screenshot("accounts")
    await b.logout()

    # the emulator received exactly the approved article
    async with stage.session.get(stage.emulator + "/_emulator/items") as r:
        items_seen = await r.json()
    assert "王建国" in str(items_seen)

    # the auditor finds the story of this submission in the audit log, chain intact
    sid = submission_path.rsplit("/", 1)[1]
    await b.login(keys["auditor"])
    await b.open(f"/console/audit?post={sid}&verify=1")
    await b.wait_for('[data-testid="chain-ok"]')
    rows = await b.find_all('[data-testid="audit-row"]')
    assert len(rows) >= 3
    await b.screenshot("audit")


HOSTILE_TITLES = [
    "<script>alert(1)</script>标题",
    "<img src=x onerror=alert(2)>",
    '"><svg onload=alert(3)>',
]
HOSTILE_BODY = (
    "<p>正文一段。<script>alert(4);document.title='pwned'</script></p>"
    "<img src=x onerror=\"alert(5);document.body.dataset.pwned='img'\">"
    '<p><a href="javascript:alert(6)" data-testid="hostile-link">点这里</a></p>'
    '<p><a href="JaVaScRiPt:alert(7)">再点这里</a></p>'
    "<svg onload=alert(8)><circle r=1></circle></svg>"
    '<iframe src="javascript:alert(9)"></iframe>'
    '<p onclick="alert(10)" onmouseover="alert(11)">鼠标移过</p>'
    '<details open ontoggle="alert(12)"><summary>展开</summary></details>'
    '<form action="javascript:alert(13)"><button>提交</button></form>'
)


@pytest.mark.parametrize("title", HOSTILE_TITLES)
async def test_hostile_title_and_body_render_inert_in_the_browser(stage: Stage, title: str) -> None:
    post = {
        "title": title,
        "digest": "摘要",
        "author": "测试",
        "content": HOSTILE_BODY,
        "source": "华东分公司",
        "category": "news",
        "cover": {
            "filename": "c.png",
            "content_type": "image/png",
            "data": __import__("base64").b64encode(png(40, 20)).decode(),
        },
    }
    status, sub = await stage.call(
        "POST", "/v1/submissions", "editor", {"account": EAST, "post": post}
    )
    assert status == 201, sub
    b = stage.browser
    await b.login(stage.callers["unit_head"].key)
    for path in ("/console/inbox", f"/console/submissions/{sub['id']}"):
        await b.open(path)
        await asyncio.sleep(0.3)  # let any handler that survived have its chance
        assert await b.alert_text() is None, f"an alert ran on {path}"
        found = await b.js(
            """
            const own = Array.from(document.scripts).filter(
              (s) => !(s.src || '').includes('/console/static/'));
            const handlers = Array.from(document.querySelectorAll('*')).filter(
              (e) => Array.from(e.attributes).some((a) => a.name.startsWith('on')));
            const jsUrls = Array.from(document.querySelectorAll('[href],[src],[action]')).filter(
              (e) => ['href', 'src', 'action'].some(
                (n) => (e.getAttribute(n) || '').trim().toLowerCase().startsWith('javascript:')));
            return {
              scripts: own.length,
              handlers: handlers.map((e) => e.outerHTML.slice(0, 80)),
              jsUrls: jsUrls.map((e) => e.outerHTML.slice(0, 80)),
              frames: document.querySelectorAll(
                'iframe, svg, object, embed, form[action^="javascript"]').length,
              pwned: document.body.dataset.pwned || null,
              title: document.title,
            };
            """
        )
        assert found["scripts"] == 0, found
        assert found["handlers"] == [], found
        assert found["jsUrls"] == [], found
        assert found["frames"] == 0, found
        assert found["pwned"] is None and "pwned" not in found["title"], found
    # the title shows as text, exactly as typed
    assert title in (await b.texts("main h1"))[0]
    if title == HOSTILE_TITLES[0]:
        await b.screenshot("hostile-post")


async def test_one_post_for_wechat_and_weibo_shows_both_views_with_marks(stage: Stage) -> None:
    post = {
        "title": "华东分公司年度表彰大会",
        "digest": "",
        "author": "华东分公司宣传组",
        "content": f"<p>{EXECUTIVE}</p><p>大会总结了一年来的工作。</p>",
        "source": "华东分公司综合办公室",
        "category": "news",
        "cover": {
            "filename": "c.png",
            "content_type": "image/png",
            "data": __import__("base64").b64encode(png()).decode(),
        },
    }
    status, sub = await stage.call(
        "POST", "/v1/submissions", "editor", {"accounts": [EAST, WEIBO], "post": post}
    )
    assert status == 201, sub
    b = stage.browser
    await b.login(stage.callers["editor"].key)
    await b.open(f"/console/submissions/{sub['id']}")
    await b.wait_for('[data-testid="preview-weibo"] mark.finding[data-rule]')
    weibo = (await b.texts('[data-testid="preview-weibo"] .text'))[0]
    assert weibo.startswith("【华东分公司年度表彰大会】董事长王建国")
    assert "<p>" not in weibo
    wechat = await b.texts('[data-testid="post-body"] mark.finding[data-rule]')
    assert any("王建国" in t for t in wechat)
    await b.screenshot("submission-weibo")
