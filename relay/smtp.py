"""The thin aiosmtpd adapter: envelope in, pipeline awaited, reply out.

`RelayHandler` turns aiosmtpd's hooks into pipeline calls; `RelaySMTP` only rewords the few
replies aiosmtpd composes itself (size limits) into the enhanced status codes of
spec/INTERFACE.md. Nothing here blocks the event loop: no DNS (the hostname comes from the
configuration), no file I/O, no CPU-bound work (that runs in the inspection workers).
"""

from __future__ import annotations

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


class RelaySMTP(SMTP):
    """aiosmtpd's SMTP protocol with the relay's wording for its built-in replies."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, ident=f"ESMTP bsm-relay {__version__}", **kwargs)
        self.session_id = secrets.token_hex(6)

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = _REWORD.get(status, status)
        await super().push(status)


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
        return outcome.reply

    async def handle_exception(self, error: Exception) -> str:
        """Any unexpected error: logged with its traceback, a controlled 451 on the wire."""
        self.log.error("smtp-error", error=f"{type(error).__name__}: {error}", exc_info=error)
        return reply(451, "4.3.0", ["Internal error in the relay; please try again later"])
