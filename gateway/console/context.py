"""What every console view shares: who is logged in, the page frame, forms, Chinese labels."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from gateway.appkeys import SERVICES
from gateway.console.guard import ACTIVE, OPEN_ALERTS
from gateway.errors import field_error
from gateway.principals import Principal
from gateway.services import Services

ROLE_LABELS = {
    "editor": "编辑",
    "unit_head": "单位负责人",
    "brand_pr": "品牌公关部",
    "leader": "分管领导",
    "admin": "管理员",
    "auditor": "审计",
}
STATE_LABELS = {
    "awaiting_approval": "待审批",
    "rejected": "已退回",
    "withdrawn": "已撤回",
    "approved": "已批准",
    "publishing": "发布中",
    "published": "已发布",
    "failed": "发布失败",
    "unconfirmed": "待确认",
    "superseded": "已被新版本取代",
    "pending": "待备案审批",
    "active": "正常",
    "retired": "已停用",
    "dispatching": "发送中",
    "needs_reauth": "需重新授权",
    "deleted": "已删除",
}
CATEGORY_LABELS = {
    "company": "公司信息",
    "news": "新闻动态",
    "culture": "文化品牌",
    "other": "其他（需领导审批）",
}
PLATFORM_LABELS = {
    "wechat": "微信公众号",
    "weibo": "微博",
    "wordpress": "公司网站",
    "webhook": "网站（Webhook）",
}
ALERT_KIND_LABELS = {
    "unapproved_publish": "未经网关发布",
    "unapproved_edit": "在平台上被修改",
    "removed_outside": "在平台上被删除",
}
ALERT_STATE_LABELS = {"open": "待处理", "acknowledged": "已确认", "frozen": "已冻结账号"}
DECISION_LABELS = {"pass": "可发布", "review": "需审核", "block": "禁止发布"}
ACTION_LABELS = {"block": "禁止", "review": "需审核", "require": "需审核", "warn": "提示"}

# Who may use which page: the same roles as the API calls behind it.
EDITORS_AND_UP = frozenset({"editor", "unit_head", "brand_pr", "leader", "admin", "auditor"})
SUBMITTERS = frozenset({"editor", "unit_head", "brand_pr"})
APPROVERS = frozenset({"unit_head", "brand_pr", "leader"})
FREEZERS = frozenset({"admin", "brand_pr"})
AUDITORS = frozenset({"auditor", "admin"})
ALERT_READERS = frozenset({"brand_pr", "admin", "unit_head"})  # gateway.watch.actions.READERS
ALERT_HANDLERS = frozenset({"brand_pr"})  # gateway.watch.actions.HANDLERS


def services(request: web.Request) -> Services:
    return request.config_dict[SERVICES]


def me(request: web.Request) -> Principal:
    """The logged-in principal (the guard has made sure there is one on every page route)."""
    return request[ACTIVE].principal


def csrf(request: web.Request) -> str:
    active = request.get(ACTIVE)
    return active.session.csrf if active is not None else ""


def when(ts: float | str | None) -> str:
    """A timestamp (epoch seconds or RFC 3339) as Beijing time, minutes precision."""
    if ts in (None, "", 0):
        return ""
    try:
        if isinstance(ts, str):
            moment = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
        else:
            moment = dt.datetime.fromtimestamp(float(ts), dt.UTC)
    except (TypeError, ValueError):
        return str(ts)
    beijing = dt.timezone(dt.timedelta(hours=8))
    return moment.astimezone(beijing).strftime("%Y-%m-%d %H:%M")


def unit_name(request: web.Request, unit_id: str) -> str:
    unit = services(request).settings.policy.units.get(unit_id)
    return unit.name if unit is not None else unit_id


def page(
    template: str, request: web.Request, context: Mapping[str, Any], status: int = 200
) -> web.Response:
    """Render ``template`` inside the frame (navigation for the logged-in principal)."""
    active = request.get(ACTIVE)
    principal = active.principal if active is not None else None
    frame: dict[str, Any] = {
        "me": principal,
        "csrf": csrf(request),
        "role_label": ROLE_LABELS,
        "state_label": STATE_LABELS,
        "category_label": CATEGORY_LABELS,
        "platform_label": PLATFORM_LABELS,
        "decision_label": DECISION_LABELS,
        "action_label": ACTION_LABELS,
        "when": when,
        "unit_name": lambda u: unit_name(request, u),
        "can": {
            "submit": principal is not None and principal.role in SUBMITTERS,
            "approve": principal is not None and principal.role in APPROVERS,
            "freeze": principal is not None and principal.role in FREEZERS,
            "audit": principal is not None and principal.role in AUDITORS,
            "alerts": principal is not None and principal.role in ALERT_READERS,
            "handle_alerts": principal is not None and principal.role in ALERT_HANDLERS,
        },
        "open_alerts": request.get(OPEN_ALERTS),
        "alert_kind_label": ALERT_KIND_LABELS,
        "alert_state_label": ALERT_STATE_LABELS,
        "path": request.path,
    }
    frame.update(context)
    return aiohttp_jinja2.render_template(template, request, frame, status=status)


def form_text(
    form: MultiDictProxy[Any], name: str, *, required: bool = False, max_chars: int = 2000
) -> str:
    """A text field of a posted form, trimmed and bounded; a missing required one is a 422."""
    value = form.get(name, "")
    if not isinstance(value, str):
        raise field_error(name, "must be text")
    value = value.strip()
    if required and not value:
        raise field_error(name, "is required")
    if len(value) > max_chars:
        raise field_error(name, f"at most {max_chars} characters")
    return value
