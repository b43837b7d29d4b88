"""Every route of the gateway, in one list, each declaring which roles may call it.

``roles=None`` marks a public route (health, metrics, the OpenAPI document). Handlers for the
publish path are added by later parts through :data:`ROUTES` too.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from aiohttp import web

from gateway.api import (
    accounts,
    admin,
    desk,
    docs,
    health,
    hub,
    lexicons,
    posts,
    proxy_clients,
    reports,
    watch,
)
from gateway.proxy import wechat, weibo

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

EDITORS_AND_UP = frozenset({"editor", "unit_head", "brand_pr", "leader", "admin", "auditor"})
APPROVERS = frozenset({"unit_head", "brand_pr", "leader"})
PUBLISHERS = frozenset({"editor", "unit_head", "brand_pr"})
# Routes that are not this API: the drop-in platform proxy (WeChat/Weibo shapes) and the
# console's HTML pages. The OpenAPI document leaves them out whatever they declare.
UNDOCUMENTED_PREFIXES = ("/proxy/", "/console/")


@dataclass(frozen=True)
class Route:
    """One operation: what the router, the auth middleware and the OpenAPI document read.

    ``request`` and ``query`` name definitions in :mod:`gateway.api.bodies` (the handler parses
    with them, the document declares them); ``answer`` names a response schema in
    :mod:`gateway.openapi`; ``status`` is the success status and ``statuses`` any others.
    """

    method: str
    path: str
    handler: Handler
    roles: frozenset[str] | None
    summary: str
    request: str = ""
    tag: str = ""
    op_id: str = ""
    query: str = ""
    answer: str = ""
    status: int = 200
    statuses: tuple[int, ...] = ()
    body_optional: bool = False
    idempotent: bool = False  # honours the Idempotency-Key header
    media: str = "application/json"  # the success answer's media type
    csv: bool = False  # also answers text/csv (?format=csv)
    other_answer: str = ""  # the answer's schema for ``statuses`` when it differs
    documented: bool = True  # in the OpenAPI document (never under UNDOCUMENTED_PREFIXES)

    @property
    def in_document(self) -> bool:
        """Whether the OpenAPI document (and so schemathesis) covers this route: not when it
        says ``documented=False``, nor under a prefix that speaks another API's shapes."""
        return self.documented and not self.path.startswith(UNDOCUMENTED_PREFIXES)

    @property
    def operation_id(self) -> str:
        """``op_id``, or one made from the method and path (``post /v1/things/{id}/x`` →
        ``postV1ThingsIdX``) for a route that names none."""
        if self.op_id:
            return self.op_id
        words = re.findall(r"[A-Za-z0-9]+", f"{self.method.lower()} {self.path}")
        return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _r(
    method: str,
    path: str,
    handler: Handler,
    roles: frozenset[str] | set[str] | None,
    summary: str,
    request: str = "",
    tag: str = "",
    **more: Any,
) -> Route:
    return Route(
        method,
        path,
        handler,
        frozenset(roles) if roles is not None else None,
        summary,
        request,
        tag,
        **more,
    )


ROUTES: list[Route] = [
    _r(
        "GET",
        "/livez",
        health.livez,
        None,
        "Process is alive",
        tag="health",
        op_id="livez",
        answer="Live",
    ),
    _r(
        "GET",
        "/healthz",
        health.healthz,
        None,
        "Redis, audit, vault and every loaded part answer",
        tag="health",
        op_id="healthz",
        answer="Health",
        statuses=(503,),
    ),
    _r(
        "GET",
        "/metrics",
        health.metrics,
        None,
        "Prometheus metrics",
        tag="health",
        op_id="metrics",
        media="text/plain",
    ),
    _r(
        "GET",
        "/openapi.json",
        docs.openapi,
        None,
        "This document",
        tag="health",
        op_id="openapiDocument",
    ),
    # the publish path
    _r(
        "POST",
        "/v1/screen",
        posts.screen,
        EDITORS_AND_UP,
        "Screen a draft: findings with spans, decision, required approvals",
        "ScreenRequest",
        "posts",
        op_id="screenPost",
        answer="ScreenResult",
    ),
    _r(
        "POST",
        "/v1/posts/hash",
        posts.content_hash,
        EDITORS_AND_UP,
        "The content hash approvals are bound to",
        "HashRequest",
        "posts",
        op_id="hashPost",
        answer="ContentHash",
    ),
    _r(
        "POST",
        "/v1/approvals",
        posts.approve,
        APPROVERS,
        "Approve or reject exactly this content for accounts (returns a signed token)",
        "ApprovalRequest",
        "approvals",
        op_id="createApproval",
        answer="Approval",
        status=201,
    ),
    _r(
        "POST",
        "/v1/posts",
        posts.publish,
        PUBLISHERS,
        "Publish through the gate (Idempotency-Key honoured)",
        "PublishRequest",
        "posts",
        op_id="createPost",
        answer="Job",
        status=201,
        statuses=(202,),
        idempotent=True,
    ),
    _r(
        "GET",
        "/v1/posts",
        posts.list_posts,
        EDITORS_AND_UP,
        "Posts visible to the caller (?state=&limit=)",
        tag="posts",
        op_id="listPosts",
        query="PostsQuery",
        answer="JobList",
    ),
    _r(
        "GET",
        "/v1/posts/{post_id}",
        posts.get_post,
        EDITORS_AND_UP,
        "One post with its state history, platform id and URL",
        tag="posts",
        op_id="getPost",
        answer="JobWithHistory",
    ),
    _r(
        "PATCH",
        "/v1/posts/{post_id}",
        posts.edit_post,
        PUBLISHERS,
        "Edit a published post (fresh approvals for the new content)",
        "PostEdit",
        "posts",
        op_id="editPost",
        answer="Job",
        status=201,
        statuses=(202,),
    ),
    _r(
        "DELETE",
        "/v1/posts/{post_id}",
        posts.delete_post,
        {"unit_head", "brand_pr"},
        "Delete a published post (Brand-PR or the owning unit's head)",
        "DeleteRequest",
        "posts",
        op_id="deletePost",
        answer="Job",
        status=201,
        statuses=(202,),
    ),
    _r(
        "POST",
        "/v1/posts/{post_id}/resolve",
        posts.resolve_post,
        {"brand_pr"},
        "Retry or settle a failed / unconfirmed / needs-reauthorisation post",
        "JobResolve",
        "posts",
        op_id="resolvePost",
        answer="Job",
    ),
    # the review desk (docs/desk.md)
    _r(
        "POST",
        "/v1/submissions",
        desk.create,
        PUBLISHERS,
        "Submit a post for one or more accounts; the desk collects the approvals and publishes",
        request="SubmissionCreate",
        tag="desk",
        op_id="createSubmission",
        answer="Submission",
        status=201,
    ),
    _r(
        "POST",
        "/v1/submissions/preview",
        desk.preview,
        PUBLISHERS,
        "What a submission would need (findings, required approvals); nothing is kept",
        request="SubmissionPreview",
        tag="desk",
        op_id="previewSubmission",
        answer="Preview",
    ),
    _r(
        "GET",
        "/v1/submissions",
        desk.list_submissions,
        EDITORS_AND_UP,
        "Submissions visible to the caller (?state=&mine=&limit=)",
        tag="desk",
        op_id="listSubmissions",
        query="SubmissionsQuery",
        answer="SubmissionList",
    ),
    _r(
        "GET",
        "/v1/submissions/{submission_id}",
        desk.get_submission,
        EDITORS_AND_UP,
        "One submission: post, findings, approvals, decisions, jobs, history",
        tag="desk",
        op_id="getSubmission",
        answer="Submission",
    ),
    _r(
        "PUT",
        "/v1/submissions/{submission_id}",
        desk.revise,
        PUBLISHERS,
        "A new version (a new submission; this one becomes superseded, its approvals void)",
        request="SubmissionRevision",
        tag="desk",
        op_id="reviseSubmission",
        answer="Submission",
        status=201,
    ),
    _r(
        "DELETE",
        "/v1/submissions/{submission_id}",
        desk.withdraw,
        PUBLISHERS,
        "Withdraw a submission (the submitter)",
        tag="desk",
        op_id="withdrawSubmission",
        answer="Submission",
    ),
    _r(
        "GET",
        "/v1/inbox",
        desk.inbox,
        APPROVERS,
        "What awaits the caller's approval",
        tag="desk",
        op_id="getInbox",
        answer="Inbox",
    ),
    _r(
        "POST",
        "/v1/submissions/{submission_id}/decisions",
        desk.decide,
        APPROVERS,
        "Approve (the desk signs the token) or reject with a reason",
        request="Decision",
        tag="desk",
        op_id="decideSubmission",
        answer="Submission",
    ),
    _r(
        "POST",
        "/v1/submissions/{submission_id}/approvals",
        desk.attach,
        PUBLISHERS | APPROVERS,
        "Attach an approval token from an external issuer (OA)",
        request="ApprovalAttach",
        tag="desk",
        op_id="attachApproval",
        answer="Submission",
    ),
    # the drop-in platform proxy (docs/proxy.md): proxy clients, then the WeChat surface, which
    # authenticates with its own access tokens and answers in WeChat's envelope
    _r(
        "POST",
        "/admin/proxy/clients",
        proxy_clients.create,
        {"admin"},
        "Create a proxy client for one principal and its accounts (secret shown once)",
        "ProxyClientCreate",
        "proxy",
        op_id="createProxyClient",
        answer="ProxyClientCreated",
        status=201,
    ),
    _r(
        "GET",
        "/admin/proxy/clients",
        proxy_clients.list_clients,
        {"admin", "auditor"},
        "Proxy clients (never secrets)",
        tag="proxy",
        op_id="listProxyClients",
        answer="ProxyClientList",
    ),
    _r(
        "DELETE",
        "/admin/proxy/clients/{appid}",
        proxy_clients.revoke,
        {"admin"},
        "Revoke a proxy client (its tokens stop working)",
        tag="proxy",
        op_id="revokeProxyClient",
        answer="ProxyClient",
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
    *(
        _r(method, f"/proxy/weibo/2/{api}", handler, None, f"Weibo {api}", tag="proxy")
        for method, api, handler in (
            ("POST", "statuses/share.json", weibo.share),
            ("GET", "statuses/show.json", weibo.show),
            ("POST", "statuses/destroy.json", weibo.destroy),
            ("GET", "{area}/{api}", weibo.outside),
            ("POST", "{area}/{api}", weibo.outside),
            ("GET", "{area}/{group}/{api}", weibo.outside),
            ("POST", "{area}/{group}/{api}", weibo.outside),
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
        op_id="weeklyReport",
        query="WeeklyQuery",
        answer="WeeklyReport",
        csv=True,
    ),
    _r(
        "GET",
        "/v1/reports/annual",
        reports.annual,
        {"brand_pr", "auditor"},
        "Annual accounts and activity (?year=2026&format=csv)",
        tag="reports",
        op_id="annualReport",
        query="AnnualQuery",
        answer="AnnualReport",
        csv=True,
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
        op_id="addLexiconTerms",
        answer="LexiconEntry",
        status=201,
    ),
    _r(
        "DELETE",
        "/admin/lexicons/{category}/terms",
        lexicons.remove_terms,
        {"admin", "brand_pr"},
        "Remove terms from a category",
        "LexiconTermsRemove",
        "lexicons",
        op_id="removeLexiconTerms",
        answer="LexiconEntry",
    ),
    _r(
        "GET",
        "/admin/lexicons",
        lexicons.list_lexicons,
        {"admin", "brand_pr", "auditor"},
        "Lexicons: files with provenance, admin lists with versions",
        tag="lexicons",
        op_id="listLexicons",
        query="LexiconsQuery",
        answer="Lexicons",
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
        op_id="fileAccount",
        answer="Account",
        status=201,
    ),
    _r(
        "GET",
        "/v1/accounts",
        accounts.list_accounts,
        EDITORS_AND_UP,
        "Accounts visible to the caller",
        tag="accounts",
        op_id="listAccounts",
        query="AccountsQuery",
        answer="AccountList",
    ),
    _r(
        "GET",
        "/v1/accounts/{account}",
        accounts.get_account,
        EDITORS_AND_UP,
        "One account with its filing history and freeze state",
        tag="accounts",
        op_id="getAccount",
        answer="AccountDetail",
    ),
    _r(
        "POST",
        "/v1/accounts/{account}/approve",
        accounts.approve_account,
        {"brand_pr"},
        "Approve a pending filing (account becomes active)",
        "Note",
        "accounts",
        op_id="approveAccount",
        answer="Account",
        body_optional=True,
    ),
    _r(
        "POST",
        "/v1/accounts/{account}/reject",
        accounts.reject_account,
        {"brand_pr"},
        "Reject a pending filing",
        "Note",
        "accounts",
        op_id="rejectAccount",
        answer="Account",
        body_optional=True,
    ),
    _r(
        "POST",
        "/v1/accounts/{account}/reconcile",
        watch.reconcile_account,
        {"brand_pr", "admin"},
        "Bypass detection now: list what the account holds on its platform and compare it "
        "with what the gateway published (docs/bypass.md)",
        tag="accounts",
        op_id="reconcileAccount",
        answer="ReconcileReport",
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
        op_id="freeze",
        answer="FreezeRecord",
        status=201,
    ),
    _r(
        "POST",
        "/admin/unfreeze",
        admin.unfreeze,
        {"admin", "brand_pr"},
        "Lift a freeze",
        "Unfreeze",
        "admin",
        op_id="unfreeze",
        answer="Unfrozen",
    ),
    _r(
        "GET",
        "/admin/freezes",
        admin.list_freezes,
        {"admin", "brand_pr", "auditor"},
        "Active freezes",
        tag="admin",
        op_id="listFreezes",
        answer="FreezeList",
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
        op_id="putCredentials",
        answer="VaultMeta",
    ),
    _r(
        "GET",
        "/admin/vault/{account}",
        admin.get_credentials,
        {"admin"},
        "Credential metadata (never values)",
        tag="vault",
        op_id="getCredentials",
        answer="VaultMeta",
    ),
    _r(
        "DELETE",
        "/admin/vault/{account}",
        admin.delete_credentials,
        {"admin"},
        "Delete credentials (all, or ?field=name)",
        tag="vault",
        op_id="deleteCredentials",
        query="VaultDeleteQuery",
        answer="VaultDeleted",
    ),
    # identities
    _r(
        "POST",
        "/admin/keys",
        admin.create_key,
        {"admin"},
        "Create an editor or auditor key (201, shown once), or propose an approver or admin "
        "key (202) that a second person confirms",
        "KeyCreate",
        "admin",
        op_id="createKey",
        answer="KeyCreated",
        status=201,
        statuses=(202,),
        other_answer="KeyProposal",
    ),
    _r(
        "GET",
        "/admin/keys/proposals",
        admin.list_key_proposals,
        {"admin", "brand_pr", "auditor"},
        "Approver and admin keys proposed and awaiting a second person",
        tag="admin",
        op_id="listKeyProposals",
        answer="KeyProposalList",
    ),
    _r(
        "POST",
        "/admin/keys/proposals/{proposal_id}/confirm",
        admin.confirm_key_proposal,
        {"admin", "brand_pr"},
        "Confirm a proposed key (Brand-PR or an admin other than the proposer); the key is "
        "shown once",
        tag="admin",
        op_id="confirmKeyProposal",
        answer="KeyCreated",
        status=201,
    ),
    _r(
        "DELETE",
        "/admin/keys/proposals/{proposal_id}",
        admin.reject_key_proposal,
        {"admin", "brand_pr"},
        "Reject (or withdraw) a proposed key",
        tag="admin",
        op_id="rejectKeyProposal",
        answer="KeyProposal",
    ),
    _r(
        "GET",
        "/admin/keys",
        admin.list_keys,
        {"admin", "auditor"},
        "Principals (never keys)",
        tag="admin",
        op_id="listKeys",
        answer="KeyList",
    ),
    _r(
        "DELETE",
        "/admin/keys/{key_id}",
        admin.revoke_key,
        {"admin"},
        "Revoke an API key",
        tag="admin",
        op_id="revokeKey",
        answer="Principal",
    ),
    # the hub: material for Brand-PR (Art. 23), docs/hub.md
    _r(
        "POST",
        "/v1/materials",
        hub.send_material,
        PUBLISHERS | {"leader"},
        "Send news material (text, images, files) to Brand-PR; not a publish request",
        request="MaterialSend",
        tag="hub",
        op_id="sendMaterial",
        answer="Material",
        status=201,
    ),
    _r(
        "GET",
        "/v1/materials",
        hub.list_materials,
        EDITORS_AND_UP,
        "Material: Brand-PR, auditors, admins all; others their own unit's (?unit=&limit=)",
        tag="hub",
        op_id="listMaterials",
        query="MaterialsQuery",
        answer="MaterialList",
    ),
    _r(
        "GET",
        "/v1/materials/{material_id}",
        hub.get_material,
        EDITORS_AND_UP,
        "One piece of material with its images and files (base64)",
        tag="hub",
        op_id="getMaterial",
        answer="Material",
    ),
    _r(
        "POST",
        "/v1/campaigns",
        hub.create_campaign,
        {"brand_pr"},
        "Brand-PR opens a linked campaign (Art. 13): brief, units, accounts, due time",
        request="CampaignCreate",
        tag="hub",
        op_id="createCampaign",
        answer="Campaign",
        status=201,
    ),
    _r(
        "GET",
        "/v1/campaigns",
        hub.list_campaigns,
        EDITORS_AND_UP,
        "Campaigns the caller's unit takes part in (Brand-PR, auditors, admins: all)",
        tag="hub",
        op_id="listCampaigns",
        answer="CampaignList",
    ),
    _r(
        "GET",
        "/v1/campaigns/{campaign_id}",
        hub.get_campaign,
        EDITORS_AND_UP,
        "One campaign with its board per unit and account (?format=csv for the record)",
        tag="hub",
        op_id="getCampaign",
        query="CampaignQuery",
        answer="Campaign",
        csv=True,
    ),
    # audit (Art. 22)
    _r(
        "GET",
        "/admin/audit/verify",
        admin.verify_audit,
        {"admin", "auditor"},
        "Recompute the audit hash chain",
        tag="audit",
        op_id="verifyAudit",
        query="AuditVerifyQuery",
        answer="AuditVerify",
    ),
]


@cache
def _by_key() -> dict[tuple[str, str], Route]:
    return {(r.method, r.path): r for r in ROUTES}


def route_for(method: str, path: str) -> Route:
    """The declared route for a method and path template (the handler's own definitions)."""
    return _by_key()[(method, path)]


def add_routes(
    app: web.Application, routes: list[Route]
) -> dict[tuple[str, str], frozenset[str] | None]:
    """Register ``routes``; return the (method, path) → roles table the auth middleware reads."""
    table: dict[tuple[str, str], frozenset[str] | None] = {}
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
        table[(route.method, route.path)] = route.roles
    return table
