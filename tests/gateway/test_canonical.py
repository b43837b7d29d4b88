"""Tests for gateway/canonical.py: canonical JSON, canonical post and the content hash."""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.canonical import (
    TEXT_FIELDS,
    canonical_json,
    canonical_post,
    content_sha256,
)

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
JPG_BYTES = b"\xff\xd8\xff\xe0" + b"mediagate" * 10


def _image(raw: bytes, name: str = "a.png") -> dict[str, str]:
    return {
        "filename": name,
        "content_type": "image/png",
        "data": base64.b64encode(raw).decode("ascii"),
    }


def _post() -> dict[str, Any]:
    return {
        "title": "集团召开2026年度工作会议",
        "digest": "会议总结全年工作。",
        "author": "品牌部",
        "content": "<p>会议于11月20日召开，café 与会。</p>",
        "source": "集团办公室",
        "category": "company",
        "cover": _image(PNG_BYTES, "cover.png"),
        "images": [_image(PNG_BYTES), _image(JPG_BYTES, "b.jpg")],
    }


# --- canonical_json ------------------------------------------------------------------------------


def test_canonical_json_has_no_whitespace_and_sorted_keys() -> None:
    assert canonical_json({"b": 1, "a": [True, False, None], "c": "x"}) == (
        b'{"a":[true,false,null],"b":1,"c":"x"}'
    )


def test_canonical_json_sorts_keys_by_utf16_code_units() -> None:
    # The RFC 8785 §3.2.3 example: U+1F600 (surrogate pair D83D DE00) sorts before U+FB33.
    obj = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
        "</script>": "Browser Challenge",
    }
    keys_in_output = [
        "\r",
        "1",
        "</script>",
        "\u0080",
        "\u00f6",
        "\u20ac",
        "\U0001f600",
        "\ufb33",
    ]
    text = canonical_json(obj).decode("utf-8")
    positions = [text.index(_quoted(k)) for k in keys_in_output]
    assert positions == sorted(positions)


def _quoted(key: str) -> str:
    return canonical_json(key).decode("utf-8")


def test_canonical_json_string_escapes_follow_rfc8785() -> None:
    assert canonical_json('\u20ac$\u000f\nA\'B"\\\\"/') == (
        '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()
    )
    assert canonical_json("\b\f\r\t\x1f\x7f") == b'"\\b\\f\\r\\t\\u001f\x7f"'
    assert canonical_json("中文") == '"中文"'.encode()


@pytest.mark.parametrize(
    "value",
    [1.5, float("nan"), float("inf"), 2**53, -(2**53), {1: "x"}, {"s": {1, 2}}, b"bytes", "\ud800"],
)
def test_canonical_json_rejects_unsupported_values(value: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


def test_canonical_json_accepts_safe_integer_edges() -> None:
    assert canonical_json([2**53 - 1, -(2**53 - 1), 0]) == b"[9007199254740991,-9007199254740991,0]"


def test_canonical_json_rejects_deep_nesting() -> None:
    deep: Any = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ValueError, match="deeper"):
        canonical_json(deep)


# --- canonical_post ------------------------------------------------------------------------------


def test_canonical_post_shape() -> None:
    canon = canonical_post(_post())
    assert list(canon) == ["v", *TEXT_FIELDS, "cover", "images"]
    assert canon["v"] == 1
    assert canon["cover"] == hashlib.sha256(PNG_BYTES).hexdigest()
    assert canon["images"] == [
        hashlib.sha256(PNG_BYTES).hexdigest(),
        hashlib.sha256(JPG_BYTES).hexdigest(),
    ]


def test_missing_optional_fields_become_empty() -> None:
    canon = canonical_post({"title": "t", "source": "s", "digest": None})
    assert canon == {
        "v": 1,
        "title": "t",
        "digest": "",
        "author": "",
        "content": "",
        "source": "s",
        "category": "",
        "cover": None,
        "images": [],
    }


def test_precomputed_sha256_equals_data_hash() -> None:
    digest = hashlib.sha256(JPG_BYTES).hexdigest()
    with_data = _post()
    with_hash = _post()
    with_hash["images"][1] = {"filename": "b.jpg", "content_type": "image/jpeg", "sha256": digest}
    assert content_sha256(with_data) == content_sha256(with_hash)
    with_hash["images"][1]["sha256"] = digest.upper()
    assert content_sha256(with_data) == content_sha256(with_hash)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda p: p["images"].append({**_image(PNG_BYTES), "data": "!!notbase64"}),
            "images[2].data",
        ),
        (lambda p: p["images"].__setitem__(0, {"filename": "x"}), "images[0]"),
        (lambda p: p["images"].__setitem__(1, "not-an-object"), "images[1]"),
        (lambda p: p.__setitem__("cover", {"data": ""}), "cover.data"),
        (lambda p: p.__setitem__("cover", {"data": 5}), "cover.data"),
        (lambda p: p.__setitem__("cover", {"sha256": "abc"}), "cover.sha256"),
        (lambda p: p.__setitem__("images", "x"), "images"),
        (lambda p: p.__setitem__("title", 7), "title"),
        (lambda p: p.__setitem__("content", ["x"]), "content"),
        (
            lambda p: p["images"].__setitem__(0, {**_image(PNG_BYTES), "sha256": "0" * 64}),
            "images[0].sha256",
        ),
    ],
)
def test_bad_input_raises_naming_the_field(mutate: Any, field: str) -> None:
    post = _post()
    mutate(post)
    with pytest.raises(ValueError, match="^" + re.escape(f"post.{field}:")):
        canonical_post(post)


def test_non_mapping_post_rejected() -> None:
    with pytest.raises(ValueError, match=r"^post"):
        canonical_post(["title"])  # type: ignore[arg-type]


# --- content_sha256 ------------------------------------------------------------------------------

GOLDEN_POST = {
    "title": "Hello",
    "digest": "d",
    "author": "A",
    "content": "<p>x</p>",
    "source": "S",
    "category": "news",
    "cover": None,
    "images": [{"filename": "a.png", "content_type": "image/png", "data": "AAEC"}],
}
GOLDEN_CANONICAL = (
    b'{"author":"A","category":"news","content":"<p>x</p>","cover":null,"digest":"d",'
    b'"images":["ae4b3280e56e2faf83f414a6e3dabe9d5fbe18976544c05fed121accb85b53fc"],'
    b'"source":"S","title":"Hello","v":1}'
)
GOLDEN_SHA256 = "3953ce63a194dfb4707cde687ef601f52687522a8e2f8db38219b54b5492d16a"


def test_golden_vector() -> None:
    """Pins the canonical bytes and the hash: any change here breaks every issued approval."""
    assert hashlib.sha256(b"\x00\x01\x02").hexdigest() == (
        "ae4b3280e56e2faf83f414a6e3dabe9d5fbe18976544c05fed121accb85b53fc"
    )
    assert canonical_json(canonical_post(GOLDEN_POST)) == GOLDEN_CANONICAL
    assert hashlib.sha256(GOLDEN_CANONICAL).hexdigest() == GOLDEN_SHA256
    assert content_sha256(GOLDEN_POST) == GOLDEN_SHA256


def test_deterministic_and_key_order_independent() -> None:
    post = _post()
    reordered = dict(reversed(list(post.items())))
    reordered["images"] = [dict(reversed(list(img.items()))) for img in post["images"]]
    assert content_sha256(post) == content_sha256(post) == content_sha256(reordered)
    assert len(content_sha256(post)) == 64


def test_nfc_equivalent_inputs_hash_equal() -> None:
    composed = _post()
    decomposed = _post()
    for field in TEXT_FIELDS:
        decomposed[field] = unicodedata.normalize("NFD", composed[field])
    assert decomposed["content"] != composed["content"]
    assert content_sha256(composed) == content_sha256(decomposed)


def test_image_order_matters() -> None:
    post = _post()
    swapped = _post()
    swapped["images"].reverse()
    assert content_sha256(post) != content_sha256(swapped)


def test_cover_and_missing_cover_differ() -> None:
    post = _post()
    no_cover = _post()
    no_cover["cover"] = None
    assert content_sha256(post) != content_sha256(no_cover)


def test_moving_text_between_fields_changes_hash() -> None:
    a = {"title": "ab", "digest": ""}
    b = {"title": "a", "digest": "b"}
    assert content_sha256(a) != content_sha256(b)


_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]),
    max_size=40,
)
_NEW_CHAR = st.characters(exclude_categories=["Cs"])


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(TEXT_FIELDS), base=_TEXT, data=st.data())
def test_any_one_character_change_changes_hash(field: str, base: str, data: st.DataObject) -> None:
    post = _post()
    post[field] = base
    op = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    pos = data.draw(st.integers(min_value=0, max_value=len(base)))
    if op == "delete":
        if not base:
            return
        pos = min(pos, len(base) - 1)
        mutated = base[:pos] + base[pos + 1 :]
    elif op == "insert":
        mutated = base[:pos] + data.draw(_NEW_CHAR) + base[pos:]
    else:
        if not base:
            return
        pos = min(pos, len(base) - 1)
        new = data.draw(_NEW_CHAR.filter(lambda c: c != base[pos]))
        mutated = base[:pos] + new + base[pos + 1 :]
    if unicodedata.normalize("NFC", mutated) == unicodedata.normalize("NFC", base):
        return  # canonically equivalent by design (e.g. reordering of combining marks)
    other = _post()
    other[field] = mutated
    assert content_sha256(post) != content_sha256(other)


@settings(max_examples=200, deadline=None)
@given(
    which=st.sampled_from(["cover", "images[0]", "images[1]"]),
    pos=st.integers(min_value=0),
    delta=st.integers(min_value=1, max_value=255),
)
def test_any_image_byte_change_changes_hash(which: str, pos: int, delta: int) -> None:
    original = PNG_BYTES if which != "images[1]" else JPG_BYTES
    raw = bytearray(original)
    raw[pos % len(raw)] = (raw[pos % len(raw)] + delta) % 256
    mutated = _post()
    if which == "cover":
        mutated["cover"] = _image(bytes(raw))
    else:
        mutated["images"][int(which[-2])] = _image(bytes(raw))
    assert content_sha256(_post()) != content_sha256(mutated)


@settings(max_examples=100, deadline=None)
@given(
    post=st.fixed_dictionaries(
        {},
        optional={field: _TEXT for field in TEXT_FIELDS},
    )
)
def test_canonical_json_of_any_post_is_stable_and_valid_utf8(post: dict[str, str]) -> None:
    first = canonical_json(canonical_post(post))
    assert first == canonical_json(canonical_post(dict(reversed(list(post.items())))))
    first.decode("utf-8")
