"""The suite's store is a real server: data written is read back, and each test starts empty."""

import redis.asyncio as aredis


async def test_store_round_trip(redis: aredis.Redis) -> None:
    assert await redis.dbsize() == 0
    await redis.set(b"k", b"v")
    assert await redis.get(b"k") == b"v"


async def test_each_test_starts_empty(redis: aredis.Redis) -> None:
    assert await redis.dbsize() == 0
