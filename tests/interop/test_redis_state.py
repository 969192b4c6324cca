"""The state store on a real redis-server: atomic claims, TTLs, counters, clear failures."""

from __future__ import annotations

import asyncio

import pytest
from interop_tools import RedisServer

from relay.errors import StoreError
from relay.state import REVIEW_TTL, RedisState, open_state

ORDER = "302-7226181-5477893"


async def test_claim_is_exclusive_across_clients(redis_server: RedisServer) -> None:
    """Twenty clients (as twenty relays) claim one order at once: exactly one wins."""
    stores = [open_state(redis_server.url) for _ in range(20)]
    results = await asyncio.gather(
        *(s.claim_review(ORDER, f"<m{i}@x>") for i, s in enumerate(stores))
    )
    seen = await stores[0].reviewed(ORDER)
    for s in stores:
        await s.close()
    assert (results.count(True), seen) == (1, True)


async def test_release_only_drops_its_own_claim(redis_server: RedisServer) -> None:
    """A failed delivery releases its own claim; another message's release changes nothing."""
    store = RedisState(redis_server.url)
    await store.claim_review(ORDER, "<a@x>")
    await store.release_review(ORDER, "<b@x>")
    still = await store.reviewed(ORDER)
    await store.release_review(ORDER, "<a@x>")
    gone = not await store.reviewed(ORDER)
    again = await store.claim_review(ORDER, "<c@x>")
    ttl = await store.client.ttl(f"bsm:review:{ORDER}")
    await store.close()
    assert (still, gone, again, REVIEW_TTL - 5 < ttl <= REVIEW_TTL) == (True, True, True, True)


async def test_counters_are_shared_and_expire(redis_server: RedisServer) -> None:
    """Two clients count into one counter; it expires after its window."""
    a, b = RedisState(redis_server.url), RedisState(redis_server.url)
    values = [await a.incr("rate:10.0.0.1:1", 1), await b.incr("rate:10.0.0.1:1", 1),
              await a.incr("rate:10.0.0.1:1", 1)]  # fmt: skip
    await asyncio.sleep(1.2)
    after = await b.incr("rate:10.0.0.1:1", 1)
    await a.close()
    await b.close()
    assert (values, after) == ([1, 2, 3], 1)


async def test_unreachable_redis_is_a_store_error(redis_server: RedisServer) -> None:
    """Redis down: StoreError naming the URL (the pipeline answers 451, the client retries)."""
    store = RedisState(redis_server.url)
    redis_server.proc.terminate()
    redis_server.proc.wait(10)
    with pytest.raises(StoreError) as info:
        await store.claim_review(ORDER, "<a@x>")
    await store.close()
    assert str(redis_server.port) in str(info.value)
