"""The aiosmtpd handler: each SMTP stage turned into a pipeline call and a reply.

`RelayHandler` admits sessions (connection limits, PROXY headers, networks, AUTH), checks
the envelope at MAIL and RCPT, and hands the DATA content to the pipeline as a Submission;
the reply it returns is what the client reads. Shared by every session of one worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from aiosmtpd.smtp import AuthResult, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from relay.access import Gatekeeper, Network, in_networks
from relay.errors import StoreError
from relay.message import Envelope
from relay.passwords import Users
from relay.pipeline import Pipeline, Submission, reply
from relay.smtp import AUTH_REQUIRED, GOODBYE

if TYPE_CHECKING:
    from relay.smtp import RelaySMTP


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
