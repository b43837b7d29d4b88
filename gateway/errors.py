"""The gateway's error hierarchy; one middleware maps it to RFC 9457 problem+json.

Each class fixes the HTTP status, a stable ``type`` URI and a title; instances carry the detail
and any extra members (``errors``, ``findings``, ``missing_roles`` ...). Nothing in an error may
contain a secret: messages are written for the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

PROBLEM_BASE = "https://mediagate.dev/problems/"


class GatewayError(Exception):
    """Base class: a refusal the caller can act on."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = extra
        self.headers: dict[str, str] = {}  # response headers the problem carries (Allow ...)

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def to_problem(self, instance: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class BadRequest(GatewayError):
    status, slug, title = 400, "bad-request", "Bad request"


class ValidationFailed(GatewayError):
    """The body parsed but a field is wrong; ``errors`` lists each field and why."""

    status, slug, title = 422, "validation", "Invalid request fields"

    def __init__(self, errors: Sequence[Mapping[str, str]], detail: str = "") -> None:
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        super().__init__(
            detail or f"{first['field']}: {first['message']}", errors=[dict(e) for e in errors]
        )


def field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"field": field, "message": message}])


class Unauthenticated(GatewayError):
    status, slug, title = 401, "unauthenticated", "Authentication required"


class Forbidden(GatewayError):
    status, slug, title = 403, "forbidden", "Not allowed"


class ApprovalsMissing(GatewayError):
    """403 with ``required_roles``, ``missing_roles`` and ``token_errors``."""

    status, slug, title = 403, "approvals-missing", "Required approvals are missing"


class NotFound(GatewayError):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(GatewayError):
    """405 with the ``Allow`` header (RFC 9110 §15.5.6) and ``allowed`` in the body."""

    status, slug, title = 405, "method-not-allowed", "Method not allowed"

    def __init__(self, allowed: Sequence[str]) -> None:
        methods = sorted(set(allowed))
        super().__init__(f"method not allowed; allowed: {', '.join(methods)}", allowed=methods)
        self.headers["Allow"] = ", ".join(methods)


class Conflict(GatewayError):
    status, slug, title = 409, "conflict", "Conflict"


class TokenReplayed(Conflict):
    slug, title = "token-replayed", "Approval token already used"


class PayloadTooLarge(GatewayError):
    status, slug, title = 413, "payload-too-large", "Request too large"


class UnsupportedMediaType(GatewayError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ContentBlocked(GatewayError):
    """422 with ``findings``: the content may not be published whatever the approvals."""

    status, slug, title = 422, "content-blocked", "Content blocked by screening"


class Unprocessable(GatewayError):
    status, slug, title = 422, "unprocessable", "Request cannot be processed"


class Locked(GatewayError):
    status, slug, title = 423, "frozen", "Account frozen"


class TooManyRequests(GatewayError):
    """429 with ``Retry-After`` (seconds) as a header and ``retry_after_s`` in the body."""

    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int, **extra: Any) -> None:
        super().__init__(detail, retry_after_s=retry_after_s, **extra)
        self.headers["Retry-After"] = str(retry_after_s)


class ServiceUnavailable(GatewayError):
    """Fail closed: a part the gate depends on is down; nothing was forwarded."""

    status, slug, title = 503, "unavailable", "Service unavailable"
