"""Interaction texts are screened as posts are: table-driven, adversarial spellings included."""

from __future__ import annotations

from tests.delivery.conftest import Gateway
from tests.gateway.interactions.conftest import OPS, Targets
from tests.gateway.interactions.helpers import assess, submit

# text, decision, roles an operator's comment then needs
CASES = [
    ("感谢关注，欢迎留言！", "pass", []),
    ("本文件属于绝密级别，请勿外传。", "block", []),
    ("绝\u200b密文件请勿外传", "block", []),  # a zero-width space inside the term
    ("xi近平来了", "block", []),  # pinyin mixed with hanzi: political evasion
    ("前三季度营收同比增长23%", "review", ["brand_pr", "leader"]),  # Art. 14
    ("董事长王建国表示感谢", "review", ["brand_pr"]),  # Art. 17(2)
    ("加我微信 13812345678", "review", ["brand_pr"]),  # a private phone number
]


async def test_screening_table(gw: Gateway, targets: Targets) -> None:
    post = await targets.post("weibo")
    for text, decision, roles in CASES:
        request = {
            "account": OPS["weibo"],
            "kind": "comment",
            "target": {"post": post},
            "text": text,
        }
        assessed = await assess(gw, request)
        assert assessed["decision"] == decision, (text, assessed)
        if decision == "block":
            status, problem, _ = await submit(gw, request)
            assert status == 422 and problem["type"].endswith("content-blocked"), (text, problem)
        else:
            assert sorted(assessed["required_roles"]) == roles, (text, assessed)
