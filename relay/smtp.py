"""The thin aiosmtpd adapter: envelope in, pipeline awaited, reply out.

`RelayHandler` turns aiosmtpd's hooks into pipeline calls; `RelaySMTP` only rewords the few
replies aiosmtpd composes itself (size limits) into the enhanced status codes of
spec/INTERFACE.md. Nothing here blocks the event loop: no DNS (the hostname comes from the
configuration), no file I/O, no CPU-bound work (that runs in the inspection workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from relay import __version__
from relay.message import Envelope
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


GOODBYE = "421 4.3.2 bsm-relay is shutting down; please try again shortly"


class RelaySMTP(SMTP):
    """aiosmtpd's SMTP protocol with the relay's wording for its built-in replies, and the
    bookkeeping a graceful shutdown needs (open sessions, transactions in flight)."""

    def __init__(self, handler: RelayHandler, **kwargs: Any) -> None:
        super().__init__(handler, ident=f"ESMTP bsm-relay {__version__}", **kwargs)
        self.session_id = secrets.token_hex(6)
        self.relay_handler = handler
        self.close_after_reply = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.relay_handler.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay_handler.closed(self)
        super().connection_lost(exc)

    @property
    def idle(self) -> bool:
        """No transaction started: the session can be closed without losing anything."""
        return self.envelope is None or not self.envelope.mail_from

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = _REWORD.get(status, status)
        await super().push(status)
        if self.close_after_reply:
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


def peer_text(session: Session) -> str:
    peer: Any = session.peer
    if isinstance(peer, (tuple, list)) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class RelayHandler:
    def __init__(self, pipeline: Pipeline, max_recipients: int) -> None:
        self.pipeline = pipeline
        self.max_recipients = max_recipients
        self.log = structlog.get_logger("bsm-relay")
        self.sessions: set[RelaySMTP] = set()
        self.draining = False
        self.all_closed = asyncio.Event()  # set when draining and the last session closed

    def opened(self, session: RelaySMTP) -> None:
        self.sessions.add(session)
        self.pipeline.metrics.sessions.set(len(self.sessions))

    def closed(self, session: RelaySMTP) -> None:
        self.sessions.discard(session)
        self.pipeline.metrics.sessions.set(len(self.sessions))
        if self.draining and not self.sessions:
            self.all_closed.set()

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
            session=server.session_id, txn=secrets.token_hex(4), peer=peer_text(session)
        )
        if self.draining:  # no new transactions once shutdown began
            server.close_after_reply = True
            return GOODBYE
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
        submission = Submission(
            Envelope(sender, tuple(envelope.rcpt_tos), tuple(envelope.mail_options)),
            bytes(data),
            peer_text(session),
        )
        outcome = await self.pipeline.process(submission)
        structlog.contextvars.unbind_contextvars("txn")
        if self.draining:
            server.close_after_reply = True  # the reply goes out, then 421 and close
        return outcome.reply

    async def handle_exception(self, error: Exception) -> str:
        """Any unexpected error: logged with its traceback, a controlled 451 on the wire."""
        self.log.error("smtp-error", error=f"{type(error).__name__}: {error}", exc_info=error)
        return reply(451, "4.3.0", ["Internal error in the relay; please try again later"])
