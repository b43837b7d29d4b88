"""The optional classifier stage inside the gateway: loaded from the local model directory at
start-up; its score asks for Brand-PR review, it never blocks; a missing model leaves the gateway
running without the stage, and /healthz says so."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from gateway.settings import Settings
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


async def test_without_the_model_the_gateway_runs_and_says_so(
    make_client: MakeClient,
    settings: Settings,
    callers: dict[str, Caller],
    runtime: Any,
    tmp_path: Path,
) -> None:
    client = await make_client(
        _with_model(settings, tmp_path / "no-model"), dataclasses.replace(runtime, screener=None)
    )
    resp = await client.get("/healthz")
    health = await resp.json()
    assert resp.status == 200, health
    assert health["parts"]["classifier"]["enabled"] is False
    assert "no classifier model" in health["parts"]["classifier"]["error"]
    resp = await client.post("/v1/screen", headers=callers["editor"].headers, json={"post": POST})
    assert resp.status == 200
    assert not [f for f in (await resp.json())["findings"] if f["detector"] == "classifier"]
