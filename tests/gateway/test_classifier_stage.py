"""The optional classifier stage inside the gateway: loaded from the local model directory at
start-up; its score asks for Brand-PR review, it never blocks; a configured model that is not
there stops start-up; the shipped model without the [classifier] extra is off, and /healthz says
so."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gateway.app import StartupError, create_app
from gateway.settings import SHIPPED_MODEL_DIR, Settings
from tests.gateway.conftest import Caller, MakeClient

MODEL_DIR = Path(__file__).resolve().parents[2] / "screening" / "models" / "cold-mini"
OFFENSIVE = "这帮人都是垃圾，又懒又蠢，全部滚出去"
POST = {"title": "评论", "content": f"<p>{OFFENSIVE}</p>", "source": "网友", "category": "news"}


def _with_model(settings: Settings, model_dir: Path) -> Settings:
    screening = dataclasses.replace(settings.screening, classifier_model_dir=model_dir)
    return dataclasses.replace(settings, screening=screening)


async def test_the_classifier_asks_for_brand_pr_review(
    make_client: MakeClient, settings: Settings, callers: dict[str, Caller], runtime: Any
) -> None:
    client = await make_client(
        _with_model(settings, MODEL_DIR), dataclasses.replace(runtime, screener=None)
    )
    health = await (await client.get("/healthz")).json()
    stage = health["parts"]["classifier"]
    assert stage["enabled"] is True
    assert (stage["backend"], stage["precision"]) == ("numpy", "float32")
    assert stage["parts"] == ["bert", "ngram_lr"]
    resp = await client.post("/v1/screen", headers=callers["editor"].headers, json={"post": POST})
    assert resp.status == 200
    body = await resp.json()
    found = [f for f in body["findings"] if f["detector"] == "classifier"]
    assert found, body
    assert found[0]["action"] == "review" and found[0]["category"] == "classifier"
    assert found[0]["evidence"]["score"] >= found[0]["evidence"]["threshold"]
    assert POST["content"][found[0]["start"] : found[0]["end"]].strip("<>/p")
    assert "brand_pr" in body["required_roles"]


async def test_a_configured_model_that_is_not_there_stops_start_up(
    redis: Any, settings: Settings, runtime: Any, tmp_path: Path
) -> None:
    """It used to start without the stage and say ok (fail open); now nothing starts."""
    missing = tmp_path / "no-model"
    app = create_app(_with_model(settings, missing), dataclasses.replace(runtime, screener=None))
    runner = web.AppRunner(app)
    try:
        with pytest.raises(StartupError) as info:
            await runner.setup()
    finally:
        await runner.cleanup()
    assert "screening.classifier_model_dir" in str(info.value)
    assert str(missing) in str(info.value)


async def test_the_shipped_model_runs_on_numpy_by_default(
    make_client: MakeClient, settings: Settings, runtime: Any
) -> None:
    # The default install has no torch: the shipped model still screens (issue #15).
    client = await make_client(
        _with_model(settings, SHIPPED_MODEL_DIR), dataclasses.replace(runtime, screener=None)
    )
    resp = await client.get("/healthz")
    health = await resp.json()
    assert resp.status == 200, health
    stage = health["parts"]["classifier"]
    assert stage["ok"] is True and stage["enabled"] is True, stage
    assert stage["backend"] == "numpy"
