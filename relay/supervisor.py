"""`[server] workers = N`: N relay processes on one port, kept alive by a supervisor.

Each worker is a complete relay (`bsm-relay serve --worker I`) with its own listening socket
bound with SO_REUSEPORT, so the kernel spreads connections over the workers and every core
runs its own event loop and inspection process. Workers share only what lives outside them:
the state store and the quarantine folder (both safe for several processes) and the log file
(each line is one O_APPEND write).

The supervisor starts the workers, restarts one that dies (with a growing delay if it keeps
dying), forwards SIGHUP (reload) and, on SIGTERM or SIGINT, forwards the signal and waits for
the workers to drain. It binds the port first (with SO_REUSEPORT) so that `listen = ":0"`
resolves to one port all workers share, and so that a port in use is reported at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from relay.config import Config
from relay.errors import ConfigError

RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_SECONDS = 30.0  # a worker that ran this long is healthy again: its delay resets


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind (not listen) host:port with SO_REUSEPORT; resolves port 0 and finds conflicts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"server.listen: cannot bind {host}:{port}: {exc.strerror}") from exc
    return sock


@dataclass
class WorkerSlot:
    index: int
    proc: asyncio.subprocess.Process | None = None
    started: float = 0.0
    failures: int = 0
    restarts: int = 0


@dataclass
class Supervisor:
    config: Config
    config_path: str | None
    workers: int
    slots: list[WorkerSlot] = field(default_factory=list)
    port: int = 0
    stopping: bool = False
    log: Any = field(default_factory=lambda: structlog.get_logger("bsm-relay"))

    def command(self, index: int) -> list[str]:
        cmd = [sys.executable, "-m", "relay", "serve", "--worker", str(index),
               "--port", str(self.port)]  # fmt: skip
        return cmd + (["--config", self.config_path] if self.config_path else [])

    async def spawn(self, slot: WorkerSlot) -> None:
        slot.proc = await asyncio.create_subprocess_exec(*self.command(slot.index))
        slot.started = time.monotonic()
        self.log.info("worker-started", worker=slot.index, pid=slot.proc.pid)

    async def watch(self, slot: WorkerSlot) -> None:
        """Keep one worker alive until the supervisor stops."""
        while True:
            await self.spawn(slot)
            assert slot.proc is not None
            code = await slot.proc.wait()
            if self.is_stopping():
                return
            ran = time.monotonic() - slot.started
            slot.failures = 0 if ran >= STABLE_SECONDS else slot.failures + 1
            delay = RESTART_DELAYS[min(slot.failures, len(RESTART_DELAYS) - 1)]
            slot.restarts += 1
            self.log.error("worker-died", worker=slot.index, exit=code, ran_s=round(ran, 1),
                           restart_in_s=delay)  # fmt: skip
            await asyncio.sleep(delay)

    def is_stopping(self) -> bool:
        return self.stopping  # set by run() while a worker is being awaited

    def signal_all(self, sig: int) -> None:
        for slot in self.slots:
            if slot.proc is not None and slot.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    slot.proc.send_signal(sig)

    async def run(self) -> None:
        cfg = self.config
        reserved = reserve_port(cfg.server.host, cfg.server.port)
        self.port = int(reserved.getsockname()[1])
        self.slots = [WorkerSlot(i) for i in range(self.workers)]
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.signal_all(signal.SIGHUP))
        self.log.info("supervisor", workers=self.workers, listen=f"{cfg.server.host}:{self.port}",
                      pid=os.getpid())  # fmt: skip
        watchers = [asyncio.create_task(self.watch(slot)) for slot in self.slots]
        try:
            await stop.wait()
        finally:
            self.stopping = True
            self.log.info("draining", workers=self.workers, grace=cfg.server.shutdown_grace)
            self.signal_all(signal.SIGTERM)
            procs = [s.proc for s in self.slots if s.proc is not None]
            waits = asyncio.gather(*(p.wait() for p in procs))
            try:
                await asyncio.wait_for(waits, cfg.server.shutdown_grace + 10)
            except TimeoutError:
                self.signal_all(signal.SIGKILL)
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            reserved.close()
            self.log.info("stopped", workers=self.workers)
