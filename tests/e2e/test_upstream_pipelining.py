"""Upstream PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write, replies read together.

The next hop is a scripted SMTP server on a real socket: it answers each command from a
script and records every chunk of bytes it receives, so the tests see what went out in
which write, and what happens when the replies are refusals, arrive oddly, or never come.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from mail import BUYER, SELLER

from relay.errors import UpstreamPermanent, UpstreamTemporary
from relay.message import Envelope
from relay.upstream import SmarthostForwarder, SmtpOptions

CONTENT = b"Subject: hello\r\n\r\nThe parcel left today.\r\n"
OTHER_BUYER = "b2c3d4e5f6@marketplace.amazon.de"


@dataclass
class Script:
    """The replies the server gives, by command; `silent` verbs get no reply at all."""

    pipelining: bool = True
    replies: dict[str, list[str]] = field(default_factory=dict)
    content_reply: str = "250 2.0.0 Ok: queued as S1"
    silent: frozenset[str] = frozenset()
    hangup_at_mail: int = 0  # close the connection, unanswered, at this MAIL (1: the first)
    extra: bytes = b""  # sent after the reply to DATA, uninvited

    def reply(self, verb: str) -> str:
        queued = self.replies.get(verb)
        if queued:
            return queued.pop(0) if len(queued) > 1 else queued[0]
        return {"DATA": "354 go ahead", "QUIT": "221 bye"}.get(verb, "250 ok")


class ScriptedSession(asyncio.Protocol):
    def __init__(self, server: ScriptedServer) -> None:
        self.server, self.script = server, server.script
        self.buffer = b""
        self.in_data = False
        self.transport: Any = None
        self.chunks: list[bytes] = []
        self.delivered = 0

    def connection_made(self, transport: Any) -> None:  # uvloop's is no asyncio.Transport
        self.transport = transport
        self.server.sessions.append(self)
        transport.write(b"220 scripted ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffer += data
        out: list[bytes] = []
        while self.transport is not None:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0 and self.buffer != b".\r\n":
                    break
                self.buffer = self.buffer[end + 5 :] if end >= 0 else b""
                self.in_data = False
                self.delivered += end >= 0
                out.append(self.script.content_reply.encode() + b"\r\n")
                continue
            line, sep, rest = self.buffer.partition(b"\r\n")
            if not sep:
                break
            self.buffer = rest
            verb = line.split(b" ", 1)[0].split(b":", 1)[0].decode().upper()
            self.server.commands.append(line.decode())
            if verb in self.script.silent:
                continue
            mails = sum(c.startswith("MAIL") for c in self.server.commands)
            if verb == "MAIL" and mails == self.script.hangup_at_mail:
                self.transport.close()
                return
            if verb == "EHLO":
                offer = "250-PIPELINING\r\n" if self.script.pipelining else ""
                out.append(f"250-scripted\r\n{offer}250 SIZE 10000000\r\n".encode())
                continue
            reply = self.script.reply(verb)
            out.append(reply.encode() + b"\r\n")
            if verb == "DATA" and reply.startswith("354"):
                self.in_data = True
                out.append(self.script.extra)
        if out:  # like Postfix's smtpd: the replies to what arrived together, in one write
            self.transport.write(b"".join(out))


@dataclass
class ScriptedServer:
    script: Script
    sessions: list[ScriptedSession] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def delivered(self) -> int:
        return sum(s.delivered for s in self.sessions)


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[ScriptedServer]:
    """A scripted SMTP server on 127.0.0.1; set `.script` before the first connection."""
    scripted = ScriptedServer(Script())
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ScriptedSession(scripted), "127.0.0.1", 0)
    scripted.port = server.sockets[0].getsockname()[1]
    yield scripted
    server.close()
    for session in scripted.sessions:
        session.transport.close()
    await server.wait_closed()
    await asyncio.sleep(0.01)  # the closes complete before the loop does


def forwarder(port: int, timeout: float = 10.0) -> SmarthostForwarder:
    return SmarthostForwarder(
        "127.0.0.1", port, SmtpOptions("relay.test", starttls="off", timeout=timeout)
    )


async def forward(fwd: SmarthostForwarder, rcpts: tuple[str, ...] = (BUYER,)) -> str:
    return await fwd.forward(Envelope(SELLER, rcpts), CONTENT)


async def test_mail_rcpt_and_data_go_in_one_write(serve: ScriptedServer) -> None:
    """With PIPELINING offered, MAIL, both RCPTs and DATA leave in one write, the content in
    the next, and the final reply comes back."""
    fwd = forwarder(serve.port)
    reply = await forward(fwd, (BUYER, OTHER_BUYER))
    await fwd.close()
    group = (
        f"MAIL FROM:<{SELLER}> SIZE={len(CONTENT)}\r\n"
        f"RCPT TO:<{BUYER}>\r\nRCPT TO:<{OTHER_BUYER}>\r\nDATA\r\n"
    ).encode()
    chunks = serve.sessions[0].chunks
    expected = ("2.0.0 Ok: queued as S1", group, CONTENT + b".\r\n", 1)
    assert expected == (reply, chunks[1], chunks[2], serve.delivered)


async def test_without_pipelining_one_command_per_write(serve: ScriptedServer) -> None:
    """A next hop that does not offer PIPELINING gets each command on its own, after the
    reply to the one before."""
    serve.script.pipelining = False
    fwd = forwarder(serve.port)
    await forward(fwd)
    await fwd.close()
    chunks = serve.sessions[0].chunks
    expected = [b"MAIL FROM:", b"RCPT TO:", b"DATA\r\n", CONTENT]
    assert expected == [c[: len(e)] for c, e in zip(chunks[1:5], expected, strict=True)]


async def test_refused_sender_resets_and_keeps_the_connection(serve: ScriptedServer) -> None:
    """550 to MAIL (and 503s to what followed it) is the sender's refusal; the relay sends
    RSET, no content, and the next message goes over the same connection."""
    serve.script.replies = {
        "MAIL": ["550 5.7.1 Sender not allowed", "250 ok"],
        "RCPT": ["503 5.5.1 Need MAIL", "250 ok"],
        "DATA": ["503 5.5.1 No valid recipients", "354 go ahead"],
    }
    fwd = forwarder(serve.port)
    with pytest.raises(UpstreamPermanent) as refused:
        await forward(fwd)
    accepted = await forward(fwd)
    await fwd.close()
    expected = (550, "Sender not allowed", "RSET", 1, 1)
    actual = (refused.value.code, refused.value.text, serve.commands[4], serve.delivered,
              len(serve.sessions))  # fmt: skip
    assert (expected, "queued" in accepted) == (actual, True)


async def test_partial_refusal_is_reported_with_the_reply(serve: ScriptedServer) -> None:
    """One of two recipients refused: the message goes to the other, and the reply names
    the refused one."""
    serve.script.replies = {"RCPT": ["550 5.1.1 No such user", "250 ok"]}
    fwd = forwarder(serve.port)
    reply = await forward(fwd, (BUYER, OTHER_BUYER))
    await fwd.close()
    expected = f"Ok: queued as S1 (partially refused: {BUYER}: 550 5.1.1 No such user)"
    assert (expected, 1) == (reply.removeprefix("2.0.0 "), serve.delivered)


async def test_data_taken_without_recipients_ends_empty(serve: ScriptedServer) -> None:
    """Every RCPT refused but DATA answered 354 (RFC 2920 3.1): the relay ends the data at
    once with a lone dot, sends no content, resets, and reports the recipient's refusal."""
    serve.script.replies = {"RCPT": ["550 5.1.1 No such user"]}
    serve.script.content_reply = "554 5.5.1 No valid recipients"
    fwd = forwarder(serve.port)
    with pytest.raises(UpstreamPermanent) as refused:
        await forward(fwd)
    await fwd.close()
    chunks = serve.sessions[0].chunks
    expected = (550, "No such user", b".\r\n", b"RSET\r\n", 0)
    actual = (refused.value.code, refused.value.text, chunks[2], chunks[3], serve.delivered)
    assert expected == actual


async def test_pooled_connection_lost_at_the_commands_is_replaced(serve: ScriptedServer) -> None:
    """The next hop hangs up, unanswered, on the second message's commands: no content went
    out, so the message goes over a new connection, once."""
    serve.script.hangup_at_mail = 2
    fwd = forwarder(serve.port)
    first = await forward(fwd)
    second = await forward(fwd)
    await fwd.close()
    assert ("queued" in first, "queued" in second, 2, 2) == (
        True, True, serve.delivered, len(serve.sessions),
    )  # fmt: skip


async def test_closing_reply_to_mail_takes_a_new_connection(serve: ScriptedServer) -> None:
    """421 to MAIL on a pooled connection (the next hop is closing it) costs nothing: no
    content went out, so the message goes over a new connection."""
    fwd = forwarder(serve.port)
    await forward(fwd)
    serve.script.replies = {"MAIL": ["421 4.3.2 Shutting down", "250 ok"]}
    second = await forward(fwd)
    await fwd.close()
    assert ("queued" in second, 2, 2) == (True, serve.delivered, len(serve.sessions))


async def test_missing_reply_times_out_as_451(serve: ScriptedServer) -> None:
    """A next hop that never answers DATA: after the timeout the client hears 451 4.4.2,
    and the connection is not kept."""
    serve.script.silent = frozenset({"DATA"})
    fwd = forwarder(serve.port, timeout=0.3)
    with pytest.raises(UpstreamTemporary) as deferred:
        await forward(fwd)
    serve.script.silent = frozenset()
    again = await forward(fwd)
    await fwd.close()
    expected = (451, "4.4.2", True, 2)
    assert expected == (deferred.value.code, deferred.value.enhanced, "queued" in again,
                        len(serve.sessions))  # fmt: skip


async def test_uninvited_reply_is_temporary_and_closes(serve: ScriptedServer) -> None:
    """More replies than commands (the session is out of step): 451, the content is not
    sent, and the connection is not used again."""
    serve.script.extra = b"250 surprise\r\n"
    fwd = forwarder(serve.port)
    with pytest.raises(UpstreamTemporary) as deferred:
        await forward(fwd)
    serve.script.extra = b""
    again = await forward(fwd)
    await fwd.close()
    expected = (451, 0, True, 2)
    assert expected == (deferred.value.code, serve.sessions[0].delivered, "queued" in again,
                        len(serve.sessions))  # fmt: skip
