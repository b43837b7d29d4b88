"""Seeding bypass alerts the way the reconciler records them: ``AlertStore.raise_once`` on the
real store of the running gateway (the reconciler itself is tested elsewhere)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.appkeys import SERVICES
from gateway.watch.alerts import Alert, AlertKind, AlertStore, dedupe_key, new_alert_id

#: A unified diff of an edit made on the platform: approved text → what the platform shows.
EDIT_DIFF = (
    "--- approved\n"
    "+++ platform\n"
    "@@ -1,2 +1,2 @@\n"
    " 华东分公司举办员工运动会，\n"
    "-大家热情高涨。\n"
    "+大家热情高涨，奖金翻倍！\n"
)


def alert_store(client: TestClient[Any, Any]) -> AlertStore:
    svc = client.app[SERVICES]
    return AlertStore(svc.redis, svc.keys)


async def seed(
    client: TestClient[Any, Any],
    kind: AlertKind,
    account: str,
    *,
    unit: str,
    platform: str = "wechat",
    platform_id: str = "",
    title: str = "未经审批的文章",
    detected_at: float | None = None,
    **more: Any,
) -> Alert:
    """Raise one alert (asserts it was new)."""
    pid = platform_id or new_alert_id()
    alert = Alert(
        id=new_alert_id(),
        kind=kind,
        account=account,
        platform=platform,
        unit=unit,
        platform_id=pid,
        detected_at=detected_at if detected_at is not None else time.time(),
        title=title,
        **more,
    )
    raised = await alert_store(client).raise_once(
        alert, dedupe_key(kind, account, pid, more.get("diff", ""))
    )
    assert raised is not None
    return raised
