"""The inspection pool with real worker processes: requests queue in a worker's pipe, each
reply reaches the message it belongs to, and a worker that overruns its budget or dies takes
only the message it was working on; the ones queued behind it go to its replacement."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest
from mail import BUYER, SELLER, build

from relay.config import Config
from relay.inspect import MAX_QUEUED, QUEUE_BYTES, InspectorPool, _frame, build_settings
from relay.message import Envelope
from relay.policy.engine import Evaluation
from relay.policy.model import Action
from relay.policy.settings import PolicySettings

ENVELOPE = Envelope(SELLER, (BUYER,))
MakePool = Callable[..., Awaitable[InspectorPool]]


def message_ids(count: int) -> list[str]:
    return [f"<pool-{i}@mail.nordlicht-home.example>" for i in range(count)]


def submit(pool: InspectorPool, ids: list[str]) -> list[asyncio.Task[Evaluation]]:
    return [asyncio.create_task(pool.inspect(build(message_id=i), ENVELOPE)) for i in ids]


async def queued(pool: InspectorPool, count: int) -> int:
    """Wait (at most 10 s) until the only worker has `count` requests queued; how many."""
    for _ in range(1000):
        if len(pool._live[0].queue) >= count:
            break
        await asyncio.sleep(0.01)
    return len(pool._live[0].queue)


def held(ev: Evaluation) -> str:
    """The uninspectable finding's evidence, or '' when the message was inspected."""
    return next((f.evidence for f in ev.verdict.findings if f.rule == "uninspectable"), "")


@pytest.fixture
async def make_pool() -> AsyncIterator[MakePool]:
    pools: list[InspectorPool] = []

    async def make(size: int = 1, budget: float = 10.0) -> InspectorPool:
        pool = InspectorPool(build_settings(Config()), size, budget)
        await pool.start()
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


async def test_concurrent_messages_queue_and_each_gets_its_own_verdict(
    make_pool: MakePool,
) -> None:
    """Twelve messages at once on one (stopped) worker: MAX_QUEUED of them go into its pipe,
    the others wait their turn; once it runs again, every verdict carries the message id of
    the message it was asked about."""
    pool = await make_pool()
    pid = pool._live[0].proc.pid
    os.kill(pid, signal.SIGSTOP)
    ids = message_ids(12)
    tasks = submit(pool, ids)
    depth = await queued(pool, MAX_QUEUED)
    await asyncio.sleep(0.2)  # the other eight had time to push in, and must not have
    depth_later = len(pool._live[0].queue)
    os.kill(pid, signal.SIGCONT)
    results = await asyncio.wait_for(asyncio.gather(*tasks), 60)
    assert (depth, depth_later) == (MAX_QUEUED, MAX_QUEUED)
    assert ([r.facts.message_id for r in results], [held(r) for r in results]) == (ids, [""] * 12)


async def test_a_large_message_waits_for_an_empty_queue_and_keeps_its_turn(
    make_pool: MakePool,
) -> None:
    """Past QUEUE_BYTES a message is not queued behind another (each queued one holds a copy
    of its bytes), and a small one arriving after it does not overtake it: while the only
    worker is stopped with one message queued, the large one and the next small one both
    wait; then the three are answered in the order they came."""
    pool = await make_pool()
    pid = pool._live[0].proc.pid
    os.kill(pid, signal.SIGSTOP)
    ids = message_ids(3)
    large = build(
        message_id=ids[1], attachments=[("scan.pdf", "application/pdf", os.urandom(QUEUE_BYTES))]
    )
    order: list[str] = []

    async def inspect(raw: bytes) -> Evaluation:
        ev = await pool.inspect(raw, ENVELOPE)
        order.append(ev.facts.message_id)
        return ev

    first = asyncio.create_task(inspect(build(message_id=ids[0])))
    assert await queued(pool, 1) == 1
    rest = [
        asyncio.create_task(inspect(large)),
        asyncio.create_task(inspect(build(message_id=ids[2]))),
    ]
    await asyncio.sleep(0.5)
    depth = len(pool._live[0].queue)
    os.kill(pid, signal.SIGCONT)
    await asyncio.wait_for(asyncio.gather(first, *rest), 60)
    assert (len(large) > QUEUE_BYTES, depth, order) == (True, 1, ids)


async def test_messages_behind_a_dead_worker_go_to_its_replacement(make_pool: MakePool) -> None:
    """A worker killed from outside with three messages queued: the one it was working on
    is held (uninspectable); the two behind it are inspected by the new worker."""
    pool = await make_pool()
    first = pool._live[0]
    os.kill(first.proc.pid, signal.SIGSTOP)
    ids = message_ids(3)
    tasks = submit(pool, ids)
    assert await queued(pool, 3) == 3
    os.kill(first.proc.pid, signal.SIGKILL)
    results = await asyncio.wait_for(asyncio.gather(*tasks), 60)
    reasons = [held(r) for r in results]
    assert (reasons[0].startswith("inspection worker failed"), reasons[1:]) == (True, ["", ""])
    assert ([r.facts.message_id for r in results[1:]], pool._live[0] is first) == (ids[1:], False)


async def test_an_overrun_takes_only_the_message_at_the_head(make_pool: MakePool) -> None:
    """A stopped worker overruns a 1 s budget: it is killed once, the message at the head is
    held, and the two queued behind it get the replacement and a whole budget each."""
    pool = await make_pool(budget=1.0)
    pid = pool._live[0].proc.pid
    os.kill(pid, signal.SIGSTOP)
    ids = message_ids(3)
    tasks = submit(pool, ids)
    results = await asyncio.wait_for(asyncio.gather(*tasks), 60)
    assert [held(r) for r in results] == ["inspection took over 1 s", "", ""]
    assert ([r.facts.message_id for r in results], pool.killed) == (ids, 1)


async def test_a_cancelled_request_does_not_shift_the_replies(make_pool: MakePool) -> None:
    """The middle one of three queued messages is given up by its session: the other two
    still get their own verdicts, and the next message too."""
    pool = await make_pool()
    pid = pool._live[0].proc.pid
    os.kill(pid, signal.SIGSTOP)
    ids = message_ids(4)
    tasks = submit(pool, ids[:3])
    assert await queued(pool, 3) == 3
    tasks[1].cancel()
    os.kill(pid, signal.SIGCONT)
    done = await asyncio.wait_for(asyncio.gather(tasks[0], tasks[2]), 60)
    after = await asyncio.wait_for(pool.inspect(build(message_id=ids[3]), ENVELOPE), 60)
    assert [r.facts.message_id for r in (*done, after)] == [ids[0], ids[2], ids[3]]
    assert tasks[1].cancelled()


async def test_close_answers_what_is_still_queued(make_pool: MakePool) -> None:
    """Closing the pool with messages queued on a stopped worker: each is answered as held
    (the relay is shutting down), none is left waiting."""
    pool = await make_pool()
    os.kill(pool._live[0].proc.pid, signal.SIGSTOP)
    tasks = submit(pool, message_ids(2))
    assert await queued(pool, 2) == 2
    await pool.close()
    results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert [held(r) for r in results] == ["the relay is shutting down"] * 2


async def test_new_settings_apply_from_the_next_message_on(make_pool: MakePool) -> None:
    """A policy update while messages are queued: the two queued before it are checked under
    the old policy (phone numbers held), the one after it under the new (phone_number off)."""
    pool = await make_pool()
    pid = pool._live[0].proc.pid
    os.kill(pid, signal.SIGSTOP)
    raw = build(body="Rufen Sie uns an unter 030 9876 5432")
    before = [asyncio.create_task(pool.inspect(raw, ENVELOPE)) for _ in range(2)]
    assert await queued(pool, 2) == 2
    off = PolicySettings(overrides=(("phone_number", Action.OFF),))
    pool.update(replace(pool.settings, ctx=replace(pool.settings.ctx, settings=off)))
    after = asyncio.create_task(pool.inspect(raw, ENVELOPE))
    depth = await queued(pool, 4)  # the settings, then the message
    os.kill(pid, signal.SIGCONT)
    results = await asyncio.wait_for(asyncio.gather(*before, after), 60)
    assert (depth, ["phone_number" in r.verdict.rules for r in results]) == (
        4,
        [True, True, False],
    )


def test_a_worker_whose_relay_stopped_reading_exits_quietly() -> None:
    """A worker that finishes its warm-up after the relay process closed its end of the
    pipe (a stop during start-up): the reply meets a broken pipe, and the worker exits 0
    with nothing on stderr, no traceback in the relay's log."""
    setup = _frame(("setup", build_settings(Config())))  # the pool's own framing
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads the replies
    try:
        done = subprocess.run(
            [sys.executable, "-m", "relay.worker"], input=setup,
            stdout=write_end, stderr=subprocess.PIPE, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (0, "") == (done.returncode, done.stderr.decode())
