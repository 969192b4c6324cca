"""Faults one at a time: a slow upstream, an unwritable or full quarantine, a relay killed
with SIGKILL in the middle of a transaction. In every case the client either got a 250 with a
durable copy somewhere, or no 250 at all (so its mail system keeps the message and retries).
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from client import send
from harness import Sink, make_config
from mail import BUYER, SELLER, build
from peers import free_port, relay_toml
from rawsmtp import RawSMTP

import relay.quarantine

HELD = build(body="Rufen Sie uns an: +49 30 12345678", subject="AW: Rückruf")  # phone: held


async def test_slow_upstream_times_out_with_451(tmp_path: Path, sink: Sink, start_relay) -> None:
    """An upstream slower than upstream.timeout gives 451 4.4.2; the client keeps the message."""
    sink.delay = 2.0
    cfg = make_config(tmp_path, sink.port, upstream={"timeout": 0.5})
    relay = await start_relay(cfg)
    reply = await send(relay.port, SELLER, [BUYER], build())
    assert (reply.code, reply.text.split()[0][:2]) == (451, "4.")


async def test_unwritable_quarantine_gives_451(tmp_path: Path, sink: Sink, start_relay) -> None:
    """A quarantine folder that cannot be created or written: 451, never a 250 without a copy."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the quarantine folder's parent should be")
    cfg = make_config(tmp_path, sink.port, quarantine_dir=blocker / "quarantine")
    relay = await start_relay(cfg)
    reply = await send(relay.port, SELLER, [BUYER], HELD)
    assert (reply.code, "store the message safely" in reply.text) == (451, True)
    assert sink.messages == []


async def test_full_quarantine_gives_451_and_leaves_no_orphan(
    tmp_path: Path, sink: Sink, start_relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while writing the entry's .json: 451, and the .eml written just before is gone."""
    real_write = relay.quarantine.atomic_write

    def full_disk(path: Path, content: object) -> None:
        if path.suffix == ".json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(path, content)  # type: ignore[arg-type]

    monkeypatch.setattr(relay.quarantine, "atomic_write", full_disk)
    cfg = make_config(tmp_path, sink.port)
    started = await start_relay(cfg)
    reply = await send(started.port, SELLER, [BUYER], HELD)
    folder = cfg.quarantine_dir
    left = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert (reply.code, left, sink.messages) == (451, [], [])


def _start_relay(workdir: Path, upstream_port: int, port: int) -> subprocess.Popen[bytes]:
    (workdir / "relay.toml").write_text(
        relay_toml(port, upstream_port, senders=(SELLER,), log="relay.log")
    )
    return subprocess.Popen([sys.executable, "-m", "relay", "serve", "--config", "relay.toml"],
                            cwd=workdir)  # fmt: skip


async def _wait_listening(port: int, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.05)):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"relay not listening on {port}")


async def test_sigkill_mid_data_gives_no_250_and_forwards_nothing(tmp_path: Path, sink: Sink):
    """SIGKILL while the client is half-way through DATA: the client sees the connection die
    without a 250, nothing reaches the upstream or the quarantine, and its retry to the
    restarted relay is delivered exactly once."""
    port = free_port()
    proc = _start_relay(tmp_path, sink.port, port)
    await _wait_listening(port)
    message = build()
    client, _ = await RawSMTP.connect(port)
    await client.command("EHLO client.test")
    await client.command(f"MAIL FROM:<{SELLER}>")
    await client.command(f"RCPT TO:<{BUYER}>")
    assert (await client.command("DATA")).code == 354
    await client.send(message[: len(message) // 2])
    await asyncio.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    last = await client.reply()
    await client.close()
    assert last.code == 0  # the connection closed, no reply at all
    assert sink.messages == []
    quarantine = tmp_path / "var" / "quarantine"
    assert not quarantine.exists() or list(quarantine.iterdir()) == []

    proc = _start_relay(tmp_path, sink.port, port)  # the sending MTA retries later
    try:
        await _wait_listening(port)
        retry = await send(port, SELLER, [BUYER], message)
    finally:
        proc.terminate()
        proc.wait(15)
    assert (retry.code, len(sink.messages)) == (250, 1)


class StallingUpstream:
    """A hand-written SMTP upstream that takes the first bytes of DATA, then stops reading,
    so the relay is caught mid-stream; it reports whether a complete message ever arrived."""

    def __init__(self) -> None:
        self.streaming = asyncio.Event()
        self.complete = False
        self.received = 0
        self.server: asyncio.AbstractServer | None = None

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 stall.test ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-stall.test\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                data = await reader.read(65536)
                self.received += len(data)
                self.streaming.set()
                await asyncio.sleep(1.5)  # stop reading while the relay is killed
                while chunk := await reader.read(1 << 20):
                    data += chunk
                    self.received += len(chunk)
                self.complete = data.endswith(b"\r\n.\r\n")
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.session, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])


async def test_sigkill_while_upstream_receives_leaves_it_incomplete(tmp_path: Path) -> None:
    """SIGKILL while the relay streams a message upstream: the upstream never sees the final
    dot, so it must discard the transaction; the client never got a 250 and retries."""
    upstream = StallingUpstream()
    upstream_port = await upstream.start()
    port = free_port()
    proc = _start_relay(tmp_path, upstream_port, port)
    pdf = b"%PDF-1.4\n" + os.urandom(6_000_000)
    big = build(attachments=[("katalog.pdf", "application/pdf", pdf)])
    try:
        await _wait_listening(port)
        client, _ = await RawSMTP.connect(port)
        await client.command("EHLO client.test")
        await client.command(f"MAIL FROM:<{SELLER}>")
        await client.command(f"RCPT TO:<{BUYER}>")
        await client.command("DATA")
        await client.send(big + b".\r\n")
        await asyncio.wait_for(upstream.streaming.wait(), 30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        last = await client.reply()
        await client.close()
        await asyncio.sleep(2.0)  # the upstream drains what the kernel still had
    finally:
        if proc.poll() is None:
            proc.kill()
        assert upstream.server is not None
        upstream.server.close()
    assert (last.code, upstream.complete, upstream.received > 0) == (0, False, True)
