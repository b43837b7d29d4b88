"""What the desk keeps about a submission: typed, frozen records and their JSON shapes.

A submission is one version of one post for one or more accounts. Editing it (``PUT``) makes a
new submission with ``version + 1`` and ``previous`` pointing back; the old one becomes
``superseded`` with ``superseded_by`` set, and the approvals given on it stay with it: they are
bound to its content hash and count for nothing on the new version (docs/desk.md).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, get_args

SubmissionState = Literal[
    "awaiting_approval",
    "rejected",
    "withdrawn",
    "approved",
    "publishing",
    "published",
    "failed",
    "unconfirmed",
    "superseded",
]
SUBMISSION_STATES: tuple[str, ...] = get_args(SubmissionState)
#: States in which a submission waits for people (approvals) or for its time (``publish_at``).
OPEN_STATES = frozenset({"awaiting_approval", "approved"})
#: States the submitter may edit (a new version) or withdraw from.
EDITABLE_STATES = frozenset({"awaiting_approval", "rejected", "approved"})
FINAL_STATES = frozenset(
    {"rejected", "withdrawn", "published", "failed", "unconfirmed", "superseded"}
)


def new_submission_id() -> str:
    return "sub_" + secrets.token_hex(10)


@dataclass(frozen=True)
class RequiredApproval:
    """One approval the submission needs: a role (of a unit), for some of its accounts, and why."""

    role: str
    unit: str = ""
    attest: str = ""
    reasons: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    satisfied_by: str = ""  # the approver's principal id (or issuer:sub) once met

    @property
    def label(self) -> str:
        label = f"{self.role}@{self.unit}" if self.unit else self.role
        return f"{label}+{self.attest}" if self.attest else label

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "role": self.role,
            "unit": self.unit or None,
            "reasons": list(self.reasons),
            "accounts": list(self.accounts),
            "satisfied": bool(self.satisfied_by),
            "satisfied_by": self.satisfied_by or None,
        }
        if self.attest:
            data["attest"] = self.attest
        return data


@dataclass(frozen=True)
class ApprovalEntry:
    """An approval that counts for this version (the token itself is kept apart, never shown)."""

    role: str
    unit: str
    by: str
    name: str
    at: float
    jti: str
    iss: str
    accounts: tuple[str, ...]
    source: Literal["desk", "external"] = "desk"
    attest: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["accounts"] = list(self.accounts)
        data["attest"] = list(self.attest)
        return data


@dataclass(frozen=True)
class DecisionEntry:
    """An approver's decision on the desk; a rejection carries the reason the editor sees."""

    decision: Literal["approve", "reject"]
    by: str
    name: str
    role: str
    unit: str
    at: float
    reason: str = ""
    attest: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["attest"] = list(self.attest)
        return data


@dataclass(frozen=True)
class JobRef:
    """The publish job the gate recorded for one account, with its last known outcome."""

    account: str
    id: str = ""  # "" when the gate refused to record a job (reason says why)
    state: str = "approved"
    url: str = ""
    platform_id: str = ""
    reason: str = ""

    def public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistoryEntry:
    at: float
    state: str
    action: str
    by: str = ""
    note: str = ""

    def public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Submission:
    id: str
    version: int
    state: SubmissionState
    accounts: tuple[str, ...]
    units: tuple[str, ...]  # the owning unit of each account, same order
    submitted_by: str
    submitter_name: str
    submitter_role: str
    submitter_unit: str
    created_at: float
    updated_at: float
    content_sha256: str
    title: str
    post: dict[str, Any]  # the stored post (images base64), see gateway.postmodel
    screen_decision: str
    findings: tuple[dict[str, Any], ...] = ()
    required: tuple[RequiredApproval, ...] = ()
    approvals: tuple[ApprovalEntry, ...] = ()
    decisions: tuple[DecisionEntry, ...] = ()
    jobs: tuple[JobRef, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    publish_at: float | None = None
    campaign: str = ""
    note: str = ""
    previous: str = ""
    superseded_by: str = ""
    outcome_notified: bool = False
    #: Brand-PR's principal id when Brand-PR adapted someone's text (the hub, Art. 17(1)); the
    #: route (``submitted_by``) stays the sending editor's.
    revised_by: str = ""
    revised_by_name: str = ""

    # --- views ------------------------------------------------------------------------------
    @property
    def complete(self) -> bool:
        return all(r.satisfied_by for r in self.required)

    @property
    def outstanding(self) -> tuple[RequiredApproval, ...]:
        return tuple(r for r in self.required if not r.satisfied_by)

    @property
    def rejection(self) -> DecisionEntry | None:
        return next((d for d in reversed(self.decisions) if d.decision == "reject"), None)

    def public(self) -> dict[str, Any]:
        """``SUBMISSION`` of docs/desk.md: everything but the approval tokens."""
        rejected = self.rejection
        return {
            "id": self.id,
            "version": self.version,
            "state": self.state,
            "accounts": list(self.accounts),
            "post": self.post,
            "content_sha256": self.content_sha256,
            "decision": self.screen_decision,
            "findings": list(self.findings),
            "required_approvals": [r.public() for r in self.required],
            "approvals": [a.public() for a in self.approvals],
            "decisions": [d.public() for d in self.decisions],
            "rejection": rejected.public() if rejected and self.state == "rejected" else None,
            "jobs": [j.public() for j in self.jobs],
            "history": [h.public() for h in self.history],
            "submitted_by": self.submitted_by,
            "submitter_name": self.submitter_name,
            "submitted_at": self.created_at,
            "updated_at": self.updated_at,
            "publish_at": self.publish_at,
            "campaign": self.campaign or None,
            "note": self.note,
            "previous": self.previous or None,
            "superseded_by": self.superseded_by or None,
            "revised_by": self.revised_by or None,
            "revised_by_name": self.revised_by_name or None,
        }

    def summary(self) -> dict[str, Any]:
        """One line of ``GET /v1/submissions``: the public shape without the post body."""
        data = self.public()
        post = data.pop("post")
        data["title"] = post.get("title", "")
        data["category"] = post.get("category", "")
        data["findings_count"] = len(self.findings)
        data.pop("findings")
        data.pop("history")
        return data

    # --- persistence ------------------------------------------------------------------------
    def dump(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Submission:
        data = json.loads(raw)
        data["accounts"] = tuple(data["accounts"])
        data["units"] = tuple(data["units"])
        data["findings"] = tuple(data.get("findings", ()))
        data["required"] = tuple(
            RequiredApproval(
                **{**r, "reasons": tuple(r["reasons"]), "accounts": tuple(r["accounts"])}
            )
            for r in data.get("required", ())
        )
        data["approvals"] = tuple(
            ApprovalEntry(**{**a, "accounts": tuple(a["accounts"]), "attest": tuple(a["attest"])})
            for a in data.get("approvals", ())
        )
        data["decisions"] = tuple(
            DecisionEntry(**{**d, "attest": tuple(d["attest"])}) for d in data.get("decisions", ())
        )
        data["jobs"] = tuple(JobRef(**j) for j in data.get("jobs", ()))
        data["history"] = tuple(HistoryEntry(**h) for h in data.get("history", ()))
        return cls(**data)

    def moved(
        self,
        state: SubmissionState,
        at: float,
        action: str,
        by: str = "",
        note: str = "",
        **changes: Any,
    ) -> Submission:
        """A copy in ``state`` with one more history line (and any other ``changes``)."""
        entry = HistoryEntry(at=at, state=state, action=action, by=by, note=note)
        return replace(self, state=state, updated_at=at, history=(*self.history, entry), **changes)


@dataclass(frozen=True)
class InboxItem:
    """One submission waiting for the caller: which of its approvals the caller can give."""

    submission: Submission
    required: RequiredApproval

    def public(self) -> dict[str, Any]:
        s = self.submission
        return {
            "id": s.id,
            "version": s.version,
            "accounts": list(s.accounts),
            "title": s.title,
            "category": s.post.get("category", ""),
            "required": {
                "role": self.required.role,
                "unit": self.required.unit or None,
                "attest": self.required.attest or None,
                "reasons": list(self.required.reasons),
            },
            "submitted_by": s.submitted_by,
            "submitter_name": s.submitter_name,
            "submitted_at": s.created_at,
            "publish_at": s.publish_at,
            "decision": s.screen_decision,
            "findings_count": len(s.findings),
            "state": s.state,
        }


@dataclass(frozen=True)
class Preview:
    """A draft screened for accounts, nothing kept: findings and the approvals it would need."""

    content_sha256: str
    decision: str
    findings: tuple[dict[str, Any], ...]
    required: tuple[RequiredApproval, ...]

    def public(self) -> dict[str, Any]:
        return {
            "content_sha256": self.content_sha256,
            "decision": self.decision,
            "findings": list(self.findings),
            "required_approvals": [r.public() for r in self.required],
        }
