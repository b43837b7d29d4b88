"""A job's stored and public forms: the same data dataclasses.asdict gives, built without its
deep copy of every field (the publish path writes and answers one job per request)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest

from gateway.jobs import ApprovalRef, Job

REFS = (
    ApprovalRef("jti-1", "k1", "unit_head", "sub_east", "mediagate", 1_800_000_000, "华东负责人"),
    ApprovalRef("jti-2", "k2", "brand_pr", "brand_pr", "oa.example", 1_800_000_100),
)


def _job(**changes: Any) -> Job:
    base: dict[str, Any] = {
        "id": "job_0123456789abcdef0123",
        "kind": "publish",
        "account": "east-wechat",
        "platform": "wechat",
        "unit": "sub_east",
        "submitted_by": "k0",
        "content_sha256": "ab" * 32,
        "state": "approved",
        "created_at": 1_796_000_000.123456,
        "updated_at": 1_796_000_001.5,
    }
    return Job(**{**base, **changes})


@pytest.mark.parametrize(
    "job",
    [
        _job(),
        _job(approvals=REFS, required_roles=("unit_head@sub_east", "brand_pr"), title="标题\u202e"),
        _job(kind="update", origin="job_x", details={"nested": {"list": [1, {"a": "二"}]}}),
        _job(state="failed", audit_due="failed", reason="\x00 \ud800", attempts=3),
    ],
)
def test_the_job_record_is_what_asdict_gives(job: Job) -> None:
    assert job.as_dict() == asdict(job)
    assert list(job.as_dict()) == list(asdict(job))  # same key order in answers
    assert job.dump() == json.dumps(asdict(job), ensure_ascii=False, sort_keys=True)
    assert Job.from_json(job.dump()) == job
    public = job.public()
    assert "audit_due" not in public
    assert all("exp" not in a for a in public["approvals"])


def test_the_public_form_does_not_share_the_jobs_details() -> None:
    job = _job(details={"nested": {"n": 1}})
    job.public()["details"]["nested"]["n"] = 2
    assert job.details["nested"]["n"] == 1
