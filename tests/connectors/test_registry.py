"""Entry-point discovery, the allow-list, contract checks, and the conformance kit.

Plugins are registered for real: each test writes a ``*.dist-info`` with an ``entry_points.txt``
on a temporary ``sys.path`` entry, which ``importlib.metadata`` discovers like an installed
distribution. The example plugin in ``examples/echo_connector`` is registered the same way and
must pass the conformance kit.
"""

from __future__ import annotations

import hashlib
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.base import AccountRef, OutboundPost
from connectors.registry import (
    ConnectorLoadError,
    available,
    contract_problems,
    load_classes,
    load_connectors,
)
from connectors.testing import check_connector
from connectors.wechat import WeChatConnector

EXAMPLE_SRC = Path(__file__).resolve().parents[2] / "examples" / "echo_connector" / "src"
POST = OutboundPost(
    title="Hello",
    digest="d",
    author="a",
    content="<p>Body</p>",
    source="",
    category="news",
    content_sha256=hashlib.sha256(b"<p>Body</p>").hexdigest(),
)
ACCOUNT = AccountRef(id="acct-echo", platform="echo", name="Echo")


def register(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dist: str, **eps: str) -> None:
    """Make a distribution ``dist`` with entry points ``name=module:attr`` discoverable."""
    info = tmp_path / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "\n".join(f"{name} = {value}" for name, value in eps.items())
    (info / "entry_points.txt").write_text(f"[mediagate.connectors]\n{lines}\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def module(tmp_path: Path, name: str, source: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.fixture
async def session() -> Any:
    async with aiohttp.ClientSession() as s:
        yield s


def test_builtins_are_entry_points() -> None:
    assert available()["wechat"] == "connectors.wechat:WeChatConnector"
    assert load_classes(["wechat"]) == {"wechat": WeChatConnector}
    assert contract_problems(WeChatConnector) == []


async def test_load_connectors_builds_from_sections(session: aiohttp.ClientSession) -> None:
    built = load_connectors(["wechat"], {"wechat": {"base_url": "http://127.0.0.1:1"}}, session)
    assert isinstance(built["wechat"], WeChatConnector)
    with pytest.raises(ConnectorLoadError, match=r"'wechat'.*from_config failed.*bogus"):
        load_connectors(["wechat"], {"wechat": {"bogus": 1}}, session)


def test_allow_list_imports_only_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module(tmp_path, "mg_boom_plugin", "raise RuntimeError('import-time failure')\n")
    register(tmp_path, monkeypatch, "mg-boom", boom="mg_boom_plugin:Boom")
    assert set(load_classes(["wechat"])) == {"wechat"}
    assert "mg_boom_plugin" not in sys.modules
    with pytest.raises(ConnectorLoadError, match=r"'boom'.*RuntimeError: import-time failure"):
        load_classes(["boom"])


def test_unknown_allowed_name_is_an_error() -> None:
    with pytest.raises(ConnectorLoadError, match=r"'nosuch'.*no such entry point"):
        load_classes(["nosuch"])


def test_duplicate_registration_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(tmp_path, monkeypatch, "mg-dup", wechat="somewhere_else:Other")
    with pytest.raises(ConnectorLoadError, match=r"'wechat'.*registered twice"):
        load_classes(["wechat"])


def test_contract_violations_name_entry_point_and_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module(
        tmp_path,
        "mg_bad_plugin",
        """
        class Bad:
            platform = ""
            asynchronous = "yes"

            def from_config(self, section, session):
                return self

            async def validate(self, post, account):
                return []

            def publish(self, post, ctx):
                return None

        NOT_A_CLASS = 3
        """,
    )
    register(
        tmp_path, monkeypatch, "mg-bad", bad="mg_bad_plugin:Bad", num="mg_bad_plugin:NOT_A_CLASS"
    )
    with pytest.raises(ConnectorLoadError) as info:
        load_classes(["bad"])
    message = str(info.value)
    assert "'bad'" in message and "mg_bad_plugin:Bad" in message
    for words in ("'platform'", "'limits'", "'asynchronous'", "classmethod", "'validate'",
                  "'publish' must be an async", "'status' is missing"):  # fmt: skip
        assert words in message, words
    with pytest.raises(ConnectorLoadError, match=r"'num'.*not a class"):
        load_classes(["num"])


async def test_example_plugin_loads_and_passes_the_kit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aiohttp_server: Any
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    register(tmp_path, monkeypatch, "mediagate-echo", echo="mediagate_echo.connector:EchoConnector")
    from mediagate_echo.server import make_app

    server = await aiohttp_server(make_app(api_key="echo-key-123456"))
    async with aiohttp.ClientSession() as session:
        sections = {"echo": {"base_url": str(server.make_url(""))}}
        built = load_connectors(["echo"], sections, session)
        assert built["echo"].platform == "echo"
        problems = await check_connector(
            type(built["echo"]),
            section=sections["echo"],
            session=session,
            account=ACCOUNT,
            post=POST,
            credentials={"api_key": "echo-key-123456"},
            bad_credentials={"api_key": "wrong-key-98765"},
        )
    assert problems == []


async def test_kit_reports_leaks_lax_validation_and_raw_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aiohttp_server: Any
) -> None:
    """A sloppy plugin: validates nothing, lets aiohttp errors escape, logs its key."""
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    from mediagate_echo.connector import EchoConnector
    from mediagate_echo.server import make_app

    class Sloppy(EchoConnector):
        def validate(self, post: OutboundPost, account: AccountRef) -> list[str]:
            return []

        async def publish(self, post: OutboundPost, ctx: Any) -> Any:
            key = (await ctx.credentials())["api_key"]
            import logging

            logging.getLogger("sloppy").warning("publishing with key %s", key)
            raise aiohttp.ServerDisconnectedError()

    server = await aiohttp_server(make_app(api_key="echo-key-123456"))
    async with aiohttp.ClientSession() as session:
        problems = await check_connector(
            Sloppy,
            section={"base_url": str(server.make_url(""))},
            session=session,
            account=ACCOUNT,
            post=POST,
            credentials={"api_key": "echo-key-123456"},
        )
    text = "\n".join(problems)
    assert "validate accepts a post breaking title_max_chars" in text
    assert "publish raised ServerDisconnectedError, not a DeliveryOutcome" in text
    assert "credential value appears" in text
