"""Replies to pipelined commands go out together (RFC 2920 3.1), over a real socket.

A client that pipelines (Postfix does: MAIL, RCPT and DATA in one packet) gets their replies
in one write, in order; a client that waits for each reply gets each at once. The writes are
observed, not replaced: asyncio's StreamWriter.write is wrapped to note what the relay's
sessions write, and still writes it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from harness import Sink, make_config
from mail import BUYER, SELLER, build
from rawsmtp import RawSMTP
from test_data_phase import stuffed


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every reply-shaped write (three digits first) made through a StreamWriter."""
    seen: list[bytes] = []
    original = asyncio.StreamWriter.write

    def noting(self: asyncio.StreamWriter, data: bytes) -> None:
        if data[:3].isdigit():
            seen.append(bytes(data))
        original(self, data)

    monkeypatch.setattr(asyncio.StreamWriter, "write", noting)
    return seen


async def test_pipelined_envelope_replies_share_one_write(
    tmp_path: Path, sink: Sink, start_relay, written: list[bytes]
) -> None:
    """MAIL, RCPT and DATA in one packet: the 250, 250 and 354 leave in one write, and the
    message is delivered as usual."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    message = build()
    client, _ = await RawSMTP.connect(relay.port)
    await client.command("EHLO pipelining.test")
    await client.send(f"MAIL FROM:<{SELLER}>\r\nRCPT TO:<{BUYER}>\r\nDATA\r\n".encode())
    codes = [(await client.reply()).code for _ in range(3)]
    await client.send(stuffed(message))
    final = await client.reply()
    await client.close()
    batch = next(w for w in written if w.startswith(b"250 2.1.0"))
    assert (codes, final.code, [m.data for m in sink.messages]) == ([250, 250, 354], 250, [message])
    assert [line[:3] for line in batch.split(b"\r\n") if line] == [b"250", b"250", b"354"]


async def test_a_client_that_waits_gets_each_reply_at_once(
    tmp_path: Path, sink: Sink, start_relay, written: list[bytes]
) -> None:
    """MAIL and RCPT sent one by one, each after its reply: each reply is its own write."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    client, _ = await RawSMTP.connect(relay.port)
    await client.command("EHLO lockstep.test")
    mail = await client.command(f"MAIL FROM:<{SELLER}>")
    rcpt = await client.command(f"RCPT TO:<{BUYER}>")
    await client.command("QUIT")
    await client.close()
    envelope = [w for w in written if w.startswith((b"250 2.1.0", b"250 2.1.5"))]
    assert ((mail.code, rcpt.code), [w.count(b"\r\n") for w in envelope]) == ((250, 250), [1, 1])


async def test_a_held_reply_goes_out_with_the_goodbye(
    tmp_path: Path, sink: Sink, start_relay, written: list[bytes]
) -> None:
    """NOOP and QUIT in one packet: the NOOP's 250 is not lost when the session ends; it
    leaves with the 221, before the connection closes."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    client, _ = await RawSMTP.connect(relay.port)
    await client.command("EHLO goodbye.test")
    await client.send(b"NOOP\r\nQUIT\r\n")
    codes = [(await client.reply()).code for _ in range(2)]
    closed = await client.closed()
    await client.close()
    last = written[-1]
    assert (codes, closed, [line[:3] for line in last.split(b"\r\n") if line]) == (
        [250, 221],
        True,
        [b"250", b"221"],
    )
