"""`bsm-relay serve`: build the parts from the configuration and run the listener.

`Relay` owns the pieces with a lifetime (inspection workers, state store, forwarder, the
listening socket, the metrics listener) so that tests can start one on port 0 inside their
own event loop and stop it again, exactly as `serve` does.

Signals: SIGTERM and SIGINT drain (stop accepting, let open transactions finish within
`shutdown_grace`, then 421 and close); SIGHUP reloads the policy file and the approved senders
without touching a connection (an invalid file keeps the running policy and logs why).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import structlog

from relay import __version__
from relay.access import Gatekeeper
from relay.config import Config, TLSConfig, load_config
from relay.errors import ConfigError
from relay.handler import RelayHandler
from relay.inspect import InspectorPool, InspectSettings, build_settings, with_policy
from relay.metrics import Metrics, MetricsServer
from relay.passwords import Users, load_users
from relay.pipeline import Pipeline
from relay.quarantine import QuarantineStore
from relay.smtp import RelaySMTP
from relay.state import StateStore, open_state
from relay.upstream import Forwarder, Resolver, build_forwarder


@dataclass
class Relay:
    config: Config
    config_path: str | None = None  # reread on SIGHUP
    resolver: Resolver | None = None
    inspector: Any = None  # an Inspector; the worker pool unless a test injects one
    forwarder: Forwarder | None = None
    state: StateStore | None = None
    pipeline: Pipeline | None = None
    handler: RelayHandler | None = None
    server: asyncio.Server | None = None
    settings: InspectSettings | None = None
    metrics: Metrics | None = None
    metrics_server: MetricsServer | None = None
    metrics_port: int = 0
    worker: int | None = None  # index under a supervisor: SO_REUSEPORT, metrics port + index
    log: Any = field(default_factory=lambda: structlog.get_logger("bsm-relay"))

    # Commands a session may repeat: generous for MAIL/RCPT/DATA (an MTA sends many messages
    # per connection), tight for those only a prober needs many of.
    CALL_LIMITS: ClassVar[dict[str, int]] = {
        "AUTH": 6, "STARTTLS": 2, "EHLO": 20, "HELO": 20, "NOOP": 50, "VRFY": 5, "EXPN": 5,
        "HELP": 10, "RSET": 2000, "*": 20000,
    }  # fmt: skip

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
        self.metrics = Metrics(cfg.quarantine_dir)
        quarantine = QuarantineStore(cfg.quarantine_dir)
        self.pipeline = Pipeline(settings, self.inspector, self.forwarder, quarantine, self.state,
                                 self.log, self.metrics, profile_quarantines(cfg))  # fmt: skip
        users = load_users(cfg.access.users_file) if cfg.access.users_file else None
        tls_context = server_tls_context(cfg.tls) if cfg.tls.enabled else None
        self.handler = handler = RelayHandler(
            self.pipeline,
            cfg.server.max_recipients,
            cfg.access.networks,
            Gatekeeper(cfg.access.limits),
            users,
            shared_limits=cfg.access.shared_limits,
            proxy_networks=cfg.server.proxy_networks if cfg.server.proxy_protocol else None,
        )
        handler.profile_for = profile_lookup(cfg)
        loop = asyncio.get_running_loop()

        def factory() -> RelaySMTP:
            return RelaySMTP(
                handler,
                hostname=cfg.server.hostname,
                data_size_limit=cfg.server.max_message_size,
                enable_SMTPUTF8=True,
                decode_data=False,
                timeout=cfg.server.session_timeout,
                data_timeout=cfg.server.data_timeout,
                tls_context=tls_context,
                require_starttls=cfg.tls.require,
                command_call_limit=self.CALL_LIMITS,
                proxy_protocol_timeout=10.0 if cfg.server.proxy_protocol else None,
                loop=loop,
            )

        self.server = await loop.create_server(factory, cfg.server.host, cfg.server.port,
                                               reuse_port=self.worker is not None)  # fmt: skip
        if cfg.metrics.address is not None:
            host, port = cfg.metrics.address
            self.metrics_server = MetricsServer(self.metrics, self.health)
            self.metrics_port = await self.metrics_server.start(
                host, port + self.worker if port and self.worker else port
            )
        self.log.info(
            "listening",
            version=__version__,
            listen=f"{cfg.server.host}:{self.port}",
            metrics=f"{cfg.metrics.address[0]}:{self.metrics_port}"
            if cfg.metrics.address
            else None,
            upstream=cfg.upstream.mode,
            starttls="required" if cfg.tls.require else ("offered" if cfg.tls.enabled else "off"),
            auth_users=len(users) if users is not None else 0,
            networks=[str(n) for n in cfg.access.networks],
            config=cfg.source,
            worker=self.worker,
            approved_senders=len(cfg.approved_senders),
            pid=os.getpid(),
        )
        if not cfg.approved_senders:
            self.log.warning("no approved senders configured: any envelope sender is accepted")

    def health(self) -> dict[str, Any]:
        draining = self.handler is not None and self.handler.draining
        serving = self.server is not None and self.server.is_serving()
        writable = (
            os.access(self.config.quarantine_dir, os.W_OK)
            or not self.config.quarantine_dir.exists()
        )
        ok = serving and not draining and writable
        return {
            "status": "ok" if ok else "unavailable",
            "version": __version__,
            "serving": serving,
            "draining": draining,
            "sessions": len(self.handler.sessions) if self.handler else 0,
            "quarantine_writable": writable,
            "upstream": self.config.upstream.mode,
        }

    async def reload(self) -> bool:
        """Reread the configuration file; apply its policy and senders if it is valid."""
        if self.config_path is None or self.pipeline is None or self.settings is None:
            return False
        assert self.metrics is not None
        try:
            fresh = await asyncio.to_thread(load_config, self.config_path)
        except ConfigError as exc:
            self.metrics.policy_reloads.labels("invalid").inc()
            self.log.error("reload-refused", reason=str(exc), kept="the running policy")
            return False
        users: Users | None = None
        if fresh.access.users_file:
            try:
                users = await asyncio.to_thread(load_users, fresh.access.users_file)
            except ConfigError as exc:
                self.metrics.policy_reloads.labels("invalid").inc()
                self.log.error("reload-refused", reason=str(exc), kept="the running policy")
                return False
        if self.handler is not None:
            self.handler.users = users
            self.handler.networks = fresh.access.networks
            self.handler.profile_for = profile_lookup(fresh)
        self.pipeline.profile_quarantines = profile_quarantines(fresh)
        self.settings = with_policy(self.settings, fresh)
        self.pipeline.update(self.settings)
        self.config = dataclasses.replace(
            self.config,
            policy=fresh.policy,
            approved_senders=fresh.approved_senders,
            policy_file=fresh.policy_file,
            profiles=fresh.profiles,
            access=dataclasses.replace(
                self.config.access,
                networks=fresh.access.networks,
                users_file=fresh.access.users_file,
            ),
        )
        self.metrics.policy_reloads.labels("applied").inc()
        self.log.info(
            "reloaded",
            policy_file=fresh.policy_file or None,
            overrides=len(fresh.policy.overrides),
            approved_senders=len(fresh.approved_senders),
        )
        return True

    async def drain(self, grace: float | None = None) -> None:
        """Stop accepting; give open transactions `grace` seconds; then 421 to the rest."""
        if self.handler is None or self.server is None:
            return
        self.handler.draining = True
        self.server.close()
        if not self.handler.sessions:
            self.handler.all_closed.set()
        for session in list(self.handler.sessions):
            if session.idle:
                await session.goodbye()
        wait = self.config.server.shutdown_grace if grace is None else grace
        if self.handler.sessions and wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.handler.all_closed.wait(), wait)
        for session in list(self.handler.sessions):
            await session.goodbye()

    async def stop(self, grace: float | None = 0.0) -> None:
        await self.drain(grace)
        if self.server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.server.wait_closed(), 5)
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        if self.inspector is not None:
            await self.inspector.close()
        if self.forwarder is not None:
            await self.forwarder.close()
        if self.state is not None:
            await self.state.close()
        self.log.info("stopped")


def profile_quarantines(cfg: Config) -> dict[str, QuarantineStore]:
    """Each agency profile's own quarantine subfolder."""
    return {p.name: QuarantineStore(cfg.quarantine_dir / p.quarantine_subdir) for p in cfg.profiles}


def profile_lookup(cfg: Config) -> Callable[[str, str], str]:
    def lookup(sender: str, user: str) -> str:
        profile = cfg.profile_for(sender, user)
        return profile.name if profile is not None else ""

    return lookup


def server_tls_context(tls: TLSConfig) -> ssl.SSLContext:
    """The listener's STARTTLS context (TLS 1.2 or newer); a bad file stops start-up."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(tls.cert, tls.key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"tls.cert/tls.key: cannot load {tls.cert}: {exc}") from exc
    return ctx


async def serve(config: Config, config_path: str | None = None, worker: int | None = None) -> None:
    """Run until SIGTERM or SIGINT (drain, then stop); SIGHUP reloads the policy. With
    `[server] workers` above 1 this process supervises that many worker processes."""
    if worker is None and config.server.workers > 1:
        from relay.supervisor import Supervisor

        await Supervisor(config, config_path, config.server.workers).run()
        return
    if worker is not None:
        structlog.contextvars.bind_contextvars(worker=worker)
    relay = Relay(config, config_path, worker=worker)
    await relay.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[bool]] = set()

    def on_hup() -> None:
        task = loop.create_task(relay.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    try:
        await stop.wait()
        relay.log.info("draining", grace=config.server.shutdown_grace)
    finally:
        await relay.stop(grace=None)
