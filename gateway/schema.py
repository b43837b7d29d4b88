"""One definition per request body: it validates the body and it writes the OpenAPI schema.

A body is an :class:`Obj` of named :class:`Field` s, each with a type (:class:`Str`,
:class:`Int`, :class:`Bool`, :class:`Array`, :class:`Map`, another :class:`Obj` or a
:class:`Ref` to a named component). ``parse`` checks a decoded JSON value and raises
:class:`~gateway.errors.ValidationFailed` naming the dotted field path (``post.images[2].data``)
with the same messages the hand-written ``take_*`` helpers gave; ``json_schema`` describes
exactly the limits ``parse`` enforces (``maxLength``, ``maxItems``, ``pattern``, ``enum`` ...),
so the served document cannot drift from the server. Rules that no schema can say (a unit that
must exist in the policy) are declared where the document can (an ``enum`` built from the
policy) and otherwise enforced by the service, which answers 404 or 409, never 422.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gateway.errors import field_error

_MISSING: Any = object()
# A string with at least one character that is not white space (str.isspace): how "must not be
# empty" is said in a schema. Spelled out, because "\S" differs between regex engines (Python
# counts U+001C..U+001F as space, ECMA and Rust do not) and both sides must agree.
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _where(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Type:
    """A value's type: ``parse`` checks and converts it, ``json_schema`` describes it."""

    def parse(self, value: Any, where: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Str(Type):
    max_chars: int = 10_000
    min_chars: int = 0  # counted after stripping white space, as the handlers always did
    choices: tuple[str, ...] | None = None
    pattern: str = ""  # must match (re.search), and the schema says so
    pattern_message: str = ""
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # more JSON Schema keywords

    def parse(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise field_error(where, f"must be a string, not {type(value).__name__}")
        if len(value) > self.max_chars:
            raise field_error(where, f"longer than {self.max_chars} characters")
        if (self.min_chars == 1 and not re.search(NOT_BLANK, value)) or len(
            value.strip()
        ) < self.min_chars:
            raise field_error(
                where,
                "must not be empty"
                if self.min_chars == 1
                else f"needs at least {self.min_chars} characters",
            )
        if self.choices is not None and value not in self.choices:
            raise field_error(where, f"must be one of {', '.join(self.choices)}")
        if self.pattern and not re.search(self.pattern, value):
            raise field_error(where, self.pattern_message or f"must match {self.pattern}")
        return value

    def json_schema(self) -> dict[str, Any]:
        if self.choices is not None:
            schema: dict[str, Any] = {"type": "string", "enum": list(self.choices)}
        else:
            schema = {"type": "string", "maxLength": self.max_chars}
            patterns = [p for p in (self.pattern, NOT_BLANK if self.min_chars else "") if p]
            if self.min_chars > 1:
                schema["minLength"] = self.min_chars
            if len(patterns) == 1:
                schema["pattern"] = patterns[0]
            elif patterns:
                schema["allOf"] = [{"pattern": p} for p in patterns]
        if self.description:
            schema["description"] = self.description
        return {**schema, **self.extra}


@dataclass(frozen=True)
class Int(Type):
    minimum: int
    maximum: int
    description: str = ""

    def parse(self, value: Any, where: str) -> int:
        if isinstance(value, str):  # query parameters arrive as text
            try:
                value = int(value)
            except ValueError:
                raise field_error(where, "must be an integer") from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON Schema: 2.0 is an integer
        if isinstance(value, bool) or not isinstance(value, int):
            raise field_error(where, "must be an integer")
        if not self.minimum <= value <= self.maximum:
            raise field_error(where, f"must be between {self.minimum} and {self.maximum}")
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "integer",
            "minimum": self.minimum,
            "maximum": self.maximum,
        }
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Bool(Type):
    def parse(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise field_error(where, "must be true or false")
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Array(Type):
    items: Type
    max_items: int
    min_items: int = 0
    min_message: str = ""
    unique: bool = False

    def parse(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise field_error(where, f"must be a list, not {type(value).__name__}")
        if len(value) > self.max_items:
            raise field_error(where, f"more than {self.max_items} items")
        if len(value) < self.min_items:
            raise field_error(where, self.min_message or f"needs at least {self.min_items} items")
        result = [self.items.parse(item, f"{where}[{i}]") for i, item in enumerate(value)]
        if self.unique:
            seen: list[Any] = []
            for i, item in enumerate(result):
                if item in seen:
                    raise field_error(f"{where}[{i}]", "repeats an earlier item")
                seen.append(item)
        return result

    def json_schema(self) -> dict[str, Any]:
        schema = {"type": "array", "items": self.items.json_schema(), "maxItems": self.max_items}
        if self.min_items:
            schema["minItems"] = self.min_items
        if self.unique:
            schema["uniqueItems"] = True
        return schema


@dataclass(frozen=True)
class Map(Type):
    """An object with free keys (vault fields, connector settings), all values of one type."""

    values: Type
    max_keys: int
    min_keys: int = 0
    key_pattern: str = ""  # keys must match
    key_forbidden: str = ""  # keys must not match (re.search)
    key_message: str = ""
    min_message: str = ""

    def parse(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise field_error(where, f"must be an object, not {type(value).__name__}")
        if len(value) < self.min_keys:
            raise field_error(where, self.min_message or f"at least {self.min_keys} fields")
        if len(value) > self.max_keys:
            raise field_error(where, f"at most {self.max_keys} fields")
        result = {}
        for key, item in value.items():
            if self.key_pattern and not re.search(self.key_pattern, key):
                raise field_error(where, self.key_message)
            if self.key_forbidden and re.search(self.key_forbidden, key):
                raise field_error(_where(where, key), self.key_message)
            result[key] = self.values.parse(item, _where(where, key))
        return result

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": self.values.json_schema(),
            "maxProperties": self.max_keys,
        }
        if self.min_keys:
            schema["minProperties"] = self.min_keys
        names: dict[str, Any] = {}
        if self.key_pattern:
            names["pattern"] = self.key_pattern
        if self.key_forbidden:
            names["not"] = {"pattern": self.key_forbidden}
        if names:
            schema["propertyNames"] = names
        return schema


@dataclass(frozen=True)
class OneOf(Type):
    """A scalar of one of several JSON types, or (with "array") a short list of such scalars:
    a connector setting is text, a number, a switch or a list of them."""

    types: tuple[str, ...]  # "string", "number", "boolean", "array"
    max_chars: int = 2000
    max_items: int = 50
    message: str = "has the wrong type"

    _PY: ClassVar[dict[str, tuple[type, ...]]] = {
        "string": (str,),
        "number": (int, float),
        "boolean": (bool,),
    }

    def _scalar(self, value: Any) -> bool:
        for kind in self.types:
            if kind == "array" or not isinstance(value, self._PY[kind]):
                continue
            if kind == "number" and isinstance(value, bool):
                continue
            return not (isinstance(value, str) and len(value) > self.max_chars)
        return False

    def parse(self, value: Any, where: str) -> Any:
        if isinstance(value, list) and "array" in self.types:
            ok = len(value) <= self.max_items and all(self._scalar(v) for v in value)
        else:
            ok = self._scalar(value)
        if not ok:
            raise field_error(where, self.message)
        return value

    def json_schema(self) -> dict[str, Any]:
        scalars: list[dict[str, Any]] = [
            {"type": t, "maxLength": self.max_chars} if t == "string" else {"type": t}
            for t in self.types
            if t != "array"
        ]
        options = list(scalars)
        if "array" in self.types:
            options.append(
                {"type": "array", "items": {"anyOf": scalars}, "maxItems": self.max_items}
            )
        return {"anyOf": options}


@dataclass(frozen=True)
class Ref(Type):
    """A named component (``#/components/schemas/NAME``) parsed by ``target``."""

    name: str
    target: Type

    def parse(self, value: Any, where: str) -> Any:
        return self.target.parse(value, where)

    def json_schema(self) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{self.name}"}


@dataclass(frozen=True)
class Field:
    type: Type
    required: bool = False
    default: Any = None
    description: str = ""


@dataclass(frozen=True)
class When:
    """A conditional rule: when ``field`` is one of ``values``, the text fields ``require`` must
    be present and not blank (a rejection needs a reason). Declared with ``if``/``then``."""

    field: str
    values: tuple[str, ...]
    require: tuple[str, ...]
    message: str = "is required"


@dataclass(frozen=True)
class Obj(Type):
    """An object with named fields; unknown keys are refused. ``null`` for an optional field
    means absent (declared as such), for a required one it is "is required"."""

    fields: Mapping[str, Field]
    description: str = ""
    rules: tuple[When, ...] = ()
    examples: tuple[Mapping[str, Any], ...] = ()  # declared; each must parse (a test checks)

    def parse(self, value: Any, where: str = "") -> dict[str, Any]:
        if not isinstance(value, dict):
            raise field_error(
                where or "body", "must be an object" if where else "must be a JSON object"
            )
        allowed = set(self.fields)
        for key in value:
            if key not in allowed:
                raise field_error(
                    _where(where, key), f"unknown field (allowed: {', '.join(sorted(allowed))})"
                )
        result: dict[str, Any] = {}
        for name, spec in self.fields.items():
            raw = value.get(name, _MISSING)
            if raw is _MISSING or raw is None:
                if spec.required:
                    raise field_error(_where(where, name), "is required")
                result[name] = spec.default
                continue
            result[name] = spec.type.parse(raw, _where(where, name))
        for rule in self.rules:
            if result.get(rule.field) in rule.values:
                for name in rule.require:
                    if not str(result.get(name) or "").strip():
                        raise field_error(_where(where, name), rule.message)
        return result

    def json_schema(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for name, spec in self.fields.items():
            schema = spec.type.json_schema()
            if not spec.required:
                schema = _nullable(schema)
            if spec.description:
                schema = {**schema, "description": spec.description}
            properties[name] = schema
        result: dict[str, Any] = {
            "type": "object",
            "additionalProperties": False,
            "properties": properties,
        }
        required = [n for n, f in self.fields.items() if f.required]
        if required:
            result["required"] = required
        if self.description:
            result["description"] = self.description
        if self.examples:
            result["examples"] = [dict(e) for e in self.examples]
        if self.rules:
            result["allOf"] = [
                {
                    "if": {
                        "properties": {rule.field: {"enum": list(rule.values)}},
                        "required": [rule.field],
                    },
                    "then": {
                        "required": list(rule.require),
                        "properties": {
                            name: {"type": "string", "pattern": NOT_BLANK} for name in rule.require
                        },
                    },
                }
                for rule in self.rules
            ]
        return result


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null (an optional field sent as null counts as absent)."""
    kind = schema.get("type")
    if isinstance(kind, str) and "enum" not in schema:
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}
