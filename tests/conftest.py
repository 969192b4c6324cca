"""Shared fixtures: an aiosmtpd sink as the upstream, and relays started in the test's loop."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

sys.path.insert(0, str(Path(__file__).parent))

from harness import Sink

from relay.config import Config
from relay.server import Relay


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
