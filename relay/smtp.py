"""The thin aiosmtpd adapter: envelope in, pipeline awaited, reply out.

`RelaySMTP` is one session: it rewords the few replies aiosmtpd composes itself (size
limits) into the enhanced status codes of spec/INTERFACE.md, reads the DATA content in bulk
(relay.dataphase) instead of line by line, and writes the replies to pipelined commands
together; relay.handler's `RelayHandler` answers its hooks. Nothing here blocks the event
loop: no DNS (the hostname comes from the configuration), no file I/O, no CPU-bound work
(that runs in the inspection workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

from relay import __version__
from relay.access import client_address
from relay.dataphase import DataCollector, DataState

if TYPE_CHECKING:
    from relay.handler import RelayHandler

_REWORD = {
    "552 Error: Too much mail data": "552 5.3.4 Message too big for this relay",
    "552 Error: message size exceeds fixed maximum message size": (
        "552 5.3.4 Message size exceeds the relay's limit"
    ),
    "500 Line too long (see RFC5321 4.5.3.1.6)": (
        "500 5.5.2 Line too long: lines may be at most 998 characters (RFC 5322)"
    ),
}


# `<local@domain>` with plain dot-atoms and no comment after it: what MTAs send. aiosmtpd
# parses every MAIL and RCPT address with the email package's header parser (70 us each,
# a class created per call); for this form the parser's answer is the address itself and
# the text after it without leading blanks (tests/unit/test_smtp_addresses.py).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"<({_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*)>([^(]*)")

GOODBYE = "421 4.3.2 bsm-relay is shutting down; please try again shortly"
_SENT_AT_ONCE = (b"220", b"221", b"354", b"421")  # replies never held for pipelining
TIMED_OUT = b"421 4.4.2 bsm-relay: timeout waiting for the client; closing\r\n"
AUTH_REQUIRED = "530 5.7.0 Authentication required: your address is not in the relay's networks"
_PENDING = "verify"  # our marker: aiosmtpd decoded the credentials, we verify them off-loop


class RelaySMTP(SMTP):
    """aiosmtpd's SMTP protocol with the relay's wording for its built-in replies, and the
    bookkeeping a graceful shutdown needs (open sessions, transactions in flight)."""

    def __init__(self, handler: RelayHandler, data_timeout: float = 0.0, **kwargs: Any) -> None:
        self.data_timeout = data_timeout
        if handler.users is None:  # no users file: no AUTH offered at all
            kwargs["auth_exclude_mechanism"] = ["PLAIN", "LOGIN"]
        super().__init__(handler, ident=f"ESMTP bsm-relay {__version__}",
                         auth_require_tls=True, **kwargs)  # fmt: skip
        self.session_id = secrets.token_hex(6)
        self.relay_handler = handler
        self.close_after_reply = False  # draining: 421 after this reply
        self.hangup_after_reply = False  # abuse: close right after this reply
        self.client_ip = ""
        self.client_port = 0
        self.socket_ip = ""
        self.refused = ""  # why the connection is turned away at the greeting
        self._collector: DataCollector | None = None  # set while DATA content arrives
        self._collected: asyncio.Future[None] | None = None
        self._held: list[bytes] = []  # replies to pipelined commands, not yet written

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self.client_ip = client_address(peer)
        self.client_port = int(peer[1]) if isinstance(peer, (tuple, list)) and len(peer) > 1 else 0
        self.socket_ip = self.client_ip  # the load balancer's, when PROXY protocol is on
        self.refused = self.relay_handler.opened(self) or ""

    @property
    def peer(self) -> str:
        """The client as logged: the real one when a load balancer sent a PROXY header."""
        return f"{self.client_ip}:{self.client_port}"

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay_handler.closed(self)
        super().connection_lost(exc)

    async def _handle_client(self) -> None:
        if self.refused:  # over a connection limit: 421 instead of the greeting
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await self.push(f"421 4.7.0 {self.hostname} {self.refused}; try again later")
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    def _timeout_cb(self) -> None:
        """A silent or too slow client: say why before closing (RFC 5321 4.5.3.2)."""
        transport: Any = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(b"".join(line + b"\r\n" for line in self._held) + TIMED_OUT)
            self._held.clear()
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    def hold_timer(self) -> None:
        """No idle timeout while the relay itself works on the message (inspect, forward)."""
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()

    def restart_timer(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._reset_timeout()

    async def smtp_DATA(self, arg: str) -> None:
        """Bound the mail buffered in memory: at most max_transfers DATA phases at once."""
        ready = self.envelope is not None and self.envelope.rcpt_tos and not arg
        if not ready:
            await super().smtp_DATA(arg)  # its own 503/501 replies
            return
        gate = self.relay_handler.gate
        if self.data_timeout:  # the transfer gets its own clock, not the per-command one
            self._reset_timeout(self.data_timeout)
        if not gate.begin_transfer():
            self.relay_handler.pipeline.metrics.refusal("busy")
            await self.push("451 4.3.2 bsm-relay is busy with other messages; try again shortly")
            return
        try:
            await self._receive_data()
        finally:
            gate.end_transfer()

    def data_received(self, data: bytes) -> None:
        """During DATA the bytes go to the collector; what follows the end of data (the
        client's next commands) goes on to aiosmtpd's command reader."""
        collector = self._collector
        if collector is None:
            super().data_received(data)
            return
        if collector.feed(data):
            self._collector = None
            if self._collected is not None and not self._collected.done():
                self._collected.set_result(None)
            if collector.rest:
                super().data_received(collector.rest)

    def _take_buffered(self) -> bytes | None:
        """What the command reader already holds past the DATA line (a client that did not
        wait for 354); None when the reader does not expose it. aiosmtpd itself reaches
        into the same buffer when STARTTLS begins."""
        buffer = getattr(self._reader, "_buffer", None)
        if not isinstance(buffer, bytearray):
            return None
        early = bytes(buffer)
        buffer.clear()
        return early

    async def _receive_data(self) -> None:
        """aiosmtpd's smtp_DATA with the content collected in bulk (relay.dataphase)."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        collector = DataCollector(self.data_size_limit, self.line_length_limit)
        self._collected = collected = self.loop.create_future()
        self._collector = collector
        early = self._take_buffered()
        if early is None:  # no bulk path on this reader: aiosmtpd's line loop
            self._collector = None
            await super().smtp_DATA("")
            return
        if early:
            self.data_received(early)
        try:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await collected
        except asyncio.CancelledError:  # the connection was lost or timed out mid-DATA
            self._writer.close()
            raise
        finally:
            self._collector = None
            self._collected = None
        if collector.state is not DataState.NOMINAL:
            too_long = collector.state is DataState.TOO_LONG
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push(
                "500 Line too long (see RFC5321 4.5.3.1.6)" if too_long
                else "552 Error: Too much mail data"
            )  # fmt: skip
            return
        self.envelope.content = self.envelope.original_content = collector.content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        m = _PLAIN_PATH.fullmatch(arg)
        if m is None:
            try:
                return super()._getaddr(arg)
            except Exception:  # noqa: BLE001 -- the email package's parser trips over some
                # paths ("<" IndexError, ".@[" AttributeError): "malformed address" (553), not a 451
                return None, None
        address, rest = m.group(1), m.group(2)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest.lstrip(" \t")

    # AUTH: aiosmtpd decodes PLAIN and LOGIN and then calls _authenticate synchronously;
    # scrypt is deliberately slow, so we only mark the result and verify off the event loop.
    def _authenticate(self, mechanism: str, auth_data: Any) -> AuthResult:
        return AuthResult(success=False, handled=False, auth_data=auth_data, message=_PENDING)

    async def _verified(self, result: AuthResult) -> AuthResult:
        if result.message != _PENDING or not isinstance(result.auth_data, LoginPassword):
            return result
        login, password = result.auth_data
        return await self.relay_handler.authenticate(self, login, password)

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._verified(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._verified(await super().auth_LOGIN(_, args))

    @property
    def idle(self) -> bool:
        """No transaction started: the session can be closed without losing anything."""
        return self.envelope is None or not self.envelope.mail_from

    async def push(self, status: Any) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            # The client is gone (its reply was due as the connection went): nobody to
            # answer. Writing would raise (uvloop: RuntimeError on the closed handle;
            # asyncio: ConnectionResetError from drain) and end up as a task error.
            return
        if isinstance(status, str):
            status = _REWORD.get(status, status)
            status = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii")
        if self._pipelined(status):
            self._held.append(status)
            return
        await super().push(self._with_held(status))
        if self.hangup_after_reply and self.transport is not None:
            self.transport.close()
        elif self.close_after_reply:
            if status == GOODBYE.encode("ascii") and self.transport is not None:
                self.close_after_reply = False
                self.transport.close()
            else:
                await self.goodbye()

    def _pipelined(self, reply: bytes) -> bool:
        """Whether to hold this reply: the client's next command is already here (a whole
        line in the command reader's buffer), so its reply follows at once and one write
        carries both (RFC 2920 3.1; Postfix's smtpd flushes only when its input is empty).
        Never a reply the client waits for before it sends more (220 before TLS, 354), one
        that ends the session, or while closing."""
        if self.hangup_after_reply or self.close_after_reply or reply[:3] in _SENT_AT_ONCE:
            return False
        buffer = getattr(self._reader, "_buffer", None)
        return isinstance(buffer, bytearray) and b"\n" in buffer

    def _with_held(self, reply: bytes) -> bytes:
        """The held replies and this one, as one write (aiosmtpd adds the last CRLF)."""
        if not self._held:
            return reply
        joined = b"\r\n".join((*self._held, reply))
        self._held.clear()
        return joined

    async def goodbye(self) -> None:
        """421 and close: the client keeps anything not yet answered with 250 and retries."""
        self.close_after_reply = False
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await super().push(self._with_held(GOODBYE.encode("ascii")))
            self.transport.close()
