"""PII detectors: checksums, dates, CJK-safe boundaries, normalised digits."""

from __future__ import annotations

import pytest

from screening.detectors.pii import luhn_valid, resident_id_valid
from screening.pipeline import Screener


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("360426199101010071", True),
        ("360426199101010072", False),
        ("11010519491231002X", True),
        ("11010519491231002x", True),
        ("110105194913310021", False),  # month 13
        ("360426199102300071", False),  # 30 February (and wrong check)
        ("36042619910101007", False),
    ],
)
def test_resident_id(number: str, valid: bool) -> None:
    assert resident_id_valid(number) is valid


@pytest.mark.parametrize(
    ("number", "valid"),
    [("4111111111111111", True), ("4111111111111112", False), ("6222021234567894", True)],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("text", "rule", "span"),
    [
        ("身份证号360426199101010071。", "pii:resident_id", "360426199101010071"),
        ("证件：11010519491231002X", "pii:resident_id", "11010519491231002X"),
        ("卡号4111111111111111", "pii:bank_card", "4111111111111111"),
        ("手机13800138000联系", "pii:mobile", "13800138000"),
        ("手机+8613800138000", "pii:mobile", "+8613800138000"),
        ("电话：021-87654321", "pii:landline", "021-87654321"),
        ("邮件 zhang.san@corp.example.cn 谢谢", "pii:email", "zhang.san@corp.example.cn"),
        ("手机①③⑧⓪⓪①③⑧⓪⓪⓪", "pii:mobile", "①③⑧⓪⓪①③⑧⓪⓪⓪"),
        ("手机壹叁捌零零壹叁捌零零零", "pii:mobile", "壹叁捌零零壹叁捌零零零"),
        ("QQ号：12345678", "advertising:messaging_id", "QQ号：12345678"),
    ],
)
def test_pii_found(screener: Screener, text: str, rule: str, span: str) -> None:
    found = {(f.rule, f.text) for f in screener.screen({"content": text}).findings}
    assert (rule, span) in found, found


@pytest.mark.parametrize(
    "text",
    [
        "编号360426199101010072",  # bad check digit
        "卡号4111111111111112",  # bad Luhn
        "订单号213800138000123",  # a mobile inside a longer number
        "版本号v2.13800138000",
        "价格12345678901234567890元",
        "2024年1月1日发布",
    ],
)
def test_pii_not_found(screener: Screener, text: str) -> None:
    assert not [f for f in screener.screen({"content": text}).findings if f.category == "pii"]
