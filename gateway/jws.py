"""Approval tokens: compact JWS signed with Ed25519, parsed and verified by hand.

An approval token says "approver ``sub`` (acting as ``role`` of ``unit``) approves (or rejects)
the post whose canonical hash is ``content_sha256`` for ``accounts``", signed by the gateway or by
an external issuer (an OA system) whose public key is in config.

Why no JOSE library: we need exactly one algorithm and one serialisation, and the 2026 advisories
against PyJWT, joserfc and authlib.jose (``crit`` ignored, ``alg`` confusion, padding and
non-canonical base64 malleability, signatures "verified" with no signature at all) all live in code
paths we do not need. The parse below is small enough to read in one sitting: strict base64url that
must re-encode to the same text, an exact header allow-list, ``cryptography``'s Ed25519 verify.
See ``docs/approval-tokens.md``.

Verification order (each step has its own stable :class:`TokenError` code):
structure → header (alg, typ, crit, kid) → signature → claims (shape, issuer, role) → time
(retired key, expiry, not-yet-valid). Nothing from the payload is trusted before the signature
has been checked; the payload is only *parsed* during the structure step.

Pure and synchronous: no I/O, no clock reads (callers pass ``now``), no Redis. Replay (``jti``),
content-hash match, account and approver checks belong to the gateway's approval service.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from gateway.canonical import canonical_json

__all__ = [
    "ACCEPTED_ALGS",
    "DEFAULT_LIFETIME_S",
    "MAX_TOKEN_BYTES",
    "SIGNING_ALG",
    "TOKEN_ERROR_CODES",
    "TOKEN_TYP",
    "ApprovalClaims",
    "KeyRing",
    "SigningKey",
    "TokenError",
    "TokenErrorCode",
    "VerifyKey",
    "generate_signing_key",
    "load_private_key_pem",
    "load_private_key_raw",
    "new_approval_claims",
    "private_key_pem",
    "public_jwk",
    "public_key_from_b64url",
    "sign_approval",
    "verify_approval",
]

#: ``alg`` we emit. RFC 9864 deprecates the polymorphic ``EdDSA`` in favour of ``Ed25519``, but
#: many OA-side libraries (PyJWT 2.x) only know ``EdDSA``; we accept both (see ACCEPTED_ALGS).
SIGNING_ALG: Final = "EdDSA"
#: Every ``alg`` value that means Ed25519 here. Anything else (``none``, ``HS256``, ``ES256``...)
#: is rejected before any key is touched.
ACCEPTED_ALGS: Final = frozenset({"EdDSA", "Ed25519"})
#: Explicit typing (RFC 8725 §3.11): an approval can never be mistaken for another kind of JWT.
TOKEN_TYP: Final = "mediagate-approval+jwt"
#: Upper bound on the token text, checked before anything is decoded.
MAX_TOKEN_BYTES: Final = 8 * 1024
#: Default lifetime of a token we issue (72 h, Issue 4 item 3); configurable per call.
DEFAULT_LIFETIME_S: Final = 72 * 3600

_HEADER_PARAMS: Final = frozenset({"alg", "typ", "kid", "crit"})
_ED25519_SIGNATURE_BYTES: Final = 64
_ED25519_KEY_BYTES: Final = 32
_MAX_JTI_CHARS: Final = 128
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

TokenErrorCode = Literal[
    "malformed",
    "bad_alg",
    "bad_typ",
    "crit",
    "unknown_kid",
    "bad_signature",
    "bad_claims",
    "issuer_mismatch",
    "role_not_allowed",
    "retired_key",
    "expired",
    "not_yet_valid",
]
#: All codes :class:`TokenError` can carry, in verification order. Stable: the HTTP layer puts
#: them into problem+json ``token_errors`` and clients may branch on them.
TOKEN_ERROR_CODES: Final[tuple[TokenErrorCode, ...]] = get_args(TokenErrorCode)


class TokenError(Exception):
    """An approval token failed one verification rule.

    ``code`` is one of :data:`TOKEN_ERROR_CODES` (machine-readable, stable); ``message`` is a
    human-readable detail that never contains key material.
    """

    def __init__(self, code: TokenErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: TokenErrorCode = code
        self.message = message


# --- keys ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """The gateway's current private key and the ``kid`` it is published under."""

    kid: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_kid(self.kid)
        if not isinstance(self.private_key, Ed25519PrivateKey):
            raise ValueError(f"key {self.kid!r}: not an Ed25519 private key")

    def verify_key(
        self,
        issuer: str,
        *,
        roles: frozenset[str] | None = None,
        not_after: datetime | None = None,
    ) -> VerifyKey:
        """The matching :class:`VerifyKey`, for putting this key into a :class:`KeyRing`."""
        return VerifyKey(
            kid=self.kid,
            public_key=self.private_key.public_key(),
            issuer=issuer,
            roles=roles,
            not_after=not_after,
        )


@dataclass(frozen=True)
class VerifyKey:
    """A public key trusted to sign approvals, and what it may sign.

    ``issuer`` is the only ``iss`` a token under this key may carry; ``roles`` limits which roles
    its tokens may assert (``None``: any role — the gateway's own key, whose issuance is already
    authorised per request); ``not_after`` (timezone-aware) ends trust in a retired key: its tokens
    verify until then and never after. The ``kid`` only selects the key; authority comes from
    this entry, never from the token.
    """

    kid: str
    public_key: Ed25519PublicKey
    issuer: str
    roles: frozenset[str] | None = None
    not_after: datetime | None = None

    def __post_init__(self) -> None:
        _check_kid(self.kid)
        if not isinstance(self.public_key, Ed25519PublicKey):
            raise ValueError(f"key {self.kid!r}: not an Ed25519 public key")
        if not isinstance(self.issuer, str) or not self.issuer:
            raise ValueError(f"key {self.kid!r}: issuer must be a non-empty string")
        if self.roles is not None and not isinstance(self.roles, frozenset):
            raise ValueError(f"key {self.kid!r}: roles must be a frozenset or None")
        if self.not_after is not None and self.not_after.utcoffset() is None:
            raise ValueError(f"key {self.kid!r}: not_after must be timezone-aware")


@dataclass(frozen=True)
class KeyRing:
    """The current signing key plus every key that verifies (current, retired, external issuers).

    ``verify`` maps kid → :class:`VerifyKey`; each entry's own ``kid`` must equal its map key, and
    the signing key must be present in it with the same public key (so what we issue, we accept).
    Rotation: add the new key, make it ``signing``, keep the old one in ``verify`` with
    ``not_after`` set to the end of its tokens' lifetime.
    """

    signing: SigningKey
    verify: Mapping[str, VerifyKey]

    def __post_init__(self) -> None:
        for kid, key in self.verify.items():
            if kid != key.kid:
                raise ValueError(f"key ring: entry {kid!r} holds a key with kid {key.kid!r}")
        own = self.verify.get(self.signing.kid)
        if own is None:
            raise ValueError(f"key ring: signing key {self.signing.kid!r} is not in verify")
        if _raw_public(own.public_key) != _raw_public(self.signing.private_key.public_key()):
            raise ValueError(f"key ring: verify entry {self.signing.kid!r} is another key")
        object.__setattr__(self, "verify", MappingProxyType(dict(self.verify)))


def generate_signing_key(kid: str) -> SigningKey:
    """A fresh random Ed25519 signing key under ``kid``."""
    return SigningKey(kid=kid, private_key=Ed25519PrivateKey.generate())


def load_private_key_pem(kid: str, pem: bytes, password: bytes | None = None) -> SigningKey:
    """Load a PKCS#8 PEM Ed25519 private key; any other key type is a ``ValueError``."""
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"key {kid!r}: PEM does not hold an Ed25519 private key")
    return SigningKey(kid=kid, private_key=key)


def load_private_key_raw(kid: str, raw: bytes) -> SigningKey:
    """Load an Ed25519 private key from its raw 32-byte seed."""
    if len(raw) != _ED25519_KEY_BYTES:
        raise ValueError(f"key {kid!r}: raw Ed25519 private key must be 32 bytes")
    return SigningKey(kid=kid, private_key=Ed25519PrivateKey.from_private_bytes(raw))


def private_key_pem(key: SigningKey, password: bytes | None = None) -> bytes:
    """Serialise a signing key as PKCS#8 PEM (encrypted when ``password`` is given)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def public_key_from_b64url(value: str) -> Ed25519PublicKey:
    """Parse a raw 32-byte Ed25519 public key written as unpadded base64url (a JWK ``x``)."""
    try:
        raw = _b64url_decode(value)
    except ValueError as exc:
        raise ValueError(f"public key: {exc}") from exc
    if len(raw) != _ED25519_KEY_BYTES:
        raise ValueError("public key: an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_jwk(key: SigningKey | VerifyKey) -> dict[str, str]:
    """The public JWK (RFC 8037 OKP) for a key; never contains private material."""
    public = key.private_key.public_key() if isinstance(key, SigningKey) else key.public_key
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url_encode(_raw_public(public)),
        "kid": key.kid,
        "alg": SIGNING_ALG,
        "use": "sig",
    }


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _check_kid(kid: object) -> None:
    if not isinstance(kid, str) or not kid or len(kid) > 128:
        raise ValueError(f"kid must be a non-empty string of at most 128 characters: {kid!r}")


# --- claims --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalClaims:
    """The verified content of an approval token.

    ``iat``/``exp`` are integer Unix seconds. ``sub`` is the approver's principal id *at the
    issuer*: count distinct approvers by ``(iss, sub)``. ``attest`` lists attestations the approver
    records (e.g. ``"external_confirmation"`` for a quoted outsider, Art. 17(2)). ``reason`` is the
    approver's free-text reason (mandatory for ``reject`` at the API, optional in the token).
    """

    iss: str
    sub: str
    role: str
    unit: str
    accounts: tuple[str, ...]
    content_sha256: str
    decision: Literal["approve", "reject"]
    iat: int
    exp: int
    jti: str
    name: str | None = None
    attest: tuple[str, ...] = ()
    reason: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """The JWT payload object (optional claims omitted when empty)."""
        payload: dict[str, Any] = {
            "iss": self.iss,
            "sub": self.sub,
            "role": self.role,
            "unit": self.unit,
            "accounts": list(self.accounts),
            "content_sha256": self.content_sha256,
            "decision": self.decision,
            "iat": self.iat,
            "exp": self.exp,
            "jti": self.jti,
        }
        if self.name is not None:
            payload["name"] = self.name
        if self.attest:
            payload["attest"] = list(self.attest)
        if self.reason is not None:
            payload["reason"] = self.reason
        return payload


def new_approval_claims(
    *,
    iss: str,
    sub: str,
    role: str,
    unit: str,
    accounts: tuple[str, ...],
    content_sha256: str,
    decision: Literal["approve", "reject"],
    now_s: float,
    lifetime_s: int = DEFAULT_LIFETIME_S,
    name: str | None = None,
    attest: tuple[str, ...] = (),
    reason: str | None = None,
) -> ApprovalClaims:
    """Claims for a token issued now: ``iat`` = ``now_s``, ``exp`` = ``iat + lifetime_s``, random
    128-bit ``jti``. Validated like a received token (``ValueError`` naming the claim)."""
    if lifetime_s <= 0:
        raise ValueError("lifetime_s must be positive")
    iat = int(now_s)
    claims = ApprovalClaims(
        iss=iss,
        sub=sub,
        role=role,
        unit=unit,
        accounts=tuple(accounts),
        content_sha256=content_sha256,
        decision=decision,
        iat=iat,
        exp=iat + lifetime_s,
        jti=secrets.token_urlsafe(16),
        name=name,
        attest=tuple(attest),
        reason=reason,
    )
    _checked_claims(claims)
    return claims


def _checked_claims(claims: ApprovalClaims) -> None:
    """Run the verifier's claim rules on claims about to be signed; ``ValueError`` if they fail."""
    try:
        _parse_claims(claims.to_payload())
    except TokenError as exc:
        raise ValueError(exc.message) from exc


def _parse_claims(payload: Mapping[str, Any]) -> ApprovalClaims:
    """Typed claims from a payload object, or ``TokenError('bad_claims')`` naming the claim."""

    def text(name: str, *, max_chars: int | None = None) -> str:
        value = payload.get(name)
        if not isinstance(value, str) or not value:
            raise TokenError("bad_claims", f"claim {name!r} must be a non-empty string")
        if max_chars is not None and len(value) > max_chars:
            raise TokenError("bad_claims", f"claim {name!r} longer than {max_chars} characters")
        return value

    def optional_text(name: str) -> str | None:
        return None if payload.get(name) is None else text(name)

    def integer(name: str) -> int:
        value = payload.get(name)
        # bool is an int subclass; JSON true must not pass as a timestamp.
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise TokenError("bad_claims", f"claim {name!r} must be a non-negative integer")
        return value

    def strings(name: str, *, required: bool) -> tuple[str, ...]:
        value = payload.get(name)
        if value is None and not required:
            return ()
        if not isinstance(value, list) or (required and not value):
            raise TokenError("bad_claims", f"claim {name!r} must be a non-empty list of strings")
        if not all(isinstance(item, str) and item for item in value):
            raise TokenError("bad_claims", f"claim {name!r} must hold non-empty strings")
        if len(set(value)) != len(value):
            raise TokenError("bad_claims", f"claim {name!r} has duplicate entries")
        return tuple(value)

    iss = text("iss")
    sub = text("sub")
    role = text("role")
    unit = text("unit")
    accounts = strings("accounts", required=True)
    digest = payload.get("content_sha256")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
        raise TokenError("bad_claims", "claim 'content_sha256' must be 64 lowercase hex digits")
    decision = payload.get("decision")
    if decision not in ("approve", "reject"):
        raise TokenError("bad_claims", "claim 'decision' must be 'approve' or 'reject'")
    iat = integer("iat")
    exp = integer("exp")
    if exp <= iat:
        raise TokenError("bad_claims", "claim 'exp' must be later than 'iat'")
    jti = text("jti", max_chars=_MAX_JTI_CHARS)
    name = optional_text("name")
    attest = strings("attest", required=False)
    reason = optional_text("reason")
    if "nbf" in payload:
        integer("nbf")
    return ApprovalClaims(
        iss=iss,
        sub=sub,
        role=role,
        unit=unit,
        accounts=accounts,
        content_sha256=digest,
        decision=decision,
        iat=iat,
        exp=exp,
        jti=jti,
        name=name,
        attest=attest,
        reason=reason,
    )


# --- sign / verify -------------------------------------------------------------------------------


def sign_approval(claims: ApprovalClaims, key: SigningKey) -> str:
    """Sign ``claims`` as a compact JWS with header ``{"alg":"EdDSA","kid":…,"typ":…}``.

    Header and payload are canonical JSON (sorted keys, no whitespace), so the same claims and key
    always give the same token. Raises ``ValueError`` if the claims would not pass verification.
    """
    _checked_claims(claims)
    header = {"alg": SIGNING_ALG, "typ": TOKEN_TYP, "kid": key.kid}
    signing_input = (
        _b64url_encode(canonical_json(header))
        + "."
        + _b64url_encode(canonical_json(claims.to_payload()))
    )
    signature = key.private_key.sign(signing_input.encode("ascii"))
    token = signing_input + "." + _b64url_encode(signature)
    if len(token) > MAX_TOKEN_BYTES:
        raise ValueError(f"token would exceed {MAX_TOKEN_BYTES} bytes; shorten the claims")
    return token


def verify_approval(
    token: str,
    ring: KeyRing,
    *,
    now: float,
    leeway_s: int = 60,
    max_lifetime_s: int | None = None,
) -> ApprovalClaims:
    """Verify an approval token and return its claims, or raise :class:`TokenError`.

    ``now`` is Unix seconds (the caller's clock, injected for testability). ``leeway_s`` tolerates
    clock skew between issuer and gateway: a token is expired once ``now >= exp + leeway_s`` and
    not yet valid while ``iat > now + leeway_s`` (same for ``nbf`` when present). A retired key's
    ``not_after`` is our own configuration and gets no leeway. ``max_lifetime_s``, when given,
    caps ``exp - iat`` (``bad_claims``): an external issuer cannot mint year-long approvals.

    Does not check content hash, accounts, approver identity or ``jti`` replay: the gateway does,
    with the returned claims.
    """
    if leeway_s < 0:
        raise ValueError("leeway_s must not be negative")

    # 1. structure
    header_b64, payload_b64, signature_b64 = _split(token)
    header = _decode_json_object(header_b64, "header")
    payload = _decode_json_object(payload_b64, "payload")
    signature = _decode_segment(signature_b64, "signature")

    # 2. header: alg, typ, crit, then only known parameters, then kid
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ACCEPTED_ALGS:
        raise TokenError("bad_alg", f"alg {alg!r} is not accepted (only EdDSA / Ed25519)")
    typ = header.get("typ")
    if typ != TOKEN_TYP:
        raise TokenError("bad_typ", f"typ {typ!r} is not {TOKEN_TYP!r}")
    if "crit" in header:
        raise TokenError("crit", "critical header extensions are not supported")
    unknown = sorted(set(header) - _HEADER_PARAMS)
    if unknown:
        raise TokenError("malformed", f"header parameters not allowed: {', '.join(unknown)}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("unknown_kid", "header has no kid")
    key = ring.verify.get(kid)
    if key is None:
        raise TokenError("unknown_kid", f"no trusted key with kid {kid!r}")

    # 3. signature, over the exact ASCII text of the first two segments
    if len(signature) != _ED25519_SIGNATURE_BYTES:
        raise TokenError("bad_signature", "an Ed25519 signature is 64 bytes")
    try:
        key.public_key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
    except InvalidSignature:
        raise TokenError("bad_signature", f"signature does not verify under kid {kid!r}") from None

    # 4. claims, and the authority the key entry grants
    claims = _parse_claims(payload)
    if claims.iss != key.issuer:
        raise TokenError(
            "issuer_mismatch", f"iss {claims.iss!r} may not use kid {kid!r} (issuer {key.issuer!r})"
        )
    if max_lifetime_s is not None and claims.exp - claims.iat > max_lifetime_s:
        raise TokenError("bad_claims", f"claim 'exp' gives a lifetime above {max_lifetime_s} s")
    if key.roles is not None and claims.role not in key.roles:
        raise TokenError(
            "role_not_allowed", f"issuer {key.issuer!r} may not assert role {claims.role!r}"
        )

    # 5. time
    if key.not_after is not None and now >= key.not_after.timestamp():
        raise TokenError("retired_key", f"kid {kid!r} retired at {key.not_after.isoformat()}")
    if now >= claims.exp + leeway_s:
        raise TokenError("expired", f"token expired at {claims.exp}")
    if claims.iat > now + leeway_s:
        raise TokenError("not_yet_valid", f"token issued in the future (iat {claims.iat})")
    nbf = payload.get("nbf")
    if isinstance(nbf, int) and nbf > now + leeway_s:
        raise TokenError("not_yet_valid", f"token not valid before {nbf}")
    return claims


def _split(token: object) -> tuple[str, str, str]:
    """The three segments of a compact JWS, after size and alphabet checks."""
    if not isinstance(token, str):
        raise TokenError("malformed", "token must be a string")
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError("malformed", f"token longer than {MAX_TOKEN_BYTES} bytes")
    if not token.isascii():
        raise TokenError("malformed", "token contains non-ASCII characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed", f"token has {len(parts)} segments, expected 3")
    if not parts[0] or not parts[1]:
        raise TokenError("malformed", "token has an empty header or payload")
    return parts[0], parts[1], parts[2]


def _decode_segment(segment: str, what: str) -> bytes:
    try:
        return _b64url_decode(segment)
    except ValueError as exc:
        raise TokenError("malformed", f"{what}: {exc}") from None


def _decode_json_object(segment: str, what: str) -> dict[str, Any]:
    raw = _decode_segment(segment, what)
    try:
        text = raw.decode("utf-8")
        value = _loads(text)
        # Lone surrogates (\ud800 escapes) are valid JSON text but not Unicode; refuse them.
        # Strict UTF-8 decoding let none through, so only a \u escape can make one.
        if "\\u" in text:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except TokenError:
        raise
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise TokenError("malformed", f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TokenError("malformed", f"{what} is not a JSON object")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise TokenError("malformed", f"duplicate JSON member {name!r}")
        result[name] = value
    return result


def _no_constants(name: str) -> Any:
    raise TokenError("malformed", f"JSON constant {name} is not allowed")


# json.loads with hooks builds a decoder on every call; this one is built once (a token has
# two JSON segments, a publish presents several tokens). _loads keeps json.loads's BOM check.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def _loads(text: str) -> Any:
    """``json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)``."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(segment: str) -> bytes:
    """Strict RFC 7515 base64url: no padding, no whitespace, canonical.

    Re-encoding must give back exactly ``segment``; this rejects encodings whose unused trailing
    bits are set (``...Q`` vs ``...R``), so one signature has exactly one textual form.
    """
    if not _B64URL.fullmatch(segment):
        raise ValueError("not unpadded base64url")
    if len(segment) % 4 == 1:
        raise ValueError("impossible base64url length")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if _b64url_encode(raw) != segment:
        raise ValueError("non-canonical base64url")
    return raw
