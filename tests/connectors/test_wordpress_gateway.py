"""WordPress through the gateway against the emulator: the two ways a real site made duplicates.

The same cases run against a real WordPress in ``test_wordpress_real.py`` when Debian's packages
are installed; these run everywhere.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp
import redis.asyncio as aredis

from tests.delivery.conftest import (  # noqa: F401 - fixtures
    Emulators,
    control,
    delivery_settings,
    emulator_servers,
    emulators,
    make_post,
    runtime,
    session,
    start_gateway,
)
from tests.gateway.conftest import screener  # noqa: F401 - fixture


def _marked(items: dict[str, Any], job: dict[str, Any]) -> list[dict[str, Any]]:
    needle = f"<!-- mediagate:job={job['id']} -->"
    return [p for p in items["posts"] if needle in p["content"]["raw"]]


async def test_a_notice_before_the_json_and_a_late_insert_each_leave_one_public_post(
    aiohttp_server: Any,
    redis: aredis.Redis,
    runtime: Any,  # noqa: F811 - the fixture
    emulators: Emulators,  # noqa: F811 - the fixture
    session: aiohttp.ClientSession,  # noqa: F811 - the fixture
) -> None:
    settings = delivery_settings(emulators)
    sections = dict(settings.connectors.sections)
    sections["wordpress"] = {**sections["wordpress"], "timeout_s": 1.0, "duplicate_watch_s": 4.0}
    settings = dataclasses.replace(
        settings, connectors=dataclasses.replace(settings.connectors, sections=sections)
    )
    gw = await start_gateway(aiohttp_server, redis, runtime, emulators, session, settings)

    # 1. a PHP notice before the JSON of the 201: published, not failed; one post
    await control(emulators.wordpress, "/_emulator/php", {"notice": 1})
    job = await gw.api.publish("east-wp", make_post(1))
    job = await gw.api.wait_final(job["id"])
    assert job["state"] == "published", job
    items = await control(emulators.wordpress, "/_emulator/items")
    assert [(str(p["id"]), p["status"]) for p in _marked(items, job)] == [
        (job["platform_id"], "publish")
    ]

    # 2. the create inserts its post 3 s late, after the connector (1 s time-out, 1.5 s grace)
    # created it again: the late one ends in the trash and the history says so
    await control(emulators.wordpress, "/_emulator/php", {"late_insert_s": 3.0})
    job = await gw.api.publish("east-wp", make_post(2))
    job = await gw.api.wait_final(job["id"], timeout_s=60)
    assert job["state"] == "published", job
    items = await control(emulators.wordpress, "/_emulator/items")
    marked = _marked(items, job)
    assert len(marked) == 2
    assert [str(p["id"]) for p in marked if p["status"] == "publish"] == [job["platform_id"]]
    [late] = [p for p in marked if p["status"] == "trash"]
    notes = [h.get("note", "") for h in job["history"]]
    assert any("created again" in n for n in notes)
    assert f"trashed 1 duplicate post(s) carrying this job's marker: {late['id']}" in notes[-1]
