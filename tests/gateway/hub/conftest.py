from __future__ import annotations

import pytest

from gateway.settings import Settings
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.desk.desk_support import Desk
from tests.gateway.gate_support import start_org


@pytest.fixture
async def desk(make_client: MakeClient, settings: Settings, callers: dict[str, Caller]) -> Desk:
    """The demo organisation's gateway, spoken to through the desk helpers."""
    return Desk(await start_org(make_client, settings, callers))
