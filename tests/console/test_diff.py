"""The diff between two versions on the submission page (gateway/console/diff.py): computed on
the server, escaped, shown to the unit head who re-approves Brand-PR's adaptation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.console.diff import diff_text, post_diff
from tests.console.conftest import Caller, OpenDesk
from tests.console.test_desk import XSS_TITLES, assert_inert
from tests.gateway.conftest import MakeClient
from tests.gateway.gate_support import HQ, Org, draft, start_org

INS_RE = re.compile(r"<ins>(.*?)</ins>", re.S)
DEL_RE = re.compile(r"<del>(.*?)</del>", re.S)


@pytest.fixture
async def org(make_client: MakeClient, settings: Any, callers: dict[str, Caller]) -> Org:
    return await start_org(make_client, settings, callers)


@pytest.mark.parametrize(
    ("old", "new", "removed", "added"),
    [
        ("华东分公司召开会议", "华东分公司召开年度会议", [], ["年度"]),
        ("集团2025年营收", "集团2026年营收", ["5"], ["6"]),
        ("删去这句。保留这句。", "保留这句。", ["删去这句。"], []),
        ("", "新写的全文", [], ["新写的全文"]),
        ("相同", "相同", [], []),
        # full-width and half-width digits are different characters, not "the same"
        ("增长２３%", "增长23%", ["２３"], ["23"]),
    ],
)
def test_diff_text_table(old: str, new: str, removed: list[str], added: list[str]) -> None:
    segments = diff_text(old, new)
    assert [s.text for s in segments if s.op == "removed"] == removed
    assert [s.text for s in segments if s.op == "added"] == added
    # reading the old or the new text back out of the segments gives each version
    assert "".join(s.text for s in segments if s.op != "added") == old
    assert "".join(s.text for s in segments if s.op != "removed") == new


def test_post_diff_names_only_changed_fields_and_reads_the_body_as_text() -> None:
    old = draft("<p>第一段。</p>")
    new = draft("<p>第一段。</p><p>第二段。</p>", title="新标题")
    fields = {f.field: f for f in post_diff(old, new)}
    assert set(fields) == {"title", "content"}
    added = "".join(s.text for s in fields["content"].segments if s.op == "added")
    assert "第二段" in added and "<p>" not in added


async def test_the_unit_head_sees_brand_prs_changes_escaped(org: Org, open_desk: OpenDesk) -> None:
    resp = await org.client.post(
        "/v1/submissions",
        headers=org["editor"].headers,
        json={"account": HQ, "post": draft("华东分公司举办技能比武。")},
    )
    assert resp.status == 201, await resp.text()
    first = (await resp.json())["id"]
    hostile = XSS_TITLES[0]
    resp = await org.client.put(
        f"/v1/submissions/{first}",
        headers=org["brand_pr"].headers,
        json={"post": draft("华东分公司举办职工技能比武。", title=hostile)},
    )
    assert resp.status == 201, await resp.text()
    second = (await resp.json())["id"]

    head = await open_desk(org.client, org["unit_head"].key)
    _, inbox = await head.get("/console/inbox")
    assert re.findall(r'data-testid="inbox-item" data-id="([^"]+)"', inbox) == [second]
    status, html = await head.get(f"/console/submissions/{second}")
    assert status == 200
    assert_inert(html)
    diff = html.split('data-testid="diff"', 1)[1].split("</section>", 1)[0]
    assert "品牌公关部" in diff and "与第 1 版相比" in diff
    assert "职工" in INS_RE.findall(diff)
    assert any("&lt;" in added for added in INS_RE.findall(diff))  # the title, as text
    assert DEL_RE.findall(diff)  # the old title
    # the first version has nothing to compare with
    _, html = await head.get(f"/console/submissions/{first}")
    assert 'data-testid="diff"' not in html
