"""The review desk for people: compose and submit, my submissions, the inbox, one submission.

Every view calls :class:`gateway.desk.service.DeskService` (never the API handlers) and renders
what it answers; the rules, the audit and the notices stay in the service.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from typing import Any

from aiohttp import web
from markupsafe import Markup
from multidict import MultiDictProxy

from gateway.appkeys import DESK
from gateway.console.context import (
    APPROVERS,
    SUBMITTERS,
    form_text,
    me,
    page,
    services,
)
from gateway.console.diff import post_diff
from gateway.console.render import render_html, render_text
from gateway.desk.model import EDITABLE_STATES, SUBMISSION_STATES, Submission
from gateway.errors import Conflict, ContentBlocked, Forbidden, GatewayError, field_error
from gateway.gate import acts_for
from gateway.middleware import REQUEST_ID
from gateway.postmodel import POST_FIELDS, parse_post
from gateway.requirements import EXTERNAL_CONFIRMATION
from gateway.settings import POST_CATEGORIES

BEIJING = dt.timezone(dt.timedelta(hours=8))
TEXT_FIELDS = ("title", "digest", "author", "content", "source")


# --- compose ------------------------------------------------------------------------------------


async def _postable_accounts(request: web.Request) -> list[Any]:
    svc, principal = services(request), me(request)
    policy = svc.settings.policy
    return [
        a
        for a in await svc.accounts.list_all(state="active")
        if acts_for(policy, principal, a.unit)
    ]


def _compose_page(
    request: web.Request,
    accounts: list[Any],
    values: dict[str, Any],
    *,
    error: str = "",
    findings: list[dict[str, Any]] | None = None,
    status: int = 200,
    edit: Submission | None = None,
) -> web.Response:
    return page(
        "compose.html",
        request,
        {
            "accounts": accounts,
            "categories": POST_CATEGORIES,
            "values": values,
            "error": error,
            "blocked_findings": findings or [],
            "edit": edit,
        },
        status=status,
    )


async def compose_form(request: web.Request) -> web.Response:
    accounts = await _postable_accounts(request)
    values = {"category": "news", "accounts": [a.id for a in accounts[:1]]}
    return _compose_page(request, accounts, values)


async def _image_of(form: MultiDictProxy[Any], name: str) -> list[dict[str, str]]:
    images = []
    for item in form.getall(name, []):
        if isinstance(item, web.FileField) and item.filename:
            data = item.file.read()
            if data:
                images.append(
                    {
                        "filename": item.filename[-200:],
                        "content_type": item.content_type,
                        "data": base64.b64encode(data).decode(),
                    }
                )
    return images


def _publish_at(value: str) -> float | None:
    """A ``datetime-local`` value, read as Beijing time (the form says so)."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise field_error("publish_at", "must be a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return moment.timestamp()


async def compose(request: web.Request) -> web.Response:
    svc, principal, desk = services(request), me(request), request.config_dict[DESK]
    form = await request.post()
    accounts = await _postable_accounts(request)
    values: dict[str, Any] = {
        name: form_text(form, name, max_chars=svc.settings.limits.max_text_chars)
        for name in TEXT_FIELDS
    }
    values["category"] = form_text(form, "category", max_chars=16)
    values["accounts"] = [a for a in form.getall("accounts", []) if isinstance(a, str)]
    values["publish_at"] = form_text(form, "publish_at", max_chars=32)
    values["note"] = form_text(form, "note", max_chars=2000)
    try:
        covers = await _image_of(form, "cover")
        raw_post: dict[str, Any] = {k: values[k] for k in POST_FIELDS if k in values}
        raw_post["cover"] = covers[0] if covers else None
        raw_post["images"] = await _image_of(form, "images")
        post = parse_post(raw_post, svc.settings.limits)
        if not values["accounts"]:
            raise field_error("accounts", "请至少选择一个账号")
        sub = await desk.submit(
            principal,
            accounts=values["accounts"],
            post=post,
            publish_at=_publish_at(values["publish_at"]),
            note=values["note"],
            request_id=request.get(REQUEST_ID, ""),
        )
    except ContentBlocked as exc:
        return _compose_page(
            request,
            accounts,
            values,
            error="内容含有禁止发布的信息（第十八、二十一条），未提交。",
            findings=list(exc.extra.get("findings", [])),
            status=422,
        )
    except GatewayError as exc:
        return _compose_page(request, accounts, values, error=exc.detail, status=exc.status)
    raise web.HTTPSeeOther(f"/console/submissions/{sub.id}")


# --- a new version ------------------------------------------------------------------------------


async def _editable(request: web.Request) -> tuple[Submission, list[Any]]:
    """The submission to revise (the service checks the rules again when it is resubmitted)."""
    svc, principal = services(request), me(request)
    sub = await request.config_dict[DESK].get(principal, request.match_info["submission_id"])
    if principal.id != sub.submitted_by and principal.role != "brand_pr":
        raise Forbidden(
            "only the submitter (or Brand-PR) edits a submission", reason="not_submitter"
        )
    if sub.state not in EDITABLE_STATES:
        raise Conflict(f"submission {sub.id} is {sub.state}; it can no longer be edited")
    accounts = [a for a in [await svc.accounts.get(i) for i in sub.accounts] if a is not None]
    return sub, accounts


def _as_upload(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """A kept image in the shape a post is parsed from (its hash is computed again)."""
    if not stored:
        return None
    return {k: stored[k] for k in ("filename", "content_type", "data") if k in stored}


async def edit_form(request: web.Request) -> web.Response:
    sub, accounts = await _editable(request)
    values: dict[str, Any] = {k: sub.post.get(k, "") for k in (*TEXT_FIELDS, "category")}
    values["accounts"] = list(sub.accounts)
    return _compose_page(request, accounts, values, edit=sub)


async def edit(request: web.Request) -> web.Response:
    """A new version: earlier approvals stay with the old one (they are bound to its hash)."""
    svc, principal, desk = services(request), me(request), request.config_dict[DESK]
    sub, accounts = await _editable(request)
    form = await request.post()
    values: dict[str, Any] = {
        name: form_text(form, name, max_chars=svc.settings.limits.max_text_chars)
        for name in TEXT_FIELDS
    }
    values["category"] = form_text(form, "category", max_chars=16)
    values["accounts"] = list(sub.accounts)
    try:
        covers = await _image_of(form, "cover")
        images = await _image_of(form, "images")
        raw_post: dict[str, Any] = {k: values[k] for k in POST_FIELDS if k in values}
        raw_post["cover"] = covers[0] if covers else _as_upload(sub.post.get("cover"))
        raw_post["images"] = images or [_as_upload(i) for i in sub.post.get("images") or []]
        post = parse_post(raw_post, svc.settings.limits)
        new = await desk.resubmit(principal, sub.id, post, request.get(REQUEST_ID, ""))
    except ContentBlocked as exc:
        return _compose_page(
            request,
            accounts,
            values,
            error="内容含有禁止发布的信息（第十八、二十一条），未提交。",
            findings=list(exc.extra.get("findings", [])),
            status=422,
            edit=sub,
        )
    except GatewayError as exc:
        return _compose_page(
            request, accounts, values, error=exc.detail, status=exc.status, edit=sub
        )
    raise web.HTTPSeeOther(f"/console/submissions/{new.id}")


# --- lists --------------------------------------------------------------------------------------


async def my_submissions(request: web.Request) -> web.Response:
    principal, desk = me(request), request.config_dict[DESK]
    state = request.query.get("state") or None
    if state is not None and state not in SUBMISSION_STATES:
        raise field_error("state", f"one of {', '.join(SUBMISSION_STATES)}")
    mine = principal.role in SUBMITTERS
    items = await desk.list_for(principal, state=state, mine=mine, limit=200)  # type: ignore[arg-type]
    return page(
        "submissions.html",
        request,
        {"items": items, "state": state or "", "states": SUBMISSION_STATES, "mine": mine},
    )


async def inbox(request: web.Request) -> web.Response:
    items = await request.config_dict[DESK].inbox_for(me(request))
    return page("inbox.html", request, {"items": items})


# --- one submission -----------------------------------------------------------------------------


def _images(post: dict[str, Any]) -> list[tuple[str, bytes]]:
    out = []
    for image in post.get("images") or []:
        try:
            out.append((str(image["content_type"]), base64.b64decode(image["data"])))
        except (KeyError, TypeError, ValueError):
            out.append(("", b""))
    return out


def _data_url(image: dict[str, Any] | None) -> str:
    if not image or image.get("content_type") not in ("image/jpeg", "image/png", "image/gif",
                                                       "image/webp"):  # fmt: skip
        return ""
    data = str(image.get("data", ""))
    try:
        base64.b64decode(data, validate=True)
    except ValueError:
        return ""
    return f"data:{image['content_type']};base64,{data}"


def rendered_post(sub: Submission) -> dict[str, Any]:
    """The post of ``sub`` made safe to show, with its findings marked, per view."""
    post, findings = sub.post, list(sub.findings)
    content = render_html(str(post.get("content", "")), findings, "content", _images(post))
    return {
        "title": render_text(str(post.get("title", "")), findings, "title"),
        "digest": render_text(str(post.get("digest", "")), findings, "digest"),
        "author": render_text(str(post.get("author", "")), findings, "author"),
        "source": render_text(str(post.get("source", "")), findings, "source"),
        "content": content.html,
        # Weibo gets the text on one line, as connectors/weibo.py composes it
        "content_text": Markup(str(content.text).replace("\n", " ")),
        "cover": _data_url(post.get("cover")),
        # every image the approvers approve, shown whether or not the body places it
        "images": [_data_url(i) for i in post.get("images") or []],
        "category": post.get("category", ""),
        "marks": sum(1 for f in findings if f.get("field") in TEXT_FIELDS),
    }


async def submission_page(request: web.Request) -> web.Response:
    svc, principal, desk = services(request), me(request), request.config_dict[DESK]
    sub = await desk.get(principal, request.match_info["submission_id"])
    accounts = []
    for account_id in sub.accounts:
        account = await svc.accounts.get(account_id)
        accounts.append(
            {
                "id": account_id,
                "name": account.name if account else account_id,
                "platform": account.platform if account else "",
            }
        )
    platforms = {a["platform"] for a in accounts}
    can_decide = principal.role in APPROVERS and any(
        item.submission.id == sub.id for item in await desk.inbox_for(principal)
    )
    changes = None
    if sub.previous:
        try:
            before = await desk.get(principal, sub.previous)
        except GatewayError:
            before = None
        if before is not None:
            changes = {"version": before.version, "fields": post_diff(before.post, sub.post)}
    needs_attest = can_decide and any(
        r.attest == EXTERNAL_CONFIRMATION and not r.satisfied_by and r.role == principal.role
        for r in sub.required
    )
    return page(
        "submission.html",
        request,
        {
            "sub": sub,
            # sanitising a long post is CPU work: off the event loop
            "view": await asyncio.to_thread(rendered_post, sub),
            "accounts": accounts,
            "show_article": bool(platforms - {"weibo"}) or not platforms,
            "show_weibo": "weibo" in platforms,
            "can_decide": can_decide,
            "changes": changes,
            "needs_attest": needs_attest,
            "can_withdraw": sub.submitted_by == principal.id and sub.state in EDITABLE_STATES,
            "can_edit": sub.state in EDITABLE_STATES
            and (sub.submitted_by == principal.id or principal.role == "brand_pr"),
            "people": {
                sub.submitted_by: sub.submitter_name,
                **{d.by: d.name for d in sub.decisions},
                **{a.by: a.name for a in sub.approvals},
            },
        },
    )


async def decide(request: web.Request) -> web.StreamResponse:
    principal, desk = me(request), request.config_dict[DESK]
    submission_id = request.match_info["submission_id"]
    form = await request.post()
    decision = form_text(form, "decision", required=True, max_chars=16)
    if decision not in ("approve", "reject"):
        raise field_error("decision", "approve or reject")
    reason = form_text(form, "reason", max_chars=2000)
    if decision == "reject" and not reason:
        raise field_error("reason", "退回时必须填写原因，提交人会看到它")
    attest = [a for a in form.getall("attest", []) if a == EXTERNAL_CONFIRMATION]
    await desk.decide(
        principal,
        submission_id,
        decision=decision,  # type: ignore[arg-type]
        reason=reason,
        attest=attest,
        request_id=request.get(REQUEST_ID, ""),
    )
    raise web.HTTPSeeOther(f"/console/submissions/{submission_id}")


async def withdraw(request: web.Request) -> web.StreamResponse:
    principal, desk = me(request), request.config_dict[DESK]
    submission_id = request.match_info["submission_id"]
    await desk.withdraw(principal, submission_id, request.get(REQUEST_ID, ""))
    raise web.HTTPSeeOther(f"/console/submissions/{submission_id}")
