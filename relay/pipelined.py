"""Command groups on an aiosmtplib connection (RFC 2920 PIPELINING, the client side).

aiosmtplib sends one command and reads one reply: a round trip each for MAIL, every RCPT and
DATA, and its protocol keeps only one reply at a time (a second one arriving before the
first is picked up is dropped). Where the next hop offers PIPELINING, the relay writes
MAIL, the RCPTs and DATA in one write and reads their replies together, as Postfix's smtp
client does. At a connection's first group, `GroupRouter` is put in front of aiosmtplib's
protocol (once: uvloop stops and restarts reading at every change of protocol). It passes
everything on to it, except while a group's replies come in: those go to a
`ReplyCollector`, which keeps every reply in order until it has one per command. Then
aiosmtplib's protocol writes the content and reads the final reply as usual. A connection
lost meanwhile reaches both, so the client knows it is closed.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiosmtplib
from aiosmtplib.typing import SMTPStatus

_MAX_LINE = 8192  # bytes of one reply line before it counts as garbage
_MAX_REPLIES = 65536  # bytes of all the group's replies (a server may not talk forever)
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")  # what aiosmtplib refuses in a command, too


class ReplyCollector:
    """The replies to one command group, collected until there is one per command."""

    def __init__(self, count: int, loop: asyncio.AbstractEventLoop) -> None:
        self.count = count
        self.replies: list[aiosmtplib.SMTPResponse] = []
        self.done: asyncio.Future[list[aiosmtplib.SMTPResponse]] = loop.create_future()
        self._buffer = bytearray()
        self._lines: list[bytes] = []  # the lines of a reply that continues ("250-...")
        self._size = 0

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return  # uninvited: dropped, as aiosmtplib drops what no command asked for
        self._buffer += data
        self._size += len(data)
        if self._size > _MAX_REPLIES:
            self._fail(aiosmtplib.SMTPResponseException(-1, "Response too long"))
            return
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > _MAX_LINE:
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

    def lost(self, exc: Exception | None) -> None:
        """The connection went before every reply came."""
        lost = aiosmtplib.SMTPServerDisconnected("Connection lost")
        lost.__cause__ = exc
        self._fail(lost)

    def eof(self) -> None:
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))


class GroupRouter(asyncio.Protocol):
    """In front of aiosmtplib's protocol: the replies to a command group go to its
    collector, everything else (and always the connection's end) to aiosmtplib."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner  # aiosmtplib's SMTPProtocol
        self.collector: ReplyCollector | None = None

    def data_received(self, data: bytes) -> None:
        if self.collector is not None:
            self.collector.data_received(data)
        else:
            self.owner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.collector is not None:
            self.collector.eof()
        result: bool | None = self.owner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        if self.collector is not None:
            self.collector.lost(exc)
        self.owner.connection_lost(exc)  # aiosmtplib must know its connection is gone

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
    router = transport.get_protocol()
    if not isinstance(router, GroupRouter) or router.owner is not protocol:
        router = GroupRouter(protocol)
        transport.set_protocol(router)
    collector = router.collector = ReplyCollector(len(commands), asyncio.get_running_loop())
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
        router.collector = None


def accepted(response: aiosmtplib.SMTPResponse) -> bool:
    """A RCPT reply that takes the recipient."""
    return response.code in (SMTPStatus.completed, SMTPStatus.will_forward)
