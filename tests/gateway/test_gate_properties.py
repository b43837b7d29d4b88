"""Property: no mutation of an approved post, and no mutation of its tokens, is ever accepted.

A post to a subsidiary account that reports revenue and names the chairman needs four approvals
(unit head, leader, Brand-PR; the executive rule folds into Brand-PR). Hypothesis mutates one
thing at a time — any character of any text field (replace, insert, delete), the category, any
byte of the cover, the image list — or any character or byte of one of the tokens, and the gate
(``PublishGate.submit``, called directly) must refuse every one.

Hypothesis drives a synchronous property; it runs in a worker thread and hands each example to
the test's event loop, where the app and the Valkey client live, so shrinking still works.
"""

from __future__ import annotations

import asyncio
import hashlib
import unicodedata
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from connectors.base import Image
from gateway.appkeys import GATE, SERVICES
from gateway.errors import GatewayError
from gateway.gate import nfc_post, post_hash
from gateway.jobs import Job
from gateway.postmodel import TEXT_FIELDS, Post, parse_post
from gateway.principals import Principal
from gateway.settings import POST_CATEGORIES, Settings
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.gate_support import EAST, EXECUTIVE, FINANCIAL, Org, draft, start_org

T = TypeVar("T")
_CHARS = st.characters(codec="utf-8")  # any code point but lone surrogates (not valid text)
EXAMPLES = 60
PROPERTY = hsettings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class Bench:
    """An approved post, its tokens, and a way to run gate calls from the hypothesis thread."""

    def __init__(
        self,
        org: Org,
        loop: asyncio.AbstractEventLoop,
        editor: Principal,
        post: Post,
        tokens: list[str],
    ) -> None:
        self.org, self.loop, self.editor, self.post, self.tokens = org, loop, editor, post, tokens
        self.tried = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def submit(self, post: Post, tokens: list[str]) -> GatewayError | Job:
        async def attempt() -> GatewayError | Job:
            try:
                return await self.org.client.app[GATE].submit(
                    self.editor, account_id=EAST, post=post, tokens=tokens
                )
            except GatewayError as exc:
                return exc

        self.tried += 1
        return self.run(attempt())


@pytest.fixture
async def bench(make_client: MakeClient, settings: Settings, callers: dict[str, Caller]) -> Bench:
    org = await start_org(make_client, settings, callers)
    raw = draft(FINANCIAL + EXECUTIVE)
    tokens = [await org.approve(w, raw, [EAST]) for w in ("unit_head", "leader", "brand_pr")]
    editor = await org.client.app[SERVICES].principals.get(org["editor"].id)
    assert editor is not None
    post = parse_post(raw, org.settings.limits)
    return Bench(org, asyncio.get_running_loop(), editor, post, tokens)


def _mutate_text(text: str, data: st.DataObject) -> str:
    op = data.draw(st.sampled_from(["replace", "insert", "delete"]), label="op")
    if op == "delete":
        assume(text)
        i = data.draw(st.integers(0, len(text) - 1), label="at")
        return text[:i] + text[i + 1 :]
    i = data.draw(st.integers(0, len(text) - (op == "replace")), label="at")
    char = data.draw(_CHARS, label="char")
    if op == "insert":
        return text[:i] + char + text[i:]
    assume(char != text[i])
    return text[:i] + char + text[i + 1 :]


def _image(data_bytes: bytes, template: Image) -> Image:
    return replace(template, data=data_bytes, sha256=hashlib.sha256(data_bytes).hexdigest())


def _mutate_post(post: Post, data: st.DataObject) -> Post:
    what = data.draw(
        st.sampled_from([*TEXT_FIELDS, "category", "cover_byte", "cover_dropped", "image_added"]),
        label="what",
    )
    if what in TEXT_FIELDS:
        changed: dict[str, Any] = {what: _mutate_text(getattr(post, what), data)}
        return replace(post, **changed)
    if what == "category":
        other = data.draw(st.sampled_from([c for c in POST_CATEGORIES if c != post.category]))
        return replace(post, category=other)
    assert post.cover is not None
    if what == "cover_byte":
        raw = bytearray(post.cover.data)
        i = data.draw(st.integers(0, len(raw) - 1), label="byte")
        raw[i] ^= data.draw(st.integers(1, 255), label="xor")
        return replace(post, cover=_image(bytes(raw), post.cover))
    if what == "cover_dropped":
        return replace(post, cover=None)
    extra = data.draw(st.binary(min_size=1, max_size=64), label="image")
    return replace(post, images=(*post.images, _image(extra, post.cover)))


async def _accept_original(bench: Bench) -> None:
    """The unmutated post with the unmutated tokens still passes: the refusals were earned."""
    job = await bench.org.client.app[GATE].submit(
        bench.editor, account_id=EAST, post=bench.post, tokens=bench.tokens
    )
    assert job.state == "approved"
    assert job.content_sha256 == post_hash(bench.post)


async def test_no_mutated_post_is_accepted(bench: Bench) -> None:
    @PROPERTY
    @given(data=st.data())
    def prop(data: st.DataObject) -> None:
        mutated = _mutate_post(bench.post, data)
        if nfc_post(mutated) == nfc_post(bench.post):
            # A canonically equivalent spelling (e.g. a CJK compatibility ideograph for 利):
            # the same content by definition of the hash; the gate publishes the NFC form, so
            # the bytes forwarded are the approved ones.
            assert post_hash(mutated) == post_hash(bench.post)
            return
        assert post_hash(mutated) != post_hash(bench.post)
        outcome = bench.submit(mutated, bench.tokens)
        assert isinstance(outcome, GatewayError), f"accepted a mutated post: {mutated!r}"
        assert outcome.status in (403, 422), outcome.to_problem()
        if outcome.status == 403 and outcome.extra.get("token_errors"):
            codes = {e["code"] for e in outcome.extra["token_errors"]}
            assert codes == {"hash_mismatch"}, codes

    await asyncio.to_thread(prop)
    assert bench.tried > EXAMPLES // 2
    await _accept_original(bench)


async def test_no_mutated_token_is_accepted(bench: Bench) -> None:
    @PROPERTY
    @given(data=st.data())
    def prop(data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(bench.tokens) - 1), label="token")
        token = bench.tokens[index]
        how = data.draw(st.sampled_from(["char", "byte", "insert", "delete"]), label="how")
        i = data.draw(st.integers(0, len(token) - 1), label="at")
        if how == "char":
            char = data.draw(_CHARS, label="char")
            assume(char != token[i])
            bad = token[:i] + char + token[i + 1 :]
        elif how == "byte":
            raw = bytearray(token.encode())
            raw[i] ^= data.draw(st.integers(1, 255), label="xor")
            bad = raw.decode("latin-1")
        elif how == "insert":
            bad = token[:i] + data.draw(_CHARS) + token[i:]
        else:
            bad = token[:i] + token[i + 1 :]
        tokens = [*bench.tokens[:index], bad, *bench.tokens[index + 1 :]]
        outcome = bench.submit(bench.post, tokens)
        assert isinstance(outcome, GatewayError), f"accepted a mutated token: {bad!r}"
        assert outcome.status == 403, outcome.to_problem()
        errors = outcome.extra["token_errors"]
        assert [e["index"] for e in errors] == [index], errors
        assert outcome.extra["missing_roles"], outcome.to_problem()

    await asyncio.to_thread(prop)
    await _accept_original(bench)


async def test_the_gate_stores_the_nfc_form_it_approved(bench: Bench) -> None:
    """A decomposed spelling of an approved text is the same content; what is stored (and later
    forwarded) is the NFC form the approvers' hash stands for."""
    decomposed = unicodedata.normalize("NFD", "Café 日报")
    raw = draft(FINANCIAL + EXECUTIVE, title=decomposed)
    org = bench.org
    tokens = [await org.approve(w, raw, [EAST]) for w in ("unit_head", "leader", "brand_pr")]
    post = parse_post(raw, org.settings.limits)
    job = await org.client.app[GATE].submit(bench.editor, account_id=EAST, post=post, tokens=tokens)
    stored = await org.client.app[GATE].jobs.post(job.id)
    assert stored["title"] == unicodedata.normalize("NFC", decomposed) != decomposed
