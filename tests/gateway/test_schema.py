"""One definition validates and documents: ``gateway/schema.py`` and ``gateway/api/bodies.py``.

For every body definition the declared JSON Schema and the parser agree on a table of
adversarial values (a value the parser refuses is one the schema refuses, and the other way
round), the declared examples parse, and field errors keep the dotted-path shape.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from gateway.api.bodies import EXAMPLE_POST, PATH_PARAMS, QUERIES, request_bodies
from gateway.errors import ValidationFailed
from gateway.openapi import openapi_document
from gateway.schema import Array, Field, Int, Map, Obj, Str, When
from gateway.settings import load_settings

SETTINGS = load_settings(environ={})
BODIES = request_bodies(SETTINGS.limits, tuple(SETTINGS.policy.units))
DOC = openapi_document(SETTINGS)


def _valid(definition: Obj, value: Any) -> bool:
    """Valid by the declared schema, with the document's components for $ref."""
    schema = {**definition.json_schema(), "components": DOC["components"]}
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    # the document's refs are "#/components/schemas/X": resolvable inside this wrapper
    return validator.is_valid(value)


def _parses(definition: Obj, value: Any) -> bool:
    try:
        definition.parse(value)
    except ValidationFailed:
        return False
    return True


POST_CASES: list[tuple[str, Any]] = [
    ("example", EXAMPLE_POST),
    ("content only spaces", {**EXAMPLE_POST, "content": "   "}),
    ("content ideographic space", {**EXAMPLE_POST, "content": "\u3000"}),
    ("no category", {k: v for k, v in EXAMPLE_POST.items() if k != "category"}),
    ("bad category", {**EXAMPLE_POST, "category": "其他"}),
    ("cover null", {**EXAMPLE_POST, "cover": None}),
    ("title null", {**EXAMPLE_POST, "title": None}),
    ("title too long", {**EXAMPLE_POST, "title": "标" * 1001}),
    ("title at the limit", {**EXAMPLE_POST, "title": "标" * 1000}),
    ("unknown field", {**EXAMPLE_POST, "tags": ["a"]}),
    (
        "image bad base64",
        {
            **EXAMPLE_POST,
            "images": [{"filename": "a.png", "content_type": "image/png", "data": "!!"}],
        },
    ),
    (
        "image ok",
        {
            **EXAMPLE_POST,
            "images": [{"filename": "a.png", "content_type": "image/png", "data": "iVBORw0K"}],
        },
    ),
    (
        "image unpadded",
        {
            **EXAMPLE_POST,
            "images": [{"filename": "a.png", "content_type": "image/png", "data": "iVBORw0"}],
        },
    ),
    (
        "image svg",
        {
            **EXAMPLE_POST,
            "images": [{"filename": "a.svg", "content_type": "image/svg+xml", "data": "iVBORw0K"}],
        },
    ),
    (
        "too many images",
        {
            **EXAMPLE_POST,
            "images": [{"filename": "a.png", "content_type": "image/png", "data": "iVBORw0K"}] * 21,
        },
    ),
    ("number as text", {**EXAMPLE_POST, "author": 5}),
    ("bool as category", {**EXAMPLE_POST, "category": True}),
]


@pytest.mark.parametrize(("case", "post"), POST_CASES, ids=[c for c, _ in POST_CASES])
def test_the_parser_and_the_schema_agree_on_posts(case: str, post: Any) -> None:
    definition = BODIES["HashRequest"]
    assert _parses(definition, {"post": post}) == _valid(definition, {"post": post}), case


BODY_CASES: list[tuple[str, dict[str, Any]]] = [
    ("ApprovalRequest", {"post": EXAMPLE_POST, "accounts": ["east-weibo"], "decision": "reject"}),
    (
        "ApprovalRequest",
        {"post": EXAMPLE_POST, "accounts": ["east-weibo"], "decision": "reject", "reason": " "},
    ),
    (
        "ApprovalRequest",
        {
            "post": EXAMPLE_POST,
            "accounts": ["east-weibo"],
            "decision": "reject",
            "reason": "来源不明",
        },
    ),
    ("ApprovalRequest", {"post": EXAMPLE_POST, "accounts": [], "decision": "approve"}),
    ("ApprovalRequest", {"post": EXAMPLE_POST, "accounts": ["a1", "a1"], "decision": "approve"}),
    ("ApprovalRequest", {"post": EXAMPLE_POST, "accounts": ["East Weibo"], "decision": "approve"}),
    (
        "ApprovalRequest",
        {
            "post": EXAMPLE_POST,
            "accounts": ["a1"],
            "decision": "approve",
            "attest": ["external_confirmation"] * 2,
        },
    ),
    ("Freeze", {"scope": "all", "reason": "演练"}),
    ("Freeze", {"scope": "unit", "reason": "演练"}),
    ("Freeze", {"scope": "unit", "id": "sub_east", "reason": ""}),
    ("Unfreeze", {"scope": "all"}),
    ("VaultPut", {"fields": {}}),
    ("VaultPut", {"fields": {"app_secret": "s"}}),
    ("VaultPut", {"fields": {"9bad": "s"}}),
    ("VaultPut", {"fields": {"app_secret": ""}}),
    (
        "AccountFiling",
        {"id": "east-weibo", "platform": "weibo", "name": "华东微博", "unit": "sub_east"},
    ),
    (
        "AccountFiling",
        {"id": "east-weibo", "platform": "weibo", "name": "华东微博", "unit": "mars"},
    ),
    (
        "AccountFiling",
        {
            "id": "east-weibo",
            "platform": "weibo",
            "name": "n",
            "unit": "hq",
            "settings": {"appToken": "x"},
        },
    ),
    (
        "AccountFiling",
        {
            "id": "east-weibo",
            "platform": "weibo",
            "name": "n",
            "unit": "hq",
            "settings": {"link": ["a", 1, True]},
        },
    ),
    (
        "AccountFiling",
        {
            "id": "east-weibo",
            "platform": "weibo",
            "name": "n",
            "unit": "hq",
            "settings": {"link": {"a": 1}},
        },
    ),
    ("KeyCreate", {"name": "张三", "role": "root", "unit": "hq"}),
    ("KeyCreate", {"name": "张三", "role": "editor", "unit": "hq"}),
    ("LexiconTerms", {"terms": ["绝密"]}),
    ("LexiconTerms", {"terms": ["x"]}),
    ("LexiconTerms", {"terms": ["a\tb"]}),
    ("JobResolve", {"resolution": "retry", "reason": "平台已恢复"}),
    ("JobResolve", {"resolution": "retry"}),
]


@pytest.mark.parametrize(
    ("name", "body"), BODY_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BODY_CASES)]
)
def test_the_parser_and_the_schema_agree_on_bodies(name: str, body: dict[str, Any]) -> None:
    definition = BODIES[name]
    assert _parses(definition, body) == _valid(definition, body), body


@pytest.mark.parametrize("name", sorted(BODIES))
def test_every_declared_example_parses_and_is_valid(name: str) -> None:
    definition = BODIES[name]
    for example in definition.examples:
        assert _parses(definition, dict(example)) and _valid(definition, dict(example))


def test_field_errors_keep_the_dotted_path_and_message() -> None:
    definition = Obj(
        {
            "a": Field(Obj({"b": Field(Array(Str(3), max_items=2), required=True)}), required=True),
            "n": Field(Int(1, 5)),
            "m": Field(Map(Str(2), max_keys=1, key_pattern="^[a-z]+$", key_message="lower-case")),
            "kind": Field(Str(8, choices=("x", "y"))),
            "why": Field(Str(100)),
        },
        rules=(When("kind", ("y",), ("why",)),),
    )
    cases = [
        ({}, "a", "is required"),
        ({"a": {"b": ["abcd"]}}, "a.b[0]", "longer than 3 characters"),
        ({"a": {"b": "x"}}, "a.b", "must be a list, not str"),
        ({"a": {"b": []}, "zz": 1}, "zz", "unknown field"),
        ({"a": {"b": []}, "n": 9}, "n", "between 1 and 5"),
        ({"a": {"b": []}, "n": True}, "n", "must be an integer"),
        ({"a": {"b": []}, "m": {"A": "x"}}, "m", "lower-case"),
        ({"a": {"b": []}, "kind": "y"}, "why", "is required"),
    ]
    for value, field, message in cases:
        with pytest.raises(ValidationFailed) as caught:
            definition.parse(value)
        error = caught.value.extra["errors"][0]
        assert error["field"] == field and message in error["message"], (value, error)


def test_queries_and_path_parameters_are_declared_from_the_same_definitions() -> None:
    listing = DOC["paths"]["/v1/posts"]["get"]["parameters"]
    by_name = {p["name"]: p for p in listing}
    assert by_name["limit"]["schema"] == QUERIES["PostsQuery"].fields["limit"].type.json_schema()
    assert by_name["limit"]["schema"]["maximum"] == 500
    terms = DOC["paths"]["/admin/lexicons/{category}/terms"]["post"]["parameters"][0]
    assert terms["schema"] == PATH_PARAMS["category"].json_schema()
    publish = DOC["paths"]["/v1/posts"]["post"]
    assert {p["name"] for p in publish["parameters"]} == {"Idempotency-Key"}
    assert publish["operationId"] == "createPost"
    assert set(publish["responses"]) >= {"201", "202", "401", "403", "422", "429", "503"}
    assert "application/json" in publish["responses"]["201"]["content"]
    # the limits the server enforces, as configured
    post = DOC["components"]["schemas"]["Post"]["properties"]
    assert post["content"]["maxLength"] == SETTINGS.limits.max_text_chars
    assert post["images"]["maxItems"] == SETTINGS.limits.max_images
    assert {"type": "null"} in post["cover"]["anyOf"]
