"""The thin aiosmtpd adapter: envelope in, pipeline awaited, reply out.

`RelayHandler` turns aiosmtpd's hooks into pipeline calls; `RelaySMTP` rewords the few
replies aiosmtpd composes itself (size limits) into the enhanced status codes of
spec/INTERFACE.md and reads the DATA content in bulk (relay.dataphase) instead of line by
line. Nothing here blocks the event loop: no DNS (the hostname comes from the
configuration), no file I/O, no CPU-bound work (that runs in the inspection workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import structlog
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from relay import __version__
from relay.access import Gatekeeper, Network, client_address, in_networks
from relay.dataphase import DataCollector, DataState
from relay.errors import StoreError
from relay.message import Envelope
from relay.passwords import Users
from relay.pipeline import Pipeline, Submission, reply

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
            transport.write(TIMED_OUT)
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
        await super().push(status)
        if self.hangup_after_reply and self.transport is not None:
            self.transport.close()
        elif self.close_after_reply:
            if status == GOODBYE and self.transport is not None:
                self.close_after_reply = False
                self.transport.close()
            else:
                await self.goodbye()

    async def goodbye(self) -> None:
        """421 and close: the client keeps anything not yet answered with 250 and retries."""
        self.close_after_reply = False
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await super().push(GOODBYE)
            self.transport.close()


class RelayHandler:
    def __init__(
        self,
        pipeline: Pipeline,
        max_recipients: int,
        networks: tuple[Network, ...],
        gate: Gatekeeper,
        users: Users | None = None,
        shared_limits: bool = False,
        proxy_networks: tuple[Network, ...] | None = None,
    ) -> None:
        self.shared_limits = shared_limits
        # (envelope sender, AUTH user) -> the agency profile's name, '' for the relay's own
        self.profile_for: Callable[[str, str], str] = lambda sender, user: ""
        self.proxy_protocol = proxy_networks is not None
        self.proxy_networks = proxy_networks or ()
        self.pipeline = pipeline
        self.max_recipients = max_recipients
        self.networks = networks
        self.gate = gate
        self.users = users
        self.log = structlog.get_logger("bsm-relay")
        self.sessions: set[RelaySMTP] = set()
        self.admitted: set[RelaySMTP] = set()
        self.draining = False
        self.all_closed = asyncio.Event()  # set when draining and the last session closed

    def opened(self, session: RelaySMTP) -> str | None:
        """Count the connection; returns why it is refused when over a limit."""
        self.sessions.add(session)
        self.pipeline.metrics.sessions.set(len(self.sessions))
        if self.proxy_protocol:
            return None  # admitted in handle_PROXY, once the real client is known
        return self.admit(session)

    def admit(self, session: RelaySMTP) -> str | None:
        refused = self.gate.connect(session.client_ip)
        if refused:
            self.log.warning("connection-refused", peer=session.client_ip, reason=refused)
            self.pipeline.metrics.refusal("connection")
        else:
            self.admitted.add(session)
        return refused

    def closed(self, session: RelaySMTP) -> None:
        self.sessions.discard(session)
        if session in self.admitted:
            self.admitted.discard(session)
            self.gate.disconnect(session.client_ip)
        self.pipeline.metrics.sessions.set(len(self.sessions))
        if self.draining and not self.sessions:
            self.all_closed.set()

    async def within_rate(self, address: str) -> bool:
        """The per-address message rate: in the shared state store when several relays
        share it (`[access] shared_limits`), else in this process."""
        if self.shared_limits:
            minute = int(time.time() // 60)
            try:
                count = await self.pipeline.state.incr(f"rate:{address}:{minute}", 120)
            except StoreError as exc:
                self.log.warning("shared-limits-unavailable", error=str(exc), using="local")
            else:
                return count <= self.gate.limits.messages_per_minute_per_ip
        return self.gate.message(address, time.monotonic())

    async def handle_PROXY(self, server: RelaySMTP, session: Session, envelope: SmtpEnvelope,
                           proxy_data: Any) -> bool:  # fmt: skip
        """A PROXY v1/v2 header from a trusted load balancer names the real client: limits,
        networks and logs apply to it. A header from anyone else closes the connection."""
        if not in_networks(server.socket_ip, self.proxy_networks):
            self.log.warning("proxy-refused", peer=server.socket_ip, reason="not in proxy_networks")
            return False
        if proxy_data.src_addr is not None and proxy_data.src_port is not None:
            server.client_ip = str(proxy_data.src_addr)
            server.client_port = int(proxy_data.src_port)
        refused = self.admit(server)  # LOCAL (health checks) keeps the balancer's address
        if refused:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                await server.push(f"421 4.7.0 {server.hostname} {refused}; try again later")
            return False
        return True

    def trusted(self, server: RelaySMTP) -> bool:
        return in_networks(server.client_ip, self.networks)

    async def authenticate(self, server: RelaySMTP, login: bytes, password: bytes) -> AuthResult:
        """Check credentials in a thread; failures are delayed and, past the limit, throttled."""
        limits, address = self.gate.limits, server.client_ip
        name = login.decode("utf-8", "replace")
        if self.users is None:
            return AuthResult(success=False, handled=False)
        if self.gate.auth_blocked(address, time.monotonic()):
            self.log.warning("auth-throttled", peer=address, user=name)
            self.pipeline.metrics.refusal("auth-throttled")
            server.hangup_after_reply = True
            return AuthResult(success=False, handled=False, message=(
                "454 4.7.0 Too many failed authentications from your address; try again later"
            ))  # fmt: skip
        users = self.users
        ok = await asyncio.to_thread(users.check, name, password.decode("utf-8", "surrogateescape"))
        if ok:
            self.gate.auth_succeeded(address)
            self.log.info("auth", peer=address, user=name, result="ok")
            return AuthResult(success=True, handled=False, auth_data=name)
        failures = self.gate.auth_failed(address, time.monotonic())
        self.log.warning("auth", peer=address, user=name, result="failed", failures=failures)
        self.pipeline.metrics.refusal("auth-failed")
        if limits.auth_failure_delay:
            await asyncio.sleep(limits.auth_failure_delay)  # slows guessing, costs us nothing
        return AuthResult(success=False, handled=False)

    async def handle_EHLO(
        self, server: RelaySMTP, session: Session, envelope: SmtpEnvelope, hostname: str,
        responses: list[str],
    ) -> list[str]:  # fmt: skip
        """aiosmtpd's extensions, plus PIPELINING (its reader handles pipelined commands in
        order) and ENHANCEDSTATUSCODES (every reply of the relay carries one)."""
        session.host_name = hostname
        return [responses[0], "250-PIPELINING", "250-ENHANCEDSTATUSCODES", *responses[1:]]

    async def handle_MAIL(
        self, server: RelaySMTP, session: Session, envelope: SmtpEnvelope, address: str,
        mail_options: list[str],
    ) -> str:  # fmt: skip
        structlog.contextvars.bind_contextvars(
            session=server.session_id, txn=secrets.token_hex(4), peer=server.peer
        )
        if self.draining:  # no new transactions once shutdown began
            server.close_after_reply = True
            return GOODBYE
        if not session.authenticated and not self.trusted(server):
            self.log.warning("envelope", stage="MAIL", action="reject", reason="not authenticated",
                             address=address)  # fmt: skip
            self.pipeline.metrics.refusal("auth-required")
            return AUTH_REQUIRED
        if not await self.within_rate(server.client_ip):
            self.pipeline.metrics.refusal("message-rate")
            limit = self.gate.limits.messages_per_minute_per_ip
            return f"450 4.7.1 Too many messages from your address (at most {limit} a minute)"
        sender = "" if address == "<>" else address
        refused = self.pipeline.check_sender(sender)
        if refused:
            return refused
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender ok"

    async def handle_RCPT(
        self, server: RelaySMTP, session: Session, envelope: SmtpEnvelope, address: str,
        rcpt_options: list[str],
    ) -> str:  # fmt: skip
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return f"452 4.5.3 Too many recipients (at most {self.max_recipients} per message)"
        refused = self.pipeline.check_recipient(address)
        if refused:
            return refused
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient ok"

    async def handle_DATA(self, server: RelaySMTP, session: Session, envelope: SmtpEnvelope) -> str:
        data = envelope.original_content or b""
        sender = "" if envelope.mail_from == "<>" else (envelope.mail_from or "")
        user = str(session.auth_data or "") if session.authenticated else ""
        submission = Submission(
            Envelope(sender, tuple(envelope.rcpt_tos), tuple(envelope.mail_options)),
            bytes(data),
            server.peer,
            auth_user=user,
            profile=self.profile_for(sender, user),
        )
        server.hold_timer()
        try:
            outcome = await self.pipeline.process(submission)
        finally:
            server.restart_timer()
        structlog.contextvars.unbind_contextvars("txn")
        if self.draining:
            server.close_after_reply = True  # the reply goes out, then 421 and close
        return outcome.reply

    async def handle_exception(self, error: Exception) -> str:
        """Any unexpected error: logged with its traceback, a controlled 451 on the wire."""
        self.log.error("smtp-error", error=f"{type(error).__name__}: {error}", exc_info=error)
        return reply(451, "4.3.0", ["Internal error in the relay; please try again later"])
