"""`bsm-relay serve`: build the parts from the configuration and run the listener.

`Relay` owns the pieces with a lifetime (inspection workers, state store, forwarder, the
listening socket) so that tests can start one on port 0 inside their own event loop and
stop it again, exactly as `serve` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from typing import Any

import structlog

from relay import __version__
from relay.config import Config
from relay.inspect import InspectorPool, InspectSettings, build_settings
from relay.pipeline import Pipeline
from relay.quarantine import QuarantineStore
from relay.smtp import RelayHandler, RelaySMTP
from relay.state import StateStore, open_state
from relay.upstream import Forwarder, Resolver, build_forwarder


@dataclass
class Relay:
    config: Config
    resolver: Resolver | None = None
    inspector: Any = None  # an Inspector; the worker pool unless a test injects one
    forwarder: Forwarder | None = None
    state: StateStore | None = None
    pipeline: Pipeline | None = None
    server: asyncio.Server | None = None
    settings: InspectSettings | None = None
    log: Any = field(default_factory=lambda: structlog.get_logger("bsm-relay"))

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        cfg = self.config
        self.settings = settings = build_settings(cfg)
        if self.inspector is None:
            pool = InspectorPool(settings, cfg.server.inspect_workers, cfg.server.time_budget)
            await pool.start()
            self.inspector = pool
        self.forwarder = self.forwarder or build_forwarder(cfg, self.resolver)
        self.state = self.state or open_state(cfg.state_url)
        quarantine = QuarantineStore(cfg.quarantine_dir)
        self.pipeline = Pipeline(
            settings, self.inspector, self.forwarder, quarantine, self.state, self.log
        )
        handler = RelayHandler(self.pipeline, cfg.server.max_recipients)
        loop = asyncio.get_running_loop()

        def factory() -> RelaySMTP:
            return RelaySMTP(
                handler,
                hostname=cfg.server.hostname,
                data_size_limit=cfg.server.max_message_size,
                enable_SMTPUTF8=True,
                decode_data=False,
                timeout=cfg.server.session_timeout,
                loop=loop,
            )

        self.server = await loop.create_server(factory, cfg.server.host, cfg.server.port)
        self.log.info(
            "listening",
            version=__version__,
            listen=f"{cfg.server.host}:{self.port}",
            upstream=cfg.upstream.mode,
            config=cfg.source,
            approved_senders=len(cfg.approved_senders),
        )
        if not cfg.approved_senders:
            self.log.warning("no approved senders configured: any envelope sender is accepted")

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.server.wait_closed(), 5)
        if self.inspector is not None:
            await self.inspector.close()
        if self.forwarder is not None:
            await self.forwarder.close()
        if self.state is not None:
            await self.state.close()
        self.log.info("stopped")


async def serve(config: Config) -> None:
    """Run until SIGTERM or SIGINT."""
    relay = Relay(config)
    await relay.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await relay.stop()
