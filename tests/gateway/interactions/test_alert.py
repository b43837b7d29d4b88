"""A blocked comment raises the Art. 8 alert exactly as a blocked post does (``on_blocked``)."""

from __future__ import annotations

from typing import Any

from gateway.app import Runtime
from gateway.settings import Settings
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.gate_support import EAST, SECRET
from tests.gateway.notify.notify_support import eventually
from tests.gateway.notify.test_outbox import Receivers, receivers, start  # noqa: F401


async def test_a_blocked_reply_raises_the_art8_alert(
    make_client: MakeClient,
    settings: Settings,
    runtime: Runtime,
    callers: dict[str, Caller],
    receivers: Receivers,  # noqa: F811 - the fixture
) -> None:
    desk = await start(make_client, settings, runtime, callers, receivers)
    body = {
        "account": EAST,
        "kind": "reply",
        "target": {"msg_data_id": "2650000001", "comment_id": "7"},
        "text": SECRET,
    }
    resp = await desk.client.post("/v1/interactions", headers=desk.h("editor"), json=body)
    assert resp.status == 422, await resp.text()

    async def hooks() -> list[dict[str, Any]] | None:
        return receivers.hook.received if receivers.hook.received else None

    received = await eventually(hooks)
    assert received and received[0]["event"] == "alert"
    assert received[0]["data"]["kind"] == "blocked_attempt"
    assert "state_secret" in received[0]["data"]["categories"]
    assert EAST in str(received[0]["data"])
