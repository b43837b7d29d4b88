""":meth:`ApprovalService.review` reads rejections, the approvers' records and the tokens'
replay marks in one script: the same answer as the separate reads (:meth:`rejections`,
:meth:`check`, :meth:`replayed`), whatever mix of tokens a publish presents."""

from __future__ import annotations

import pytest
import redis.asyncio as aredis

from gateway.appkeys import GATE, SERVICES
from gateway.gate import nfc_post
from gateway.keys import Keys
from gateway.postmodel import parse_post
from gateway.principals import PrincipalStore
from gateway.settings import Settings
from tests.gateway.conftest import Caller, MakeClient
from tests.gateway.gate_support import EAST, EXECUTIVE, WEST, draft, start_org


@pytest.mark.parametrize(
    "case",
    [
        "none",
        "plain",
        "revoked_approver",
        "consumed",
        "rejected_here",
        "rejected_elsewhere",
        "junk",
    ],
)
async def test_one_read_answers_what_the_separate_reads_answer(
    make_client: MakeClient,
    settings: Settings,
    callers: dict[str, Caller],
    redis: aredis.Redis,
    case: str,
) -> None:
    org = await start_org(make_client, settings, callers)
    gate, svc = org.client.app[GATE], org.client.app[SERVICES]
    keys = Keys(settings.store.key_prefix)
    post = draft(EXECUTIVE)
    tokens = [
        await org.approve("unit_head", post, [EAST]),
        await org.approve("brand_pr", post, [EAST]),
        await org.approve("leader", post, [EAST]),
    ]
    digest = await org.content_hash(post)
    if case == "none":
        tokens = []
    elif case == "revoked_approver":
        await PrincipalStore(redis, keys).revoke(callers["brand_pr"].id)
    elif case == "junk":
        tokens = ["not.a.token", tokens[0], "x"]
    elif case in ("rejected_here", "rejected_elsewhere"):
        account = EAST if case == "rejected_here" else WEST
        await org.approve("brand_pr2", post, [account], decision="reject", reason="不妥")
    account = await svc.accounts.require(EAST)
    submitter = await svc.principals.get(callers["editor"].id)
    assert submitter is not None
    assessment = await gate.assess(submitter, account, nfc_post(parse_post(post, settings.limits)))
    if case == "consumed":
        claims = (
            await gate.approvals.check(
                tokens,
                required=assessment.required,
                content_sha256=digest,
                account=account,
                submitter=submitter,
            )
        ).accepted
        await redis.set(keys.jti(EAST, claims[1].jti), "job_earlier")

    review = await gate.approvals.review(
        tokens,
        required=assessment.required,
        content_sha256=digest,
        account=account,
        submitter=submitter,
    )
    check = await gate.approvals.check(
        tokens,
        required=assessment.required,
        content_sha256=digest,
        account=account,
        submitter=submitter,
    )
    assert review.rejections == await gate.approvals.rejections(digest, EAST)
    assert review.check.refs() == check.refs()
    assert [p.public() for p in review.check.problems] == [p.public() for p in check.problems]
    assert [r.label() for r in review.check.missing] == [r.label() for r in check.missing]
    replayed = await gate.approvals.replayed(EAST, review.check.accepted)
    assert review.replayed == replayed
    assert bool(review.rejections) == (case == "rejected_here")
    assert bool(review.replayed) == (case == "consumed")
    assert any(p.code == "approver_unknown" for p in check.problems) == (case == "revoked_approver")
