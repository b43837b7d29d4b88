"""Every request body and query of the API, defined once.

Handlers parse with these (:func:`gateway.api.common.parsed_body`, ``parsed_query``) and the
OpenAPI document (:mod:`gateway.openapi`) is written from them, so a limit the server enforces
is a limit the document declares. Limits that come from settings (text length, image count and
size) and enums that come from the policy (units) make the definitions a function of both.
A route names its body and query by the keys used here (``Route.request``, ``Route.query``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, get_args

from connectors.base import INTERACTION_KINDS
from gateway.accounts import ACCOUNT_ID_RE, AccountState
from gateway.approvals import MAX_TOKENS
from gateway.desk.model import SUBMISSION_STATES
from gateway.errors import PayloadTooLarge, field_error
from gateway.hub.campaigns import MAX_ACCOUNTS as MAX_CAMPAIGN_ACCOUNTS
from gateway.hub.campaigns import MAX_UNITS
from gateway.hub.materials import (
    FILE_TYPES,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_IMAGES,
    MAX_NOTE_CHARS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
)
from gateway.jobs import STATES
from gateway.postmodel import IMAGE_TYPES, post_type
from gateway.requirements import EXTERNAL_CONFIRMATION
from gateway.schema import Array, Field, Int, Map, Obj, OneOf, Ref, Str, Type, When
from gateway.settings import POST_CATEGORIES, ROLES, LimitSettings
from gateway.vault import FIELD_NAME_CHARS, MAX_FIELDS, MAX_VALUE_CHARS
from gateway.watch.actions import MAX_LIST as MAX_ALERTS
from gateway.watch.actions import MAX_NOTE_CHARS as MAX_ALERT_NOTE
from gateway.watch.alerts import ALERT_KINDS, ALERT_STATES

ACCOUNT_ID = Str(
    63,
    pattern=ACCOUNT_ID_RE.pattern,
    pattern_message="lower-case letters, digits, '-' and '_', 2-63 characters",
)
# An account named in a request: shaped like an account id (404 when no such account exists).
ACCOUNT_REF = ACCOUNT_ID
# The Idempotency-Key header of a publish: visible ASCII, bounded (it becomes part of a key).
IDEMPOTENCY_KEY = Str(
    200,
    pattern=r"^[!-~]{1,200}$",
    pattern_message="1 to 200 visible ASCII characters",
)
PLATFORM = Str(
    32,
    pattern=r"^[a-z][a-z0-9_]{1,31}$",
    pattern_message="must be a platform name such as wechat, weibo, wordpress",
)
TOKEN = Str(8192, min_chars=1, description="a compact JWS approval token")
TERM = Str(64, min_chars=1)
# A new term: at least two characters, no control characters (screening.lexicon's rules; the
# one no schema can say, a term that normalises to one character, answers 422).
NEW_TERM = Str(
    64, min_chars=2, pattern=r"^[^\x00-\x1f\x7f]*$", pattern_message="control characters"
)
MAX_TERMS_PER_CALL = 5_000
SEVERITIES = ("low", "medium", "high", "critical")
TERM_ACTIONS = ("block", "review", "warn")
ACCOUNT_STATES: tuple[str, ...] = get_args(AccountState)
MAX_ANCHORS = 50  # keeps the request line under the HTTP parser's 8 KiB
# Connector settings that look like credentials belong in the vault.
_CREDENTIAL_WORDS = "|".join(
    "".join(f"[{c.lower()}{c.upper()}]" for c in word)
    for word in ("secret", "password", "token", "key")
)
_SETTING = OneOf(
    ("string", "number", "boolean", "array"),
    max_chars=2000,
    max_items=50,
    message="must be a string, number, boolean or a short list of them",
)

MAX_SUBMISSION_ACCOUNTS = 50
# The shape of standard base64 (padding included), not empty: what ``b64decode(validate=True)``
# accepts and a schema can say.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$"


@dataclass(frozen=True)
class DateTime(Type):
    """An RFC 3339 date-time with an offset (``publish_at``, a campaign's ``due_at``); parses
    to a POSIX timestamp."""

    description: str = ""

    def parse(self, value: Any, where: str) -> float:
        raw = Str(64).parse(value, where)
        try:
            when = datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", raw.strip()))
        except ValueError:
            raise field_error(where, "must be an RFC 3339 date-time") from None
        if when.tzinfo is None:
            raise field_error(where, "needs a time zone offset (RFC 3339), e.g. +08:00")
        return when.timestamp()

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "format": "date-time", "maxLength": 64}
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Base64(Type):
    """Base64 of at most ``max_bytes`` bytes (kept as sent): longer answers 413, as any too
    large upload does; not base64 answers 422."""

    max_bytes: int

    @property
    def max_chars(self) -> int:
        return -(-self.max_bytes // 3) * 4

    def parse(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise field_error(where, f"must be a string, not {type(value).__name__}")
        if not value:
            raise field_error(where, "is empty")
        if len(value) > self.max_chars:
            raise PayloadTooLarge(
                f"{where}: more than {self.max_bytes} bytes",
                errors=[{"field": where, "message": "too large"}],
                limit_bytes=self.max_bytes,
            )
        if not re.fullmatch(BASE64, value):
            raise field_error(where, "must be base64")
        return value

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "maxLength": self.max_chars,
            "pattern": BASE64,
            "contentEncoding": "base64",
        }


def _attachment(types: tuple[str, ...], max_bytes: int) -> Obj:
    return Obj(
        {
            "filename": Field(Str(200, min_chars=1), required=True),
            "content_type": Field(Str(128, choices=types), required=True),
            "data": Field(Base64(max_bytes), required=True),
        }
    )


EXAMPLE_POST = {
    "title": "集团召开年度品牌工作会议",
    "digest": "会议总结了本年度品牌建设成果",
    "author": "品牌公关部",
    "content": "<p>集团于本周召开年度品牌工作会议，总结全年品牌建设工作。</p>",
    "source": "集团品牌公关部",
    "category": "news",
}
EXAMPLE_ACCOUNT = "east-weibo"


# --- interactions (docs/interactions.md) ---------------------------------------------------
MAX_INTERACTION_TEXT_CHARS = 5000  # the gateway's bound; each platform's own is smaller
_ITEM_ID = Str(
    64,
    pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
    pattern_message="letters, digits, '_', '.', ':' and '-', 1-64 characters",
)
INTERACTION_TARGET = Obj(
    {
        "post": Field(Str(64, min_chars=1), description="gateway id of a published post"),
        "platform_id": Field(_ITEM_ID, description="or the platform's id of the item"),
        "comment_id": Field(_ITEM_ID, description="the comment replied to"),
        "msg_data_id": Field(
            Str(20, pattern=r"^[0-9]{1,20}$", pattern_message="digits"),
            description="WeChat: the msg_data_id of the article's message",
        ),
        "index": Field(Int(0, 7), description="WeChat: the article in the message, from 0"),
    },
    description="what the interaction acts on; its fields depend on the kind and platform",
)
EXAMPLE_INTERACTION = {
    "account": EXAMPLE_ACCOUNT,
    "kind": "comment",
    "target": {"platform_id": "4900000000000001"},
    "text": "感谢大家的关注！",
}


def _interaction_fields() -> dict[str, Field]:
    return {
        "account": Field(ACCOUNT_REF, required=True),
        "kind": Field(Str(16, choices=INTERACTION_KINDS), required=True),
        "target": Field(INTERACTION_TARGET, required=True),
        "text": Field(
            Str(MAX_INTERACTION_TEXT_CHARS),
            description="required for comment, reply and repost; none for the switches",
        ),
    }


_TEXT_RULE = When("kind", ("comment", "reply", "repost"), ("text",))


def _interaction_bodies() -> dict[str, Obj]:
    return {
        "InteractionRequest": Obj(
            {**_interaction_fields(), "approvals": Field(Array(TOKEN, max_items=MAX_TOKENS))},
            rules=(_TEXT_RULE,),
            examples=({**EXAMPLE_INTERACTION, "approvals": []},),
        ),
        "InteractionAssess": Obj(
            _interaction_fields(), rules=(_TEXT_RULE,), examples=(EXAMPLE_INTERACTION,)
        ),
        "InteractionApproval": Obj(
            {
                **_interaction_fields(),
                "decision": Field(Str(16, choices=("approve", "reject")), required=True),
                "reason": Field(Str(2000), description="required to reject"),
            },
            rules=(_TEXT_RULE, When("decision", ("reject",), ("reason",))),
            examples=({**EXAMPLE_INTERACTION, "decision": "approve"},),
        ),
    }


@cache
def request_bodies(limits: LimitSettings, units: tuple[str, ...]) -> dict[str, Obj]:
    """The body definitions by name, for these limits and these policy units."""
    post = Field(Ref("Post", post_type(limits)), required=True)
    unit = Str(64, choices=units)
    return {
        "ScreenRequest": Obj(
            {
                "post": post,
                "account": Field(
                    ACCOUNT_REF, description="also answer the approvals this account needs"
                ),
            },
            examples=({"post": EXAMPLE_POST}, {"post": EXAMPLE_POST, "account": EXAMPLE_ACCOUNT}),
        ),
        "HashRequest": Obj({"post": post}, examples=({"post": EXAMPLE_POST},)),
        "ApprovalRequest": Obj(
            {
                "post": post,
                "accounts": Field(
                    Array(
                        ACCOUNT_REF,
                        max_items=100,
                        min_items=1,
                        min_message="name at least one account",
                        unique=True,
                    ),
                    required=True,
                ),
                "decision": Field(Str(16, choices=("approve", "reject")), required=True),
                "reason": Field(Str(2000), description="required to reject"),
                "attest": Field(
                    Array(Str(64, choices=(EXTERNAL_CONFIRMATION,)), max_items=4, unique=True),
                    description="Brand-PR only: the outsiders quoted confirmed (Art. 17(2))",
                ),
            },
            rules=(When("decision", ("reject",), ("reason",)),),
            examples=(
                {"post": EXAMPLE_POST, "accounts": [EXAMPLE_ACCOUNT], "decision": "approve"},
            ),
        ),
        **_interaction_bodies(),
        "PublishRequest": Obj(
            {
                "account": Field(ACCOUNT_REF, required=True),
                "post": post,
                "approvals": Field(Array(TOKEN, max_items=MAX_TOKENS)),
            },
            examples=({"account": EXAMPLE_ACCOUNT, "post": EXAMPLE_POST, "approvals": []},),
        ),
        "PostEdit": Obj(
            {"post": post, "approvals": Field(Array(TOKEN, max_items=MAX_TOKENS))},
            examples=({"post": EXAMPLE_POST, "approvals": []},),
        ),
        "DeleteRequest": Obj({"reason": Field(Str(2000, min_chars=1), required=True)}),
        "JobResolve": Obj(
            {
                "resolution": Field(
                    Str(16, choices=("retry", "published", "failed")), required=True
                ),
                "reason": Field(Str(2000, min_chars=1), required=True),
                "platform_id": Field(Str(200)),
                "url": Field(Str(2000)),
            }
        ),
        "LexiconTerms": Obj(
            {
                "terms": Field(
                    Array(
                        NEW_TERM,
                        max_items=MAX_TERMS_PER_CALL,
                        min_items=1,
                        min_message="name at least one term",
                    ),
                    required=True,
                ),
                "severity": Field(Str(16, choices=SEVERITIES)),
                "action": Field(Str(16, choices=TERM_ACTIONS)),
            }
        ),
        "LexiconTermsRemove": Obj(
            {"terms": Field(Array(TERM, max_items=MAX_TERMS_PER_CALL), required=True)}
        ),
        "AccountFiling": Obj(
            {
                "id": Field(ACCOUNT_ID, required=True),
                "platform": Field(PLATFORM, required=True),
                "name": Field(Str(200, min_chars=1), required=True),
                "unit": Field(unit, required=True),
                "operators": Field(Array(Str(64, min_chars=1), max_items=50)),
                "settings": Field(
                    Map(
                        _SETTING,
                        max_keys=32,
                        key_forbidden=_CREDENTIAL_WORDS,
                        key_message=(
                            "looks like a credential: store it with PUT /admin/vault/{account}"
                        ),
                    ),
                    description="non-secret connector settings (base URL, link domain ...)",
                ),
                "note": Field(Str(2000)),
            }
        ),
        "Note": Obj({"note": Field(Str(2000))}),
        # bypass alerts (docs/bypass.md)
        "AlertAcknowledge": Obj(
            {
                "note": Field(
                    Str(MAX_ALERT_NOTE, min_chars=1),
                    required=True,
                    description="why nothing more is needed (kept with the alert, audited)",
                )
            }
        ),
        "AlertFreeze": Obj(
            {
                "reason": Field(
                    Str(MAX_ALERT_NOTE, min_chars=1),
                    required=True,
                    description="why the alert's account is frozen (audited)",
                )
            }
        ),
        "Freeze": Obj(
            {
                "scope": Field(Str(16, choices=("account", "unit", "all")), required=True),
                "id": Field(Str(64), description="the account or unit; not for scope all"),
                "reason": Field(Str(2000, min_chars=1), required=True),
            },
            rules=(When("scope", ("account", "unit"), ("id",)),),
        ),
        "Unfreeze": Obj(
            {
                "scope": Field(Str(16, choices=("account", "unit", "all")), required=True),
                "id": Field(Str(64), description="the account or unit; not for scope all"),
                "reason": Field(Str(2000)),
            },
            rules=(When("scope", ("account", "unit"), ("id",)),),
        ),
        "VaultPut": Obj(
            {
                "fields": Field(
                    Map(
                        Str(MAX_VALUE_CHARS, min_chars=1, description="write-only"),
                        max_keys=MAX_FIELDS,
                        min_keys=1,
                        key_pattern=rf"^[A-Za-z][A-Za-z0-9_]{{0,{FIELD_NAME_CHARS - 1}}}$",
                        key_message=(
                            f"field names are letters, digits and _, ≤ {FIELD_NAME_CHARS} "
                            "characters"
                        ),
                        min_message="at least one field is required",
                    ),
                    required=True,
                )
            }
        ),
        "KeyCreate": Obj(
            {
                "name": Field(
                    Str(200, min_chars=1),
                    required=True,
                    description="display name, unique among active principals",
                ),
                "role": Field(Str(16, choices=ROLES), required=True),
                "unit": Field(unit, required=True),
            }
        ),
        # the drop-in proxy's clients (docs/proxy.md)
        "ProxyClientCreate": Obj(
            {
                "name": Field(Str(100, min_chars=1), required=True),
                "principal": Field(
                    Str(64, min_chars=1), required=True, description="the principal it acts for"
                ),
                "accounts": Field(
                    Array(
                        ACCOUNT_REF,
                        max_items=20,
                        min_items=1,
                        min_message="name at least one account",
                    ),
                    required=True,
                ),
                "source": Field(Str(200), description="Art. 15 source when a draft names none"),
                "category": Field(Str(16, choices=POST_CATEGORIES), default="news"),
                "kind": Field(Str(8, choices=("wechat", "weibo")), default="wechat"),
            }
        ),
        # the review desk (docs/desk.md)
        "SubmissionCreate": Obj(
            {
                "account": Field(ACCOUNT_REF, description="one account; or accounts"),
                "accounts": Field(
                    Array(
                        ACCOUNT_REF,
                        max_items=MAX_SUBMISSION_ACCOUNTS,
                        min_items=1,
                        min_message="name at least one account",
                        unique=True,
                    ),
                    description="several accounts; not with account",
                ),
                "post": post,
                "publish_at": Field(
                    DateTime(), description="publish then (RFC 3339 with offset), not at once"
                ),
                "campaign": Field(Str(64), description="the linked campaign this answers"),
                "note": Field(Str(2000), description="for the approvers"),
            },
            examples=({"account": EXAMPLE_ACCOUNT, "post": EXAMPLE_POST},),
        ),
        "SubmissionPreview": Obj(
            {
                "account": Field(ACCOUNT_REF, description="one account; or accounts"),
                "accounts": Field(
                    Array(
                        ACCOUNT_REF,
                        max_items=MAX_SUBMISSION_ACCOUNTS,
                        min_items=1,
                        min_message="name at least one account",
                        unique=True,
                    ),
                    description="several accounts; not with account",
                ),
                "post": post,
            },
            examples=({"account": EXAMPLE_ACCOUNT, "post": EXAMPLE_POST},),
        ),
        "SubmissionRevision": Obj({"post": post}, examples=({"post": EXAMPLE_POST},)),
        "Decision": Obj(
            {
                "decision": Field(Str(16, choices=("approve", "reject")), required=True),
                "reason": Field(Str(2000), description="required to reject"),
                "attest": Field(
                    Array(Str(64, choices=(EXTERNAL_CONFIRMATION,)), max_items=4, unique=True),
                    description="Brand-PR only: the outsiders quoted confirmed (Art. 17(2))",
                ),
            },
            rules=(When("decision", ("reject",), ("reason",)),),
            examples=({"decision": "approve"}, {"decision": "reject", "reason": "数据待核实"}),
        ),
        "ApprovalAttach": Obj({"token": Field(TOKEN, required=True)}),
        # the hub (docs/hub.md)
        "MaterialSend": Obj(
            {
                "title": Field(Str(MAX_TITLE_CHARS, min_chars=1), required=True),
                "text": Field(Str(MAX_TEXT_CHARS), description="some text, an image or a file"),
                "note": Field(Str(MAX_NOTE_CHARS)),
                "campaign": Field(Str(64), description="the linked campaign this answers"),
                "images": Field(
                    Array(_attachment(IMAGE_TYPES, limits.max_image_bytes), max_items=MAX_IMAGES)
                ),
                "files": Field(Array(_attachment(FILE_TYPES, MAX_FILE_BYTES), max_items=MAX_FILES)),
            },
            examples=({"title": "安全生产月活动现场", "text": "活动于本周一在总部举行。"},),
        ),
        "CampaignCreate": Obj(
            {
                "title": Field(Str(200, min_chars=1), required=True),
                "brief": Field(Str(20_000, min_chars=1), required=True),
                "key_messages": Field(Array(Str(500), max_items=20)),
                "references": Field(Array(Str(2000), max_items=20)),
                "units": Field(
                    Array(
                        unit,
                        max_items=MAX_UNITS,
                        min_items=1,
                        min_message="name at least one participating unit",
                    ),
                    required=True,
                ),
                "accounts": Field(Array(ACCOUNT_REF, max_items=MAX_CAMPAIGN_ACCOUNTS)),
                "due_at": Field(DateTime(), required=True, description="RFC 3339 with offset"),
            }
        ),
    }


# Path parameters by name: checked before any handler runs (422 naming the parameter).
PATH_PARAMS: dict[str, Str] = {
    "category": Str(
        48,
        pattern=r"^[a-z][a-z0-9_]{0,47}$",
        pattern_message="lower-case letters, digits and _, starting with a letter",
    ),
    "account": Str(64, min_chars=1),
    "post_id": Str(64, min_chars=1),
    "key_id": Str(64, min_chars=1),
    "proposal_id": Str(64, min_chars=1),
    "submission_id": Str(64, min_chars=1),
    "material_id": Str(64, min_chars=1),
    "campaign_id": Str(64, min_chars=1),
    "appid": Str(64, min_chars=1),
    "alert_id": Str(64, min_chars=1),
    "interaction_id": Str(64, min_chars=1),
}

QUERIES: dict[str, Obj] = {
    "SubmissionsQuery": Obj(
        {
            "state": Field(Str(32, choices=SUBMISSION_STATES)),
            "mine": Field(
                Str(5, choices=("true", "false", "1", "0")),
                default="false",
                description="only the caller's own",
            ),
            "limit": Field(Int(1, 500), default=100),
        }
    ),
    "MaterialsQuery": Obj(
        {
            "unit": Field(Str(64), description="one unit's material (a unit of the policy)"),
            "limit": Field(Int(1, 500), default=100),
        }
    ),
    "CampaignQuery": Obj({"format": Field(Str(8, choices=("json", "csv")), default="json")}),
    "PostsQuery": Obj(
        {
            "state": Field(Str(32, choices=STATES)),
            "limit": Field(Int(1, 500), default=100),
        }
    ),
    "AccountsQuery": Obj({"state": Field(Str(16, choices=ACCOUNT_STATES))}),
    "WeeklyQuery": Obj(
        {
            "week": Field(
                Str(
                    8,
                    pattern=r"^(20[0-9]{2}|2100)-W(0[1-9]|[1-4][0-9]|5[0-3])$",
                    pattern_message="ISO week such as 2026-W48",
                ),
                description="ISO week in China Standard Time; default: this week",
            ),
            "format": Field(Str(8, choices=("json", "csv")), default="json"),
            "table": Field(
                Str(8, choices=("units", "alerts")),
                default="units",
                description="the CSV's table: units, or alerts per account (JSON has both)",
            ),
        }
    ),
    "AnnualQuery": Obj(
        {
            "year": Field(Int(2000, 2100), description="default: this year"),
            "format": Field(Str(8, choices=("json", "csv")), default="json"),
        }
    ),
    "AlertsQuery": Obj(
        {
            "state": Field(Str(16, choices=ALERT_STATES)),
            "account": Field(ACCOUNT_REF, description="one account's alerts"),
            "kind": Field(Str(32, choices=ALERT_KINDS)),
            "since": Field(DateTime(), description="detected at or after (RFC 3339)"),
            "until": Field(DateTime(), description="detected before (RFC 3339)"),
            "limit": Field(Int(1, MAX_ALERTS), default=100),
            "offset": Field(Int(0, 100_000), default=0),
        }
    ),
    "LexiconsQuery": Obj(
        {"terms": Field(Str(1, choices=("0", "1")), default="0", description="1: list terms")}
    ),
    "VaultDeleteQuery": Obj(
        {
            "field": Field(
                Array(
                    Str(FIELD_NAME_CHARS, pattern=r"^[A-Za-z][A-Za-z0-9_]*$"),
                    max_items=MAX_FIELDS,
                ),
                description="fields to delete (repeatable); none: every field",
            )
        }
    ),
    "AuditVerifyQuery": Obj(
        {
            "anchor": Field(
                Array(
                    Str(
                        84,
                        pattern=r"^\s*[1-9][0-9]{0,17}:[0-9a-f]{64}\s*$",
                        pattern_message=(
                            "an anchor is SEQ:HASH (a record number, a colon, 64 hex digits)"
                        ),
                    ),
                    max_items=MAX_ANCHORS,
                ),
                description="SEQ:HASH heads noted earlier (repeatable)",
            )
        }
    ),
}
