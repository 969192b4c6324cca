"""Command groups on an aiosmtplib connection (RFC 2920 PIPELINING, the client side).

aiosmtplib sends one command and reads one reply: a round trip each for MAIL, every RCPT and
DATA, and its protocol keeps only one reply at a time (a second one arriving before the
first is picked up is dropped). Where the next hop offers PIPELINING, the relay writes
MAIL, the RCPTs and DATA in one write and reads their replies together, as Postfix's smtp
client does. For the replies the connection's transport is lent to `ReplyCollector`, a
protocol that keeps every reply in order until it has as many as commands were sent; then
the transport goes back to aiosmtplib's protocol, which writes the content and reads the
final reply as usual. A connection lost meanwhile is passed on to aiosmtplib's protocol too,
so the client knows it is closed.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiosmtplib
from aiosmtplib.typing import SMTPStatus

_MAX_REPLY = 8192  # bytes of one reply line before it counts as garbage
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")  # what aiosmtplib refuses in a command, too


class ReplyCollector(asyncio.Protocol):
    """Borrows a transport from aiosmtplib's protocol until `count` replies have arrived."""

    def __init__(self, owner: Any, count: int, loop: asyncio.AbstractEventLoop) -> None:
        self.owner = owner  # aiosmtplib's SMTPProtocol, which gets the transport back
        self.count = count
        self.replies: list[aiosmtplib.SMTPResponse] = []
        self.done: asyncio.Future[list[aiosmtplib.SMTPResponse]] = loop.create_future()
        self._buffer = bytearray()
        self._lines: list[bytes] = []  # the lines of a reply that continues ("250-...")

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return  # the server spoke out of turn; the caller closes the connection
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > _MAX_REPLY:
                    self._fail(aiosmtplib.SMTPResponseException(-1, "Response too long"))
                return
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            if not self._line(line):
                return

    def _line(self, line: bytes) -> bool:
        """Take one reply line; False once the collection is over (complete or failed)."""
        try:
            code = int(line[:3])
        except ValueError:
            text = line.decode("utf-8", "replace").strip()
            self._fail(aiosmtplib.SMTPResponseException(-1, f"Malformed SMTP response: {text}"))
            return False
        self._lines.append(line[4:].strip(b" \t\r\n"))
        if line[3:4] == b"-":
            return True
        message = b"\n".join(self._lines).decode("utf-8", "surrogateescape")
        self._lines = []
        self.replies.append(aiosmtplib.SMTPResponse(code, message))
        if len(self.replies) < self.count:
            return True
        if self._buffer:  # more than was asked for: the session is out of step
            self._fail(aiosmtplib.SMTPResponseException(-1, "Unexpected data after replies"))
        else:
            self.done.set_result(self.replies)
        return False

    def _fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)
            self.done.exception()  # retrieved here: the caller may already have given up

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.connection_lost(exc)  # aiosmtplib must know its connection is gone
        lost = aiosmtplib.SMTPServerDisconnected("Connection lost")
        lost.__cause__ = exc
        self._fail(lost)

    def eof_received(self) -> bool:
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return False  # close the transport: connection_lost follows

    def pause_writing(self) -> None:
        self.owner.pause_writing()

    def resume_writing(self) -> None:
        self.owner.resume_writing()


async def exchange(client: aiosmtplib.SMTP, commands: list[bytes]) -> list[aiosmtplib.SMTPResponse]:
    """Write `commands` (each without its CRLF) at once and return their replies in order,
    waiting at most the client's timeout. Raises aiosmtplib's SMTPServerDisconnected,
    SMTPTimeoutError or SMTPResponseException, and closes the connection then: its state
    is unknown."""
    if any(_CONTROL.search(c) for c in commands):
        raise ValueError("Command arg contains a prohibited control character")
    protocol = client.protocol
    transport: Any = client.transport
    if protocol is None or transport is None or transport.is_closing():
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    collector = ReplyCollector(protocol, len(commands), asyncio.get_running_loop())
    transport.set_protocol(collector)
    try:
        transport.write(b"".join(c + b"\r\n" for c in commands))
        return await asyncio.wait_for(collector.done, client.timeout)
    except TimeoutError as exc:
        client.close()
        raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response") from exc
    except BaseException:
        client.close()
        raise
    finally:
        if not transport.is_closing():
            transport.set_protocol(protocol)


def accepted(response: aiosmtplib.SMTPResponse) -> bool:
    """A RCPT reply that takes the recipient."""
    return response.code in (SMTPStatus.completed, SMTPStatus.will_forward)
