"""Schemathesis with every check against the served ``/openapi.json`` (issue #11 item 10).

A real gateway on a loopback port (the real store, real keys for every role, one filed active
account) is exercised by the ``schemathesis`` command line with ``--checks all`` and a bounded
number of examples per operation; any failure fails this test with schemathesis' own report.
Each operation is called with the key of a role it admits, so the checks see real answers, not
a wall of 403. The number of examples is ``MEDIAGATE_SCHEMATHESIS_EXAMPLES`` (default 12);
``MEDIAGATE_SCHEMATHESIS_ARGS`` adds command-line options (``--include-operation-id createPost``
to look at one operation), ``MEDIAGATE_SCHEMATHESIS_REPORT`` keeps the report at a path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shlex
import sys
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from aiohttp import web

from connectors.emulators.weibo import make_app as weibo_emulator
from gateway.app import create_app
from gateway.routes import ROUTES
from gateway.server import GatewayRunner
from gateway.settings import Settings
from tests.gateway.conftest import Caller, file_active_account

RUN_TIMEOUT_S = 600
pytestmark = [pytest.mark.slow, pytest.mark.timeout(RUN_TIMEOUT_S + 60)]

EXAMPLES = int(os.environ.get("MEDIAGATE_SCHEMATHESIS_EXAMPLES", "12"))
ROLE_PREFERENCE = ("admin", "brand_pr", "unit_head", "leader", "editor", "auditor")
ACCOUNT = "east-weibo"
# Operations whose valid-looking input can still be refused with 422 by a rule no schema can
# state, and why. Everything else must accept what its schema admits.
# The account belongs to sub_east: its editor publishes and edits (Brand-PR would get 403).
CALLER_FOR = {"createPost": "editor", "editPost": "editor"}
BEYOND_THE_SCHEMA = {
    # screening.lexicon: a term that normalises (width, case, variants) to one character
    "addLexiconTerms": "a term that normalises to a single character",
    # the platform's own format rules (Art. 16) depend on the account's platform and settings
    "createPost": "the account's platform format limits (Weibo's 2,000 characters ...)",
    "editPost": "the account's platform format limits",
    # content that screening blocks is refused whatever its shape (Art. 18, 21)
    "createApproval": "blocked content cannot be approved",
    # the desk: exactly one of account and accounts (a rule gateway.schema.Obj cannot declare);
    # the desk screens what it is sent and refuses blocked content, and a time must lie ahead
    "createSubmission": "account and accounts together; blocked content; publish_at not ahead",
    "previewSubmission": "account and accounts together",
    # a new version is screened as a submission is (Art. 15's source rule, blocked content)
    "reviseSubmission": "a post without its source (Art. 15); blocked content",
    # a token is checked against the submission (signature, content hash, self-approval)
    "attachApproval": "a token that does not approve this submission",
    # the hub: material needs some text, an image or a file; units come from the policy;
    # a campaign's due time lies ahead and its accounts are reachable by its units
    "sendMaterial": "no text (white space alone counts as none), image or file",
    "listMaterials": "a unit that must exist in the policy",
    "createCampaign": "due_at not ahead; accounts no participating unit reaches",
    # interactions: the kinds, target fields and text limits depend on the account's platform;
    # target.post and target.platform_id together; blocked text (docs/interactions.md)
    "createInteraction": "the platform's kinds, targets and limits; post and platform_id",
    "assessInteraction": "the platform's kinds, targets and limits; post and platform_id",
    "approveInteraction": "blocked text cannot be approved",
}


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _config(callers: dict[str, Caller]) -> str:
    """Per operation: the key of the most capable role the route admits (or the caller who
    would really do it, where the most capable one acts for another unit)."""
    lines = []
    for route in ROUTES:
        if route.roles is None or not route.in_document:
            continue
        role = CALLER_FOR.get(route.operation_id) or next(
            r for r in ROLE_PREFERENCE if r in route.roles
        )
        lines += [
            "[[operations]]",
            f"include-operation-id = {_toml_str(route.operation_id)}",
            f"headers = {{ Authorization = {_toml_str('Bearer ' + callers[role].key)} }}",
        ]
        if route.operation_id in BEYOND_THE_SCHEMA:
            lines.append(
                "checks.positive_data_acceptance.expected-statuses = "
                '["2xx", "3xx", "401", "403", "404", "409", "422", "429"]'
            )
        lines.append("")
    return "\n".join(lines)


def _open_report(path: Path) -> BinaryIO:
    return path.open("wb")


async def test_schemathesis_all_checks_pass_against_the_served_document(
    aiohttp_client: Any,
    aiohttp_server: Any,
    settings: Settings,
    runtime: Any,
    callers: dict[str, Caller],
    tmp_path: Path,
) -> None:
    settings = dataclasses.replace(
        settings,
        # Thousands of requests from one address and a few keys: not what the limits are for.
        rate_limits=dataclasses.replace(settings.rate_limits, enabled=False),
        # Publishes answer 202 at once instead of waiting for a platform that is not there.
        delivery=dataclasses.replace(settings.delivery, workers=0),
    )
    # The filed account is a Weibo one: its platform (the emulator) answers, or /healthz is
    # rightly 503 (a connector an active account uses is out of reach).
    weibo = await aiohttp_server(weibo_emulator())
    sections = dict(settings.connectors.sections)
    sections["weibo"] = {**sections["weibo"], "base_url": str(weibo.make_url("")).rstrip("/")}
    settings = dataclasses.replace(
        settings, connectors=dataclasses.replace(settings.connectors, sections=sections)
    )
    # The account is filed through a first app; the store is what the served one reads.
    await file_active_account(
        await aiohttp_client(create_app(settings, runtime)),
        callers,
        ACCOUNT,
        settings={"link": "https://www.example.com/news", "rip": "203.0.113.7"},
    )
    # The server `run.py serve` runs (its own answer to requests aiohttp cannot parse included).
    runner = GatewayRunner(create_app(settings, runtime))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        await _run_schemathesis(f"http://{host}:{port}/openapi.json", callers, tmp_path)
    finally:
        await runner.cleanup()


async def _run_schemathesis(url: str, callers: dict[str, Caller], tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(callers))
    report_path = Path(os.environ.get("MEDIAGATE_SCHEMATHESIS_REPORT") or tmp_path / "report.txt")
    out = _open_report(report_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        url,
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "11",
        "--workers",
        "1",
        *shlex.split(os.environ.get("MEDIAGATE_SCHEMATHESIS_ARGS", "")),
        stdout=out,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        await asyncio.wait_for(proc.wait(), RUN_TIMEOUT_S)
    finally:
        out.close()
    report = await asyncio.to_thread(report_path.read_text, errors="replace")
    assert proc.returncode == 0, report[-20_000:]
    assert "passed" in report.lower(), report[-5_000:]
