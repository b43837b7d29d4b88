"""What the desk tells people, as notices for the outbox (gateway/notify).

Submitted → the approvers still needed; decided → the submitter; published / failed /
unconfirmed → the submitter and Brand-PR; a blocked attempt in a category with ``alert = true``
→ Brand-PR and policy.toml's ``alert_webhook`` (Art. 8). Queueing a notice never raises: a
notice is advice and must not fail or delay the act it reports.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gateway.desk.model import DecisionEntry, Submission
from gateway.notify.notice import Notice, NoticeSink, Recipient
from gateway.principals import Principal
from gateway.settings import Policy
from screening.findings import Finding

log = logging.getLogger(__name__)

OUTCOME_WORDS = {"published": "已发布", "failed": "发布失败", "unconfirmed": "发布结果待确认"}


def _link(sub: Submission) -> str:
    return f"/console/submissions/{sub.id}"


class DeskNotices:
    def __init__(self, sink: NoticeSink | None) -> None:
        self._sink = sink

    async def _send(self, notice: Notice) -> None:
        if self._sink is None:
            return
        try:
            await self._sink.enqueue(notice)
        except Exception:
            log.exception("notice %s could not be queued", notice.event)

    async def submitted(self, sub: Submission) -> None:
        needs = "、".join(r.label for r in sub.outstanding)
        await self._send(
            Notice(
                event="submitted",
                title=f"待审核：{sub.title}",
                text=(
                    f"### 待审核：{sub.title}\n"
                    f"- 提交人：{sub.submitter_name}（{sub.submitter_unit}）\n"
                    f"- 账号：{'、'.join(sub.accounts)}\n"
                    f"- 需要审核：{needs}\n"
                    f"- 筛查发现：{len(sub.findings)} 处\n"
                ),
                recipients=tuple(Recipient(role=r.role, unit=r.unit) for r in sub.outstanding),
                link=_link(sub),
                data={"submission": sub.id, "version": sub.version, "accounts": list(sub.accounts)},
            )
        )

    async def decided(self, sub: Submission, entry: DecisionEntry) -> None:
        verb = "已通过" if entry.decision == "approve" else "被退回"
        reason = f"\n- 理由：{entry.reason}" if entry.reason else ""
        await self._send(
            Notice(
                event="decided",
                title=f"{verb}：{sub.title}",
                text=(
                    f"### {verb}：{sub.title}\n- 审核人：{entry.name}（{entry.role}）"
                    f"{reason}\n- 状态：{sub.state}\n"
                ),
                recipients=(_submitter(sub),),
                link=_link(sub),
                data={
                    "submission": sub.id,
                    "decision": entry.decision,
                    "reason": entry.reason,
                    "state": sub.state,
                },
            )
        )

    async def outcome(self, sub: Submission) -> None:
        word = OUTCOME_WORDS.get(sub.state, sub.state)
        lines = "\n".join(
            f"- {j.account}：{j.state}"
            + (f" {j.url}" if j.url else "")
            + (f"（{j.reason}）" if j.reason else "")
            for j in sub.jobs
        )
        await self._send(
            Notice(
                event=sub.state,  # type: ignore[arg-type]
                title=f"{word}：{sub.title}",
                text=f"### {word}：{sub.title}\n{lines}\n",
                recipients=(_submitter(sub), Recipient(role="brand_pr")),
                link=_link(sub),
                data={
                    "submission": sub.id,
                    "state": sub.state,
                    "jobs": [j.public() for j in sub.jobs],
                },
            )
        )

    async def blocked(
        self,
        policy: Policy,
        principal: Principal,
        accounts: Sequence[str],
        findings: Sequence[Finding],
        digest: str,
    ) -> None:
        """The Art. 8 alert, when a blocking finding's category has ``alert = true``."""
        alerting = [
            f
            for f in findings
            if (rule := policy.categories.get(f.category)) is not None and rule.alert
        ]
        if alerting:
            await self._send(blocked_alert(principal, accounts, alerting, digest))


def _submitter(sub: Submission) -> Recipient:
    return Recipient(role=sub.submitter_role, unit=sub.submitter_unit, person=sub.submitted_by)


def blocked_alert(
    principal: Principal, accounts: Sequence[str], findings: Sequence[Finding], digest: str
) -> Notice:
    """The Art. 8 alert for blocked high-severity content (policy ``alert = true``)."""
    cats = sorted({f.category for f in findings})
    return Notice(
        event="alert",
        title=f"拦截告警：{'、'.join(cats)}",
        text=(
            f"### 拦截告警（第八条）\n- 类别：{'、'.join(cats)}\n"
            f"- 提交人：{principal.name}（{principal.role}@{principal.unit}）\n"
            f"- 账号：{'、'.join(accounts)}\n"
        ),
        recipients=(Recipient(role="brand_pr"),),
        data={
            "kind": "blocked_attempt",
            "categories": cats,
            "accounts": list(accounts),
            "by": principal.id,
            "content_sha256": digest,
        },
    )
