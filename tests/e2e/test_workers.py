"""`[server] workers = 2`: two SO_REUSEPORT worker processes under a supervisor."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from client import send
from harness import Sink
from mail import BUYER, SELLER, build
from peers import free_port, relay_toml, wait_port


def events(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


async def test_two_workers_share_the_port_and_a_dead_one_is_restarted(tmp_path: Path,
                                                                     sink: Sink) -> None:  # fmt: skip
    """Both workers take connections on one port; SIGKILL on one: the supervisor restarts it
    and mail keeps flowing; SIGTERM stops the supervisor and every worker."""
    port = free_port()
    log = tmp_path / "relay.log"
    (tmp_path / "relay.toml").write_text(
        relay_toml(port, sink.port, senders=(SELLER,), server="workers = 2", log=log)
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay", "serve", "--config", "relay.toml", cwd=tmp_path
    )
    try:
        await asyncio.to_thread(wait_port, port)
        while len([e for e in events(log) if e.get("event") == "listening"]) < 2:
            await asyncio.sleep(0.1)
        first = await asyncio.gather(*(send(port, SELLER, [BUYER], build()) for _ in range(40)))
        listening = {e["worker"]: e["pid"] for e in events(log) if e.get("event") == "listening"}
        os.kill(int(listening[1]), signal.SIGKILL)  # type: ignore[call-overload]
        while not any(e.get("event") == "worker-died" for e in events(log)):
            await asyncio.sleep(0.1)
        while len([e for e in events(log) if e.get("event") == "listening"]) < 3:
            await asyncio.sleep(0.1)
        second = [await send(port, SELLER, [BUYER], build()) for _ in range(10)]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    served = {e.get("worker") for e in events(log) if e.get("event") == "message"}
    pids = [e["pid"] for e in events(log) if e.get("event") == "listening"]
    assert {r.code for r in first + second} == {250}
    assert (len(sink.messages), served, code) == (50, {0, 1}, 0)
    alive = []
    for pid in pids:
        try:
            os.kill(int(pid), 0)  # type: ignore[call-overload]
            alive.append(pid)
        except ProcessLookupError:
            pass
    assert alive == []
