"""Each channel against a real receiver on loopback: message shapes, signatures, refusals."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from connectors.emulators import dingtalk_robot, wecom_robot
from gateway.notify.base import NotifyError
from gateway.notify.dingtalk import DingTalkRobot
from gateway.notify.email import SmtpMailer
from gateway.notify.notice import Notice
from gateway.notify.webhook import SignedWebhook
from gateway.notify.wecom import WeComRobot
from tests.gateway.notify.notify_support import (
    DING_SECRET,
    DING_TOKEN,
    WECOM_KEY,
    Hook,
    Mailbox,
    hanging_app,
    smtp_server,
)

NOTICE = Notice(
    event="submitted",
    title="待审核：华东分公司动态",
    text="### 待审核：华东分公司动态\n- 提交人：编辑甲\n",
    data={"submission": "sub_1"},
)


async def _server(aiohttp_server: Any, app: Any) -> TestServer:
    server: TestServer = await aiohttp_server(app)
    return server


async def test_wecom_robot_gets_a_markdown_message(aiohttp_server: Any) -> None:
    server = await _server(aiohttp_server, wecom_robot.make_app(keys=(WECOM_KEY,)))
    async with aiohttp.ClientSession() as session:
        url = str(server.make_url("/cgi-bin/webhook/send"))
        await WeComRobot("w", url, WECOM_KEY, session).send(NOTICE, "https://gw/console/x")
        with pytest.raises(NotifyError) as refused:
            await WeComRobot("w", url, "wrong-key", session).send(NOTICE, "")
        assert "93000" in str(refused.value) and refused.value.retry is False
        # over the Markdown limit: cut to 4096 bytes, still accepted
        long = Notice(event="alert", title="t", text="长" * 3000)
        await WeComRobot("w", url, WECOM_KEY, session).send(long, "")
        async with session.get(server.make_url("/_emulator/messages")) as resp:
            items = (await resp.json())["items"]
    assert [m["msgtype"] for m in items] == ["markdown", "markdown"]
    assert items[0]["content"].startswith("### 待审核：华东分公司动态")
    assert "https://gw/console/x" in items[0]["content"]
    assert len(items[1]["content"].encode()) <= 4096


async def test_wecom_rate_limit_is_retried(aiohttp_server: Any) -> None:
    server = await _server(aiohttp_server, wecom_robot.make_app(keys=(WECOM_KEY,), per_minute=1))
    async with aiohttp.ClientSession() as session:
        robot = WeComRobot("w", str(server.make_url("/cgi-bin/webhook/send")), WECOM_KEY, session)
        await robot.send(NOTICE, "")
        with pytest.raises(NotifyError) as limited:
            await robot.send(NOTICE, "")
    assert "45009" in str(limited.value) and limited.value.retry is True


async def test_dingtalk_robot_checks_the_signature(aiohttp_server: Any) -> None:
    app = dingtalk_robot.make_app(tokens={DING_TOKEN: DING_SECRET})
    server = await _server(aiohttp_server, app)
    url = str(server.make_url("/robot/send"))
    async with aiohttp.ClientSession() as session:
        await DingTalkRobot("d", url, DING_TOKEN, DING_SECRET, session).send(NOTICE, "")
        with pytest.raises(NotifyError) as bad_sign:
            await DingTalkRobot("d", url, DING_TOKEN, "SECwrong", session).send(NOTICE, "")
        assert "310000" in str(bad_sign.value) and bad_sign.value.retry is False
        with pytest.raises(NotifyError) as bad_token:
            await DingTalkRobot("d", url, "nope", DING_SECRET, session).send(NOTICE, "")
        assert "300001" in str(bad_token.value)
        async with session.get(server.make_url("/_emulator/messages")) as resp:
            items = (await resp.json())["items"]
    assert len(items) == 1
    assert items[0]["msgtype"] == "markdown" and items[0]["title"] == NOTICE.title
    assert items[0]["text"].startswith("### 待审核")


async def test_email_reaches_a_real_smtp_server() -> None:
    mailbox = Mailbox()
    server, port = await smtp_server(mailbox)
    try:
        mailer = SmtpMailer(
            "m",
            host="127.0.0.1",
            port=port,
            sender="gateway@mediagate.test",
            to=("editor@example.test", "pr@example.test"),
            starttls=False,
        )
        await mailer.send(NOTICE, "https://gw/console/submissions/sub_1")
    finally:
        server.close()
        await server.wait_closed()
    (msg,) = mailbox.messages
    assert msg["Subject"] == "[mediagate] 待审核：华东分公司动态"
    assert msg["X-Mediagate-Event"] == "submitted"
    assert mailbox.envelopes[0].rcpt_tos == ["editor@example.test", "pr@example.test"]
    body = msg.get_content()
    assert "提交人：编辑甲" in body and "https://gw/console/submissions/sub_1" in body


async def test_email_to_a_closed_port_is_a_retryable_error() -> None:
    mailer = SmtpMailer(
        "m",
        host="127.0.0.1",
        port=9,
        sender="g@x.test",
        to=("a@x.test",),
        starttls=False,
        timeout_s=1.0,
    )
    with pytest.raises(NotifyError) as failed:
        await mailer.send(NOTICE, "")
    assert failed.value.retry is True


async def test_signed_webhook(aiohttp_server: Any) -> None:
    hook = Hook()
    server = await _server(aiohttp_server, hook.app())
    url = str(server.make_url("/hook"))
    async with aiohttp.ClientSession() as session:
        await SignedWebhook("h", url, hook.secret, session).send(NOTICE, "https://gw/x")
        with pytest.raises(NotifyError) as refused:
            await SignedWebhook("h", url, "other-secret", session).send(NOTICE, "")
        assert refused.value.retry is False
    assert hook.received[0]["event"] == "submitted" and hook.received[0]["link"] == "https://gw/x"
    assert hook.received[0]["data"] == {"submission": "sub_1"}
    assert hook.bad_signatures == 1


async def test_a_hanging_receiver_times_out_as_a_retryable_error(aiohttp_server: Any) -> None:
    server = await _server(aiohttp_server, hanging_app())
    async with aiohttp.ClientSession() as session:
        robot = WeComRobot("w", str(server.make_url("/send")), WECOM_KEY, session, timeout_s=0.3)
        with pytest.raises(NotifyError) as failed:
            await robot.send(NOTICE, "")
    assert failed.value.retry is True
