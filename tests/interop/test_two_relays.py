"""Two relay processes, one redis-server, one quarantine folder: they act as one relay."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from client import send
from harness import Sink
from interop_tools import RedisServer
from mail import BUYER, SELLER, build
from peers import free_port, relay_toml, wait_port

ORDER = "302-7226181-5477893"


def neutral_request(text: str) -> bytes:
    return build(subject=f"Ihre Bestellung {ORDER}", reply=False,
                 body=f"Hallo,\n\n{text} ({ORDER})\n\nGruß\nLukas")  # fmt: skip


def write_config(workdir: Path, port: int, sink_port: int, redis_url: str, shared: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "relay.toml"
    shared_parts = (f'[state]\nurl = "{redis_url}"\n[quarantine]\ndir = "{shared}"\n'
                    "[access]\nshared_limits = true\n")  # fmt: skip
    path.write_text(relay_toml(port, sink_port, senders=(SELLER,), sections=shared_parts,
                               log=workdir / "relay.log"))  # fmt: skip
    return path


async def release(config: Path, entry: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay", "quarantine", "release", entry, "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, (out + err).decode()


async def test_two_relays_share_review_history_and_quarantine(
    tmp_path: Path, sink: Sink, redis_server: RedisServer
) -> None:
    """The first neutral review request for an order passes relay A; the second, sent to B, is
    rejected as review_repeat. A message held by A, released from A and B at once, is
    delivered exactly once."""
    shared = tmp_path / "shared-quarantine"
    ports = [free_port(), free_port()]
    configs = [write_config(tmp_path / name, port, sink.port, redis_server.url, shared)
               for name, port in zip("ab", ports, strict=True)]  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-m", "relay", "serve", "--config", str(c)],
                              cwd=c.parent) for c in configs]  # fmt: skip
    try:
        for port, proc in zip(ports, procs, strict=True):
            await asyncio.to_thread(wait_port, port, proc)
        first = await send(ports[0], SELLER, [BUYER], neutral_request(
            "Teilen Sie Ihre Erfahrung gern in einer Bewertung auf Amazon."))  # fmt: skip
        second = await send(ports[1], SELLER, [BUYER], neutral_request(
            "Wir möchten Sie noch einmal an Ihre Bewertung erinnern."))  # fmt: skip
        held = await send(ports[0], SELLER, [BUYER],
                          build(body="Rufen Sie uns an: +49 30 1234567", subject="AW: Rückruf"))  # fmt: skip
        entry = re.search(r"quarantine as (\S+)", held.text)
        assert entry is not None, held.text
        sink.delay = 0.5  # keep the first release in flight while the other one arrives
        results = await asyncio.gather(*(release(c, entry.group(1)) for c in configs))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(20)
    assert (first.code, second.code, "review_repeat" in second.text) == (250, 550, True)
    assert sorted(code for code, _ in results) == [0, 1]
    assert [m.data.count(b"+49 30 1234567") for m in sink.messages[1:]] == [1]
    assert len(sink.messages) == 2  # the review request and the released message
