"""The publish gate reads an account and the freeze that stops it in one round trip
(:meth:`FreezeSwitch.account_and_blocking`): the same answer as reading the account and then
:meth:`FreezeSwitch.blocking` for its unit, for every kind of freeze and awkward unit ids."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aredis

from gateway.accounts import Account, _dump
from gateway.freeze import FreezeSwitch
from gateway.keys import Keys

UNITS = ["sub_east", "华东分公司", 'we"ird\\unit', "unit:with:colons", "*", "", "\u202eevil"]


async def _store(redis: aredis.Redis, account: Account) -> None:
    await redis.set(Keys().account(account.id), _dump(account))


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize(
    "frozen",
    [
        [],
        [("all", "*")],
        [("unit", "{unit}")],
        [("account", "{account}")],
        [("unit", "other"), ("account", "other-account")],  # someone else's freezes only
        [("account", "{account}"), ("unit", "{unit}"), ("all", "*")],  # all wins, as before
    ],
)
async def test_one_read_answers_what_two_reads_answered(
    redis: aredis.Redis, unit: str, frozen: list[tuple[str, str]]
) -> None:
    switch = FreezeSwitch(redis, Keys())
    account = Account(id="acct-1", platform="wechat", name="公众号", unit=unit, state="active")
    await _store(redis, account)
    for scope, target in frozen:
        await switch.freeze(
            scope,  # type: ignore[arg-type]
            target.format(unit=unit, account=account.id),
            reason=f"冻结 {scope}",
            by="brand_pr",
        )
    raw, freeze = await switch.account_and_blocking(account.id)
    assert raw is not None and Account.from_json(raw) == account
    assert freeze == await switch.blocking(account=account.id, unit=unit)


async def test_no_account_no_freeze(redis: aredis.Redis) -> None:
    switch = FreezeSwitch(redis, Keys())
    await switch.freeze("all", "*", reason="x", by="y")
    assert await switch.account_and_blocking("missing") == (None, None)


async def test_a_record_that_is_not_json_still_gets_the_global_freeze(
    redis: aredis.Redis,
) -> None:
    # The unit cannot be read from a damaged record; the global and account freezes still are.
    switch = FreezeSwitch(redis, Keys())
    await redis.set(Keys().account("acct-2"), "{not json")
    assert (await switch.account_and_blocking("acct-2"))[1] is None
    await switch.freeze("account", "acct-2", reason="坏", by="brand_pr")
    raw, freeze = await switch.account_and_blocking("acct-2")
    assert raw == b"{not json" and freeze is not None and freeze.id == "acct-2"
    assert json.loads(json.dumps(freeze.public()))["scope"] == "account"
