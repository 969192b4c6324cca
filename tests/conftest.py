"""Shared fixtures: an aiosmtpd sink as the upstream, and relays started in the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvloop

sys.path.insert(0, str(Path(__file__).parent))

from harness import Sink

from relay.config import Config
from relay.server import Relay

# `bsm-relay serve` runs on uvloop by default; the tests of what the SMTP adapter does with
# the socket (STARTTLS, the DATA reader, smuggling probes, the SMTP outcomes, the upstream
# transaction, pipelined or not) run on both loops, the rest on the standard library's.
BOTH_LOOPS = {
    "test_access.py",
    "test_data_phase.py",
    "test_smuggling.py",
    "test_outcomes.py",
    "test_upstream_pipelining.py",
    "test_upstream_modes.py",
}


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    if item.path.name in BOTH_LOOPS:
        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[Sink]:
    """An aiosmtpd server on 127.0.0.1 that records what the relay forwards."""
    s = Sink()
    await s.start()
    yield s
    await s.stop()


@pytest_asyncio.fixture
async def start_relay(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start relays in this test's loop; all are stopped at the end."""
    started: list[Relay] = []

    async def start(config: Config, **parts: Any) -> Relay:
        relay = Relay(config, **parts)
        await relay.start()
        started.append(relay)
        return relay

    yield start
    for relay in started:
        with contextlib.suppress(Exception):
            await relay.stop()
