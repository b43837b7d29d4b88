"""Tests for gateway/jws.py: every verification rule has its own test and its own reason code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.jws import (
    DEFAULT_LIFETIME_S,
    MAX_TOKEN_BYTES,
    TOKEN_ERROR_CODES,
    TOKEN_TYP,
    ApprovalClaims,
    KeyRing,
    SigningKey,
    TokenError,
    VerifyKey,
    generate_signing_key,
    load_private_key_pem,
    load_private_key_raw,
    new_approval_claims,
    private_key_pem,
    public_jwk,
    public_key_from_b64url,
    sign_approval,
    verify_approval,
)

GATEWAY_ISS = "mediagate"
OA_ISS = "https://oa.example.com"
NOW_S = 1_795_000_000  # 2026-11-18, a fixed clock
RETIRED_UNTIL = datetime.fromtimestamp(NOW_S + 3600, tz=UTC)
DIGEST = hashlib.sha256(b"post").hexdigest()

CURRENT = load_private_key_raw("gw-2026-11", bytes(range(32)))
RETIRED = load_private_key_raw("gw-2026-05", bytes(range(1, 33)))
OA = load_private_key_raw("oa-1", bytes(range(2, 34)))
STRANGER = load_private_key_raw("gw-2026-11", bytes(range(3, 35)))  # same kid, other key

RING = KeyRing(
    signing=CURRENT,
    verify={
        "gw-2026-11": CURRENT.verify_key(GATEWAY_ISS),
        "gw-2026-05": RETIRED.verify_key(GATEWAY_ISS, not_after=RETIRED_UNTIL),
        "oa-1": OA.verify_key(OA_ISS, roles=frozenset({"unit_head", "leader"})),
    },
)


def _claims(**changes: Any) -> ApprovalClaims:
    base = ApprovalClaims(
        iss=GATEWAY_ISS,
        sub="u-zhang",
        role="unit_head",
        unit="retail",
        accounts=("wechat-retail",),
        content_sha256=DIGEST,
        decision="approve",
        iat=NOW_S,
        exp=NOW_S + DEFAULT_LIFETIME_S,
        jti="jti-0001",
        name="张伟",
    )
    return replace(base, **changes)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _forge(
    header: dict[str, Any] | str,
    payload: dict[str, Any] | str,
    key: SigningKey | None = CURRENT,
    signature: bytes | None = None,
) -> str:
    """Build a token with arbitrary header/payload (JSON dicts or raw JSON text)."""
    h = header if isinstance(header, str) else json.dumps(header)
    p = payload if isinstance(payload, str) else json.dumps(payload)
    signing_input = _b64(h.encode()) + "." + _b64(p.encode())
    if signature is None:
        assert key is not None
        signature = key.private_key.sign(signing_input.encode())
    return signing_input + "." + _b64(signature)


def _header(**changes: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": "EdDSA", "typ": TOKEN_TYP, "kid": "gw-2026-11"}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not ...}


def _reject(token: str, code: str, *, now: float = NOW_S, ring: KeyRing = RING) -> TokenError:
    with pytest.raises(TokenError) as info:
        verify_approval(token, ring, now=now)
    assert info.value.code == code, info.value
    return info.value


# --- happy paths ---------------------------------------------------------------------------------


def test_round_trip_returns_the_signed_claims() -> None:
    claims = _claims(attest=("external_confirmation",), reason="ok")
    assert verify_approval(sign_approval(claims, CURRENT), RING, now=NOW_S) == claims


def test_header_is_exactly_alg_typ_kid() -> None:
    token = sign_approval(_claims(), CURRENT)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "EdDSA", "typ": "mediagate-approval+jwt", "kid": "gw-2026-11"}


def test_signing_is_deterministic() -> None:
    assert sign_approval(_claims(), CURRENT) == sign_approval(_claims(), CURRENT)


def test_rfc9864_ed25519_alg_is_accepted() -> None:
    token = _forge(_header(alg="Ed25519"), _claims().to_payload())
    assert verify_approval(token, RING, now=NOW_S) == _claims()


def test_external_oa_issuer_with_allowed_role_verifies() -> None:
    claims = _claims(iss=OA_ISS, role="leader")
    assert verify_approval(sign_approval(claims, OA), RING, now=NOW_S) == claims


def test_unknown_claims_are_ignored() -> None:
    payload = {**_claims().to_payload(), "x-oa-ticket": "T-1"}
    assert verify_approval(_forge(_header(), payload), RING, now=NOW_S) == _claims()


# --- one test per rule ---------------------------------------------------------------------------


def test_bad_signature_from_another_key_with_the_same_kid() -> None:
    _reject(sign_approval(_claims(), STRANGER), "bad_signature")


def test_bad_signature_when_payload_swapped() -> None:
    good = sign_approval(_claims(), CURRENT).split(".")
    other = sign_approval(_claims(role="leader"), CURRENT).split(".")
    _reject(".".join([good[0], other[1], good[2]]), "bad_signature")


def test_bad_signature_of_wrong_length() -> None:
    _reject(_forge(_header(), _claims().to_payload(), signature=b"\x00" * 63), "bad_signature")


def test_all_zero_signature_rejected() -> None:
    _reject(_forge(_header(), _claims().to_payload(), signature=b"\x00" * 64), "bad_signature")


@pytest.mark.parametrize(
    "alg", ["none", "None", "NONE", "HS256", "ES256", "RS256", "", None, ["EdDSA"]]
)
def test_bad_alg(alg: Any) -> None:
    header = _header(alg=alg) if alg is not None else _header(alg=...)
    _reject(_forge(header, _claims().to_payload(), signature=b""), "bad_alg")
    _reject(_forge(header, _claims().to_payload()), "bad_alg")


@pytest.mark.parametrize(
    "secret",
    [
        CURRENT.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        ),
        CURRENT.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public_jwk(CURRENT)["x"].encode(),
        json.dumps(public_jwk(CURRENT)).encode(),
    ],
    ids=["raw", "pem", "jwk-x", "jwk-json"],
)
def test_hs256_with_public_key_as_hmac_secret_is_rejected(secret: bytes) -> None:
    """The classic alg-confusion attack: HMAC keyed with the (public) verification key."""
    h = _b64(json.dumps(_header(alg="HS256")).encode())
    p = _b64(json.dumps(_claims(role="leader").to_payload()).encode())
    mac = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
    _reject(f"{h}.{p}.{_b64(mac)}", "bad_alg")


@pytest.mark.parametrize(
    "typ", ["JWT", "jwt", "application/mediagate-approval+jwt", "MEDIAGATE-APPROVAL+JWT", 1, ...]
)
def test_bad_typ(typ: Any) -> None:
    _reject(_forge(_header(typ=typ), _claims().to_payload()), "bad_typ")


@pytest.mark.parametrize("crit", [["exp"], [], ["b64"], "b64"])
def test_any_crit_header_rejected(crit: Any) -> None:
    header = _header(crit=crit)
    if crit == ["b64"]:
        header["b64"] = False
    _reject(_forge(header, _claims().to_payload()), "crit")


@pytest.mark.parametrize("param", ["jku", "jwk", "x5u", "x5c", "cty", "b64", "zip"])
def test_unknown_header_parameters_rejected(param: str) -> None:
    err = _reject(_forge(_header(**{param: "x"}), _claims().to_payload()), "malformed")
    assert param in err.message


def test_unknown_kid() -> None:
    err = _reject(_forge(_header(kid="gw-2025-01"), _claims().to_payload()), "unknown_kid")
    assert "gw-2025-01" in err.message


@pytest.mark.parametrize("kid", [..., "", 7, None])
def test_missing_or_mistyped_kid(kid: Any) -> None:
    _reject(_forge(_header(kid=kid), _claims().to_payload()), "unknown_kid")


def test_expiry_edges_with_60s_leeway() -> None:
    token = sign_approval(_claims(), CURRENT)
    exp = _claims().exp
    assert verify_approval(token, RING, now=exp + 59) == _claims()
    assert verify_approval(token, RING, now=exp + 59.999) == _claims()
    _reject(token, "expired", now=exp + 60)
    _reject(token, "expired", now=exp + 61)
    with pytest.raises(TokenError, match="expired"):
        verify_approval(token, RING, now=exp, leeway_s=0)


def test_not_yet_valid_edges_with_60s_leeway() -> None:
    token = sign_approval(_claims(iat=NOW_S + 60, exp=NOW_S + 3600), CURRENT)
    assert verify_approval(token, RING, now=NOW_S).iat == NOW_S + 60
    _reject(token, "not_yet_valid", now=NOW_S - 1)
    _reject(token, "not_yet_valid", now=NOW_S - 0.5)


def test_nbf_in_the_future_is_not_yet_valid() -> None:
    payload = {**_claims().to_payload(), "nbf": NOW_S + 120}
    token = _forge(_header(), payload)
    _reject(token, "not_yet_valid")
    assert verify_approval(token, RING, now=NOW_S + 60) == _claims()


def test_retired_key_verifies_until_not_after_then_not() -> None:
    token = _forge(_header(kid="gw-2026-05"), _claims().to_payload(), key=RETIRED)
    assert verify_approval(token, RING, now=NOW_S) == _claims()
    assert verify_approval(token, RING, now=RETIRED_UNTIL.timestamp() - 1) == _claims()
    _reject(token, "retired_key", now=RETIRED_UNTIL.timestamp())
    _reject(token, "retired_key", now=RETIRED_UNTIL.timestamp() + 10)


def test_issuer_mismatch_oa_key_claiming_gateway_issuer() -> None:
    token = _forge(_header(kid="oa-1"), _claims(iss=GATEWAY_ISS).to_payload(), key=OA)
    _reject(token, "issuer_mismatch")


def test_issuer_mismatch_gateway_key_claiming_oa_issuer() -> None:
    _reject(sign_approval(_claims(iss=OA_ISS), CURRENT), "issuer_mismatch")


def test_issuer_compared_exactly() -> None:
    for iss in (OA_ISS + "/", OA_ISS.upper(), "https://oa.example.com.evil"):
        _reject(sign_approval(_claims(iss=iss, role="leader"), OA), "issuer_mismatch")


def test_array_valued_iss_is_bad_claims() -> None:
    payload = {**_claims(iss=OA_ISS).to_payload(), "iss": [OA_ISS]}
    _reject(_forge(_header(kid="oa-1"), payload, key=OA), "bad_claims")


def test_role_not_allowed_for_external_issuer() -> None:
    err = _reject(sign_approval(_claims(iss=OA_ISS, role="brand_pr"), OA), "role_not_allowed")
    assert "brand_pr" in err.message


_REQUIRED = (
    "iss",
    "sub",
    "role",
    "unit",
    "accounts",
    "content_sha256",
    "decision",
    "iat",
    "exp",
    "jti",
)


@pytest.mark.parametrize("claim", _REQUIRED)
def test_missing_claim_is_bad_claims_naming_it(claim: str) -> None:
    payload = _claims().to_payload()
    del payload[claim]
    err = _reject(_forge(_header(), payload), "bad_claims")
    assert repr(claim) in err.message


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", ""),
        ("sub", 42),
        ("role", None),
        ("accounts", []),
        ("accounts", "wechat-retail"),
        ("accounts", ["a", ""]),
        ("accounts", ["a", "a"]),
        ("accounts", ["a", 1]),
        ("content_sha256", DIGEST.upper()),
        ("content_sha256", DIGEST[:-1]),
        ("content_sha256", "sha256:" + DIGEST),
        ("decision", "maybe"),
        ("decision", True),
        ("iat", "1795000000"),
        ("iat", True),
        ("iat", float(NOW_S)),
        ("iat", -1),
        ("exp", NOW_S),  # exp must be after iat
        ("exp", None),
        ("jti", "x" * 129),
        ("jti", ""),
        ("name", 5),
        ("attest", "external_confirmation"),
        ("attest", [1]),
        ("reason", ""),
        ("nbf", "soon"),
    ],
)
def test_mistyped_claim_is_bad_claims_naming_it(claim: str, value: Any) -> None:
    payload = {**_claims().to_payload(), claim: value}
    err = _reject(_forge(_header(), payload), "bad_claims")
    assert repr(claim) in err.message


# --- structure (malformed) -----------------------------------------------------------------------


def _good() -> str:
    return sign_approval(_claims(), CURRENT)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        _good() + ".",
        "." + _good(),
        ".." + _good().split(".")[2],
        _good() + "=",
        _good().replace(".", "=.", 1),
        _good().replace(".", ".=", 1),
        " " + _good(),
        _good() + "\n",
        _good()[:20] + " " + _good()[20:],
        _good()[:20] + "+" + _good()[21:],
        _good()[:20] + "é" + _good()[21:],
        _good().replace("-", "+").replace("_", "/") if ("-" in _good() or "_" in _good()) else "x",
        "a" * (MAX_TOKEN_BYTES + 1),
    ],
)
def test_malformed_structure(token: str) -> None:
    _reject(token, "malformed")


def test_oversized_token_rejected_before_decoding() -> None:
    payload = {**_claims().to_payload(), "x": "y" * MAX_TOKEN_BYTES}
    err = _reject(_forge(_header(), payload), "malformed")
    assert str(MAX_TOKEN_BYTES) in err.message


def test_non_string_token_rejected() -> None:
    with pytest.raises(TokenError) as info:
        verify_approval(b"a.b.c", RING, now=NOW_S)  # type: ignore[arg-type]
    assert info.value.code == "malformed"


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        ("not json", None),
        ('["alg"]', None),
        ('"EdDSA"', None),
        ('{"alg":"EdDSA","alg":"none","typ":"' + TOKEN_TYP + '","kid":"gw-2026-11"}', None),
        (None, "[]"),
        (None, "null"),
        (None, '{"exp": NaN}'),
        (None, '{"exp": Infinity}'),
        (None, '{"sub":"a","sub":"b"}'),
        (None, '{"sub":"\\ud800"}'),
        (None, '{"sub":"\\uDFFF"}'),  # upper-case escape, low surrogate
        (None, '{"\\ud83d":"key"}'),  # in a key
        (None, '{"attest":["ok","\\u0041\\ud800"]}'),  # nested, after a harmless escape
        (None, '{"sub":"a"'),
        (None, "[" * 2000 + "]" * 2000),
    ],
)
def test_malformed_json(header: str | None, payload: str | None) -> None:
    h = header if header is not None else json.dumps(_header())
    p = payload if payload is not None else json.dumps(_claims().to_payload())
    _reject(_forge(h, p), "malformed")


@pytest.mark.parametrize("raw", [b'{"sub":"\xff"}', b'{"sub":"\xed\xa0\x80"}'])
def test_payload_not_utf8_is_malformed(raw: bytes) -> None:
    # \xed\xa0\x80 is a surrogate encoded as if it were a character: not UTF-8 either
    h = _b64(json.dumps(_header()).encode())
    p = _b64(raw)
    sig = CURRENT.private_key.sign(f"{h}.{p}".encode())
    _reject(f"{h}.{p}.{_b64(sig)}", "malformed")


def test_non_canonical_signature_encoding_rejected() -> None:
    """64 bytes → 86 base64url chars whose last char carries 4 unused bits. Setting them changes
    the text but not the decoded signature: such a twin must be refused (no malleability)."""
    token = _good()
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin_char = alphabet[alphabet.index(last) | 0b0001]
    if twin_char == last:
        twin_char = alphabet[alphabet.index(last) ^ 0b0010]
    twin = token[:-1] + twin_char
    assert base64.urlsafe_b64decode(twin.split(".")[2] + "==") == base64.urlsafe_b64decode(
        token.split(".")[2] + "=="
    )
    _reject(twin, "malformed")


# --- order of checks -----------------------------------------------------------------------------


def test_alg_checked_before_kid() -> None:
    _reject(
        _forge(_header(alg="none", kid="nope"), _claims().to_payload(), signature=b""), "bad_alg"
    )


def test_typ_checked_before_crit() -> None:
    _reject(_forge(_header(typ="JWT", crit=["exp"]), _claims().to_payload()), "bad_typ")


def test_crit_checked_before_kid() -> None:
    _reject(_forge(_header(crit=["exp"], kid="nope"), _claims().to_payload()), "crit")


def test_signature_checked_before_claims() -> None:
    # A forger cannot learn anything about claim validation without a valid signature.
    _reject(_forge(_header(), {"junk": 1}, key=STRANGER), "bad_signature")


def test_claims_checked_before_time() -> None:
    token = _forge(_header(kid="oa-1"), _claims(iss=GATEWAY_ISS).to_payload(), key=OA)
    _reject(token, "issuer_mismatch", now=NOW_S + 10 * DEFAULT_LIFETIME_S)


def test_every_error_code_is_distinct_and_exercised() -> None:
    """Pins the public set of codes (the HTTP layer maps them into problem+json)."""
    assert len(set(TOKEN_ERROR_CODES)) == len(TOKEN_ERROR_CODES) == 12
    assert set(TOKEN_ERROR_CODES) == {
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
    }


# --- property tests ------------------------------------------------------------------------------

_TOKEN = sign_approval(_claims(), CURRENT)
_ANY_CHAR = st.one_of(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \t\n"),
    st.characters(exclude_categories=["Cs"]),
)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    op=st.sampled_from(["flip", "insert", "delete"]),
    pos=st.integers(min_value=0, max_value=len(_TOKEN)),
    char=_ANY_CHAR,
)
def test_any_single_mutation_of_a_token_is_rejected(op: str, pos: int, char: str) -> None:
    if op == "insert":
        mutated = _TOKEN[:pos] + char + _TOKEN[pos:]
    else:
        pos = min(pos, len(_TOKEN) - 1)
        if op == "delete":
            mutated = _TOKEN[:pos] + _TOKEN[pos + 1 :]
        else:
            if char == _TOKEN[pos]:
                return
            mutated = _TOKEN[:pos] + char + _TOKEN[pos + 1 :]
    with pytest.raises(TokenError):
        verify_approval(mutated, RING, now=NOW_S)


@settings(max_examples=300, deadline=None)
@given(
    segment=st.integers(min_value=0, max_value=2),
    pad=st.sampled_from(["=", "==", " ", "\n", "\t", "\r\n"]),
    where=st.sampled_from(["start", "end"]),
)
def test_reencoded_variants_are_rejected(segment: int, pad: str, where: str) -> None:
    parts = _TOKEN.split(".")
    parts[segment] = pad + parts[segment] if where == "start" else parts[segment] + pad
    with pytest.raises(TokenError) as info:
        verify_approval(".".join(parts), RING, now=NOW_S)
    assert info.value.code == "malformed"


@settings(max_examples=200, deadline=None)
@given(
    role=st.text(min_size=1, max_size=20),
    sub=st.text(min_size=1, max_size=20),
    accounts=st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=4, unique=True),
    lifetime_s=st.integers(min_value=1, max_value=10 * 24 * 3600),
)
def test_issued_tokens_round_trip(
    role: str, sub: str, accounts: list[str], lifetime_s: int
) -> None:
    claims = _claims(role=role, sub=sub, accounts=tuple(accounts), exp=NOW_S + lifetime_s)
    assert verify_approval(sign_approval(claims, CURRENT), RING, now=NOW_S) == claims


# --- keys, ring and claim construction -----------------------------------------------------------


def test_generate_and_pem_round_trip() -> None:
    key = generate_signing_key("k1")
    for password in (None, b"s3cret"):
        loaded = load_private_key_pem("k1", private_key_pem(key, password), password)
        assert public_jwk(loaded) == public_jwk(key)


def test_load_pem_of_other_key_type_rejected() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="Ed25519"):
        load_private_key_pem("k1", pem)


def test_load_raw_wrong_length_rejected() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        load_private_key_raw("k1", b"\x00" * 31)


def test_public_jwk_has_no_private_part_and_round_trips() -> None:
    jwk = public_jwk(CURRENT)
    assert set(jwk) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["crv"], jwk["kid"]) == ("OKP", "Ed25519", "gw-2026-11")
    vk = VerifyKey(kid="gw-2026-11", public_key=public_key_from_b64url(jwk["x"]), issuer="i")
    assert public_jwk(vk) == jwk


@pytest.mark.parametrize("bad", ["", "AAAA", public_jwk(CURRENT)["x"] + "=", "@" * 43])
def test_public_key_from_b64url_is_strict(bad: str) -> None:
    with pytest.raises(ValueError, match="public key"):
        public_key_from_b64url(bad)


def test_signing_key_repr_hides_private_key() -> None:
    assert "private_key" not in repr(CURRENT)


def test_key_ring_validation() -> None:
    with pytest.raises(ValueError, match="holds a key with kid"):
        KeyRing(signing=CURRENT, verify={"other": CURRENT.verify_key("i")})
    with pytest.raises(ValueError, match="not in verify"):
        KeyRing(signing=CURRENT, verify={"oa-1": OA.verify_key(OA_ISS)})
    with pytest.raises(ValueError, match="another key"):
        KeyRing(signing=CURRENT, verify={"gw-2026-11": STRANGER.verify_key("i")})
    with pytest.raises(TypeError):
        RING.verify["x"] = OA.verify_key(OA_ISS)  # type: ignore[index]


def test_verify_key_validation() -> None:
    public = OA.private_key.public_key()
    with pytest.raises(ValueError, match="timezone-aware"):
        VerifyKey(kid="k", public_key=public, issuer="i", not_after=datetime(2027, 1, 1))
    with pytest.raises(ValueError, match="issuer"):
        VerifyKey(kid="k", public_key=public, issuer="")
    with pytest.raises(ValueError, match="kid"):
        VerifyKey(kid="", public_key=public, issuer="i")
    with pytest.raises(ValueError, match="Ed25519"):
        SigningKey(kid="k", private_key=Ed25519PrivateKey.generate().public_key())  # type: ignore[arg-type]
    aware = VerifyKey(
        kid="k", public_key=public, issuer="i", not_after=datetime.now(UTC) + timedelta(days=1)
    )
    assert aware.roles is None


def test_new_approval_claims_defaults() -> None:
    a = new_approval_claims(
        iss=GATEWAY_ISS,
        sub="u-li",
        role="brand_pr",
        unit="hq",
        accounts=("weibo-hq",),
        content_sha256=DIGEST,
        decision="reject",
        now_s=NOW_S + 0.7,
        reason="数据未核实",
    )
    b = replace(a, jti="other")
    assert a.iat == NOW_S and a.exp == NOW_S + 72 * 3600
    assert len(a.jti) >= 22 and a.jti != new_approval_claims(**_kwargs(a)).jti
    assert verify_approval(sign_approval(a, CURRENT), RING, now=NOW_S) == a
    assert a != b


def _kwargs(c: ApprovalClaims) -> dict[str, Any]:
    return {
        "iss": c.iss,
        "sub": c.sub,
        "role": c.role,
        "unit": c.unit,
        "accounts": c.accounts,
        "content_sha256": c.content_sha256,
        "decision": c.decision,
        "now_s": c.iat,
    }


def test_new_approval_claims_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="content_sha256"):
        new_approval_claims(**{**_kwargs(_claims()), "content_sha256": "x"})
    with pytest.raises(ValueError, match="lifetime_s"):
        new_approval_claims(**_kwargs(_claims()), lifetime_s=0)


def test_sign_refuses_invalid_claims() -> None:
    with pytest.raises(ValueError, match="accounts"):
        sign_approval(_claims(accounts=()), CURRENT)
    with pytest.raises(ValueError, match=str(MAX_TOKEN_BYTES)):
        sign_approval(_claims(reason="x" * MAX_TOKEN_BYTES), CURRENT)


def test_max_lifetime_caps_exp_minus_iat() -> None:
    token = sign_approval(_claims(exp=NOW_S + 3600), CURRENT)
    assert verify_approval(token, RING, now=NOW_S, max_lifetime_s=3600).exp == NOW_S + 3600
    with pytest.raises(TokenError) as info:
        verify_approval(token, RING, now=NOW_S, max_lifetime_s=3599)
    assert info.value.code == "bad_claims"
    assert "'exp'" in info.value.message


def test_negative_leeway_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="leeway_s"):
        verify_approval(_good(), RING, now=NOW_S, leeway_s=-1)
