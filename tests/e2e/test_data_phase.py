"""The bulk DATA reader over a real socket: every way a client may write DATA.

The relay reads DATA content in bulk (relay.dataphase); these tests send the same message in
the ways clients do (one write, one byte per write, commands pipelined behind the end of
data, content sent before the 354, dot-stuffed lines) and check what the upstream sink
received and which replies came back, in order.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from harness import Sink, make_config
from mail import BUYER, SELLER, build
from rawsmtp import RawSMTP


def stuffed(message: bytes) -> bytes:
    """The message as DATA content on the wire: dot-stuffed, ended by <CRLF>.<CRLF>."""
    lines = message.split(b"\r\n")
    return b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in lines) + b".\r\n"


async def _envelope(client: RawSMTP) -> None:
    await client.command("EHLO data.test")
    await client.command(f"MAIL FROM:<{SELLER}>")
    await client.command(f"RCPT TO:<{BUYER}>")


async def test_one_byte_per_write_arrives_whole(tmp_path: Path, sink: Sink, start_relay) -> None:
    """A message written one byte at a time reaches the upstream byte for byte."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    message = build("Hallo Frau Jung,\n\n.Punkt am Zeilenanfang\n..zwei\n\nViele Grüße")
    client, _ = await RawSMTP.connect(relay.port)
    await _envelope(client)
    assert 354 == (await client.command("DATA")).code
    for byte in stuffed(message):
        client.writer.write(bytes([byte]))
        await client.writer.drain()
    assert 250 == (await client.reply()).code
    await client.close()
    assert [message] == [m.data for m in sink.messages]


async def test_commands_behind_the_end_of_data(tmp_path: Path, sink: Sink, start_relay) -> None:
    """NOOP, RSET and QUIT written in the same packet as the end of data are answered after
    the DATA reply, in order."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    message = build()
    client, _ = await RawSMTP.connect(relay.port)
    await _envelope(client)
    assert 354 == (await client.command("DATA")).code
    await client.send(stuffed(message) + b"NOOP\r\nRSET\r\nQUIT\r\n")
    codes = [(await client.reply()).code for _ in range(4)]
    await client.close()
    assert ([250, 250, 250, 221], [message]) == (codes, [m.data for m in sink.messages])


async def test_content_sent_before_354(tmp_path: Path, sink: Sink, start_relay) -> None:
    """A client that writes its content right behind DATA (not waiting for 354) still gets
    354, then the final reply, and the message arrives whole (aiosmtpd reads it the same)."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    message = build()
    client, _ = await RawSMTP.connect(relay.port)
    await _envelope(client)
    await client.send(b"DATA\r\n" + stuffed(message))
    codes = [(await client.reply()).code, (await client.reply()).code]
    await client.close()
    assert ([354, 250], [message]) == (codes, [m.data for m in sink.messages])


async def test_limits_answer_and_session_goes_on(tmp_path: Path, sink: Sink, start_relay) -> None:
    """A line over 1,000 bytes gets 500 5.5.2, a message over the size limit 552 5.3.4;
    neither reaches the upstream and the same session then delivers a good message."""
    relay = await start_relay(make_config(tmp_path, sink.port, server={"max_message_size": 20_000}))
    client, _ = await RawSMTP.connect(relay.port)
    replies = []
    too_long = b"Subject: x\r\n\r\n" + b"y" * 1500 + b"\r\n"
    too_big = b"Subject: x\r\n\r\n" + (b"z" * 70 + b"\r\n") * 400
    for content in (too_long, too_big, build()):
        await _envelope(client)
        await client.command("DATA")
        await client.send(stuffed(content))
        replies.append((await client.reply()).lines[-1][:9])
        await client.command("RSET")
    await client.close()
    assert ["500 5.5.2", "552 5.3.4", "250 2.0.0"] == replies
    assert 1 == len(sink.messages)


async def test_lost_connection_mid_data_frees_the_session(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """A client that disconnects half-way through DATA leaves nothing upstream, and the
    relay keeps serving others."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    client, _ = await RawSMTP.connect(relay.port)
    await _envelope(client)
    await client.command("DATA")
    await client.send(build()[:300])
    await client.close()
    await asyncio.sleep(0.2)
    other, _ = await RawSMTP.connect(relay.port)
    await _envelope(other)
    await other.command("DATA")
    await other.send(stuffed(build()))
    assert 250 == (await other.reply()).code
    await other.close()
    assert 1 == len(sink.messages)


async def test_a_reply_to_a_client_that_is_gone_is_dropped(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """The client's connection is lost just as the relay answers (the forward done, the
    reply due): the reply is dropped quietly instead of raising from a closed transport
    (uvloop raises RuntimeError, asyncio's drain ConnectionResetError), and the relay
    serves the next client."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    client, _ = await RawSMTP.connect(relay.port)
    await client.command("EHLO gone.test")
    session = next(iter(relay.handler.sessions))
    session.transport.abort()
    await asyncio.sleep(0.05)  # the loop closes the socket and calls connection_lost
    await session.push("250 2.0.0 Ok: queued")
    await client.close()
    other, _ = await RawSMTP.connect(relay.port)
    await _envelope(other)
    await other.command("DATA")
    await other.send(stuffed(build()))
    assert (250, 1) == ((await other.reply()).code, len(sink.messages))
    await other.close()
