"""Every route of the gateway, in one list, each declaring which roles may call it.

``roles=None`` marks a public route (health, metrics, the OpenAPI document). Handlers for the
publish path are added by later parts through :data:`ROUTES` too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from gateway.api import accounts, admin, desk, health, lexicons, posts, proxy_clients, reports
from gateway.proxy import wechat

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

EDITORS_AND_UP = frozenset({"editor", "unit_head", "brand_pr", "leader", "admin", "auditor"})
APPROVERS = frozenset({"unit_head", "brand_pr", "leader"})
PUBLISHERS = frozenset({"editor", "unit_head", "brand_pr"})


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str] | None
    summary: str
    request: str = ""  # name of the request schema in the OpenAPI document
    tag: str = ""


def _r(
    method: str,
    path: str,
    handler: Handler,
    roles: frozenset[str] | set[str] | None,
    summary: str,
    request: str = "",
    tag: str = "",
) -> Route:
    return Route(
        method,
        path,
        handler,
        frozenset(roles) if roles is not None else None,
        summary,
        request,
        tag,
    )


ROUTES: list[Route] = [
    _r("GET", "/livez", health.livez, None, "Process is alive", tag="health"),
    _r(
        "GET",
        "/healthz",
        health.healthz,
        None,
        "Redis, audit, vault and every loaded part answer",
        tag="health",
    ),
    _r("GET", "/metrics", health.metrics, None, "Prometheus metrics", tag="health"),
    _r("GET", "/openapi.json", health.openapi, None, "This document", tag="health"),
    # the publish path
    _r(
        "POST",
        "/v1/screen",
        posts.screen,
        EDITORS_AND_UP,
        "Screen a draft: findings with spans, decision, required approvals",
        "ScreenRequest",
        "posts",
    ),
    _r(
        "POST",
        "/v1/posts/hash",
        posts.content_hash,
        EDITORS_AND_UP,
        "The content hash approvals are bound to",
        "ScreenRequest",
        "posts",
    ),
    _r(
        "POST",
        "/v1/approvals",
        posts.approve,
        APPROVERS,
        "Approve or reject exactly this content for accounts (returns a signed token)",
        "ApprovalRequest",
        "approvals",
    ),
    _r(
        "POST",
        "/v1/posts",
        posts.publish,
        PUBLISHERS,
        "Publish through the gate (Idempotency-Key honoured)",
        "PublishRequest",
        "posts",
    ),
    _r(
        "GET",
        "/v1/posts",
        posts.list_posts,
        EDITORS_AND_UP,
        "Posts visible to the caller (?state=&limit=)",
        tag="posts",
    ),
    _r(
        "GET",
        "/v1/posts/{post_id}",
        posts.get_post,
        EDITORS_AND_UP,
        "One post with its state history, platform id and URL",
        tag="posts",
    ),
    _r(
        "PATCH",
        "/v1/posts/{post_id}",
        posts.edit_post,
        PUBLISHERS,
        "Edit a published post (fresh approvals for the new content)",
        "PostEdit",
        "posts",
    ),
    _r(
        "DELETE",
        "/v1/posts/{post_id}",
        posts.delete_post,
        {"unit_head", "brand_pr"},
        "Delete a published post (Brand-PR or the owning unit's head)",
        "Note",
        "posts",
    ),
    _r(
        "POST",
        "/v1/posts/{post_id}/resolve",
        posts.resolve_post,
        {"brand_pr"},
        "Retry or settle a failed / unconfirmed / needs-reauthorisation post",
        "JobResolve",
        "posts",
    ),
    # the review desk (docs/desk.md)
    _r(
        "POST",
        "/v1/submissions",
        desk.create,
        PUBLISHERS,
        "Submit a post for one or more accounts; the desk collects the approvals and publishes",
        tag="desk",
    ),
    _r(
        "POST",
        "/v1/submissions/preview",
        desk.preview,
        PUBLISHERS,
        "What a submission would need (findings, required approvals); nothing is kept",
        tag="desk",
    ),
    _r(
        "GET",
        "/v1/submissions",
        desk.list_submissions,
        EDITORS_AND_UP,
        "Submissions visible to the caller (?state=&mine=&limit=)",
        tag="desk",
    ),
    _r(
        "GET",
        "/v1/submissions/{submission_id}",
        desk.get_submission,
        EDITORS_AND_UP,
        "One submission: post, findings, approvals, decisions, jobs, history",
        tag="desk",
    ),
    _r(
        "PUT",
        "/v1/submissions/{submission_id}",
        desk.revise,
        PUBLISHERS,
        "A new version (a new submission; this one becomes superseded, its approvals void)",
        tag="desk",
    ),
    _r(
        "DELETE",
        "/v1/submissions/{submission_id}",
        desk.withdraw,
        PUBLISHERS,
        "Withdraw a submission (the submitter)",
        tag="desk",
    ),
    _r(
        "GET",
        "/v1/inbox",
        desk.inbox,
        APPROVERS,
        "What awaits the caller's approval",
        tag="desk",
    ),
    _r(
        "POST",
        "/v1/submissions/{submission_id}/decisions",
        desk.decide,
        APPROVERS,
        "Approve (the desk signs the token) or reject with a reason",
        tag="desk",
    ),
    _r(
        "POST",
        "/v1/submissions/{submission_id}/approvals",
        desk.attach,
        PUBLISHERS | APPROVERS,
        "Attach an approval token from an external issuer (OA)",
        tag="desk",
    ),
    # the drop-in platform proxy (docs/proxy.md): proxy clients, then the WeChat surface, which
    # authenticates with its own access tokens and answers in WeChat's envelope
    _r(
        "POST",
        "/admin/proxy/clients",
        proxy_clients.create,
        {"admin"},
        "Create a proxy client for one principal and its accounts (secret shown once)",
        tag="proxy",
    ),
    _r(
        "GET",
        "/admin/proxy/clients",
        proxy_clients.list_clients,
        {"admin", "auditor"},
        "Proxy clients (never secrets)",
        tag="proxy",
    ),
    _r(
        "DELETE",
        "/admin/proxy/clients/{appid}",
        proxy_clients.revoke,
        {"admin"},
        "Revoke a proxy client (its tokens stop working)",
        tag="proxy",
    ),
    *(
        _r(method, f"/proxy/wechat/cgi-bin/{api}", handler, None, f"WeChat {api}", tag="proxy")
        for method, api, handler in (
            ("GET", "token", wechat.token),
            ("POST", "stable_token", wechat.stable_token),
            ("POST", "media/uploadimg", wechat.uploadimg),
            ("POST", "material/add_material", wechat.add_material),
            ("POST", "draft/add", wechat.draft_add),
            ("POST", "draft/update", wechat.draft_update),
            ("POST", "draft/get", wechat.draft_get),
            ("POST", "draft/delete", wechat.draft_delete),
            ("POST", "draft/batchget", wechat.draft_batchget),
            ("POST", "draft/count", wechat.draft_count),
            ("POST", "freepublish/submit", wechat.freepublish_submit),
            ("POST", "freepublish/get", wechat.freepublish_get),
            ("POST", "freepublish/batchget", wechat.freepublish_batchget),
            ("POST", "freepublish/getarticle", wechat.freepublish_getarticle),
            ("POST", "freepublish/delete", wechat.freepublish_delete),
            ("GET", "{api}", wechat.outside),
            ("POST", "{api}", wechat.outside),
            ("GET", "{area}/{api}", wechat.outside),
            ("POST", "{area}/{api}", wechat.outside),
            ("GET", "{area}/{group}/{api}", wechat.outside),
            ("POST", "{area}/{group}/{api}", wechat.outside),
        )
    ),
    # reports (Art. 9, 23, 24)
    _r(
        "GET",
        "/v1/reports/weekly",
        reports.weekly,
        {"brand_pr", "auditor"},
        "Weekly per-unit submissions and quota flags (?week=2026-W48&format=csv)",
        tag="reports",
    ),
    _r(
        "GET",
        "/v1/reports/annual",
        reports.annual,
        {"brand_pr", "auditor"},
        "Annual accounts and activity (?year=2026&format=csv)",
        tag="reports",
    ),
    # lexicons (hot reload)
    _r(
        "POST",
        "/admin/lexicons/{category}/terms",
        lexicons.add_terms,
        {"admin", "brand_pr"},
        "Add terms to a category (new categories allowed)",
        "LexiconTerms",
        "lexicons",
    ),
    _r(
        "DELETE",
        "/admin/lexicons/{category}/terms",
        lexicons.remove_terms,
        {"admin", "brand_pr"},
        "Remove terms from a category",
        "LexiconTerms",
        "lexicons",
    ),
    _r(
        "GET",
        "/admin/lexicons",
        lexicons.list_lexicons,
        {"admin", "brand_pr", "auditor"},
        "Lexicons: files with provenance, admin lists with versions",
        tag="lexicons",
    ),
    # accounts (Art. 7)
    _r(
        "POST",
        "/v1/accounts",
        accounts.file_account,
        {"unit_head", "brand_pr", "admin"},
        "File an account (or re-file changes); pending until Brand-PR approves",
        "AccountFiling",
        "accounts",
    ),
    _r(
        "GET",
        "/v1/accounts",
        accounts.list_accounts,
        EDITORS_AND_UP,
        "Accounts visible to the caller",
        tag="accounts",
    ),
    _r(
        "GET",
        "/v1/accounts/{account}",
        accounts.get_account,
        EDITORS_AND_UP,
        "One account with its filing history and freeze state",
        tag="accounts",
    ),
    _r(
        "POST",
        "/v1/accounts/{account}/approve",
        accounts.approve_account,
        {"brand_pr"},
        "Approve a pending filing (account becomes active)",
        "Note",
        "accounts",
    ),
    _r(
        "POST",
        "/v1/accounts/{account}/reject",
        accounts.reject_account,
        {"brand_pr"},
        "Reject a pending filing",
        "Note",
        "accounts",
    ),
    # emergency stop (Art. 8)
    _r(
        "POST",
        "/admin/freeze",
        admin.freeze,
        {"admin", "brand_pr"},
        "Freeze an account, a unit or everything",
        "Freeze",
        "admin",
    ),
    _r(
        "POST",
        "/admin/unfreeze",
        admin.unfreeze,
        {"admin", "brand_pr"},
        "Lift a freeze",
        "Freeze",
        "admin",
    ),
    _r(
        "GET",
        "/admin/freezes",
        admin.list_freezes,
        {"admin", "brand_pr", "auditor"},
        "Active freezes",
        tag="admin",
    ),
    # credential vault (Art. 20)
    _r(
        "PUT",
        "/admin/vault/{account}",
        admin.put_credentials,
        {"admin"},
        "Store or rotate credentials (write-only; answers metadata)",
        "VaultPut",
        "vault",
    ),
    _r(
        "GET",
        "/admin/vault/{account}",
        admin.get_credentials,
        {"admin"},
        "Credential metadata (never values)",
        tag="vault",
    ),
    _r(
        "DELETE",
        "/admin/vault/{account}",
        admin.delete_credentials,
        {"admin"},
        "Delete credentials (all, or ?field=name)",
        tag="vault",
    ),
    # identities
    _r(
        "POST",
        "/admin/keys",
        admin.create_key,
        {"admin"},
        "Create a principal and its API key (shown once)",
        "KeyCreate",
        "admin",
    ),
    _r(
        "GET",
        "/admin/keys",
        admin.list_keys,
        {"admin", "auditor"},
        "Principals (never keys)",
        tag="admin",
    ),
    _r(
        "DELETE",
        "/admin/keys/{key_id}",
        admin.revoke_key,
        {"admin"},
        "Revoke an API key",
        tag="admin",
    ),
    # audit (Art. 22)
    _r(
        "GET",
        "/admin/audit/verify",
        admin.verify_audit,
        {"admin", "auditor"},
        "Recompute the audit hash chain",
        tag="audit",
    ),
]


def add_routes(
    app: web.Application, routes: list[Route]
) -> dict[tuple[str, str], frozenset[str] | None]:
    """Register ``routes``; return the (method, path) → roles table the auth middleware reads."""
    table: dict[tuple[str, str], frozenset[str] | None] = {}
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
        table[(route.method, route.path)] = route.roles
    return table
