"""Which channels a notice goes to: subscriptions by event, role, unit and person."""

from __future__ import annotations

import pytest

from gateway.notify.notice import Notice, Recipient
from gateway.notify.outbox import subscription_matches
from gateway.settings import NotifySubscription as Sub

HEAD_EAST = Recipient(role="unit_head", unit="sub_east")
BRAND_PR = Recipient(role="brand_pr")
EDITOR_7 = Recipient(role="editor", unit="sub_east", person="p7")


@pytest.mark.parametrize(
    ("sub", "event", "recipients", "expected"),
    [
        (Sub("c"), "submitted", (HEAD_EAST,), True),  # a catch-all
        (Sub("c"), "submitted", (), False),  # nobody to tell
        (Sub("c", events=("decided",)), "submitted", (HEAD_EAST,), False),
        (Sub("c", roles=("unit_head",)), "submitted", (HEAD_EAST,), True),
        (Sub("c", roles=("unit_head",)), "submitted", (BRAND_PR,), False),
        (Sub("c", roles=("unit_head",), units=("sub_west",)), "submitted", (HEAD_EAST,), False),
        (Sub("c", roles=("unit_head",), units=("sub_east",)), "submitted", (HEAD_EAST,), True),
        # a requirement of any unit (Brand-PR, leader) reaches unit-scoped subscriptions too
        (Sub("c", roles=("brand_pr",), units=("brand_pr",)), "alert", (BRAND_PR,), True),
        (Sub("c", people=("p7",)), "decided", (EDITOR_7,), True),
        (Sub("c", people=("p8",)), "decided", (EDITOR_7,), False),
        (Sub("c", people=("p7",)), "decided", (HEAD_EAST,), False),
        (Sub("c", roles=("editor",), units=("sub_east",)), "published", (EDITOR_7, BRAND_PR), True),
        (
            Sub("c", roles=("editor",), units=("sub_west",)),
            "published",
            (EDITOR_7, BRAND_PR),
            False,
        ),
    ],
)
def test_subscription_matches(
    sub: Sub, event: str, recipients: tuple[Recipient, ...], expected: bool
) -> None:
    notice = Notice(event=event, title="t", text="x", recipients=recipients)  # type: ignore[arg-type]
    assert subscription_matches(sub, notice) is expected
