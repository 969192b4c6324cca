"""One SMTP transaction on an aiosmtplib connection: connect, MAIL, RCPT, DATA, content.

aiosmtplib's sendmail() normalises line endings twice (once for SIZE), dot-stuffs with
regular expressions and parses both addresses with the email package: ~0.5 ms of an 18 KB
message, more than the rest of the SMTP work. The relay composes the same transaction from
aiosmtplib's command primitive and writes the content itself; where the next hop offers
PIPELINING, MAIL, the RCPTs and DATA go in one write (relay.pipelined). Errors are
aiosmtplib's and the OS's; relay.upstream maps them onto relay.errors.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings
from aiosmtplib.typing import SMTPStatus

from relay.errors import ConfigError
from relay.message import Envelope
from relay.pipelined import accepted, exchange
from relay.textscan import crlf_only


@dataclass(frozen=True)
class SmtpOptions:
    ehlo_name: str
    starttls: str = "opportunistic"  # off | opportunistic | required
    verify: bool = False
    ca_file: str = ""
    timeout: float = 60.0
    client_cert: str = ""
    client_key: str = ""


@functools.lru_cache(maxsize=8)
def tls_context(opts: SmtpOptions) -> ssl.SSLContext:
    """One context per option set: loading the CA store per message would cost milliseconds."""
    if opts.verify:
        ctx = ssl.create_default_context(cafile=opts.ca_file or None)
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if opts.client_cert:
        try:
            ctx.load_cert_chain(opts.client_cert, opts.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"upstream.tls_client_cert: cannot load: {exc}") from exc
    return ctx


def _mail_options(envelope: Envelope, client: aiosmtplib.SMTP) -> list[str]:
    """The client's MAIL parameters worth passing on (SIZE is added by `mail_command`)."""
    options = []
    for opt in envelope.mail_options:
        upper = opt.upper()
        eight_bit = upper == "BODY=8BITMIME" and client.supports_extension("8bitmime")
        if eight_bit or upper == "SMTPUTF8":
            options.append(upper)
    return options


async def connect_smtp(host: str, port: int, opts: SmtpOptions) -> aiosmtplib.SMTP:
    """A connected (and, as configured, STARTTLS-secured) client; raises aiosmtplib/OS errors."""
    client = aiosmtplib.SMTP(
        hostname=host,
        port=port,
        local_hostname=opts.ehlo_name,
        timeout=opts.timeout,
        start_tls={"off": False, "opportunistic": None, "required": True}[opts.starttls],
        validate_certs=opts.verify,
        tls_context=tls_context(opts) if opts.starttls != "off" else None,
    )
    try:
        await client.connect()
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()  # the extensions decide which MAIL parameters go on
    except BaseException:
        client.close()
        raise
    return client


def wire_format(data: bytes) -> tuple[bytes, int]:
    """The DATA content as it goes on the wire (CRLF line ends, dot-stuffed, ended by
    <CRLF>.<CRLF>) and its SIZE (RFC 1870: the CRLF-normalised length before stuffing).

    What came in over SMTP already has CRLF everywhere; then two bytes.replace calls do what
    aiosmtplib's regular expressions do (tests/unit/test_upstream_wire.py compares them).
    A bare CR or LF (smuggling probes, fixers' output) takes aiosmtplib's own normaliser."""
    if crlf_only(data):
        normal = data if data.endswith(b"\r\n") else data + b"\r\n"
    else:
        normal = normalize_message_line_endings(data)
    stuffed = normal.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b".\r\n", len(normal)


def _path(address: str, encoding: str) -> bytes:
    return b"<" + address.encode(encoding) + b">"


def mail_command(client: aiosmtplib.SMTP, envelope: Envelope, size: int) -> tuple[bytes, str]:
    """MAIL FROM with the envelope's parameters (no CRLF), and the encoding for the addresses."""
    options = _mail_options(envelope, client)
    encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
    if encoding == "utf-8" and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
    if client.supports_extension("size"):
        options.insert(0, f"SIZE={size}")
    words = [b"MAIL FROM:" + _path(envelope.mail_from, encoding), *(o.encode() for o in options)]
    return b" ".join(words), encoding


async def start_mail(client: aiosmtplib.SMTP, envelope: Envelope, size: int) -> str:
    """MAIL FROM with the envelope's parameters; returns the encoding for the addresses."""
    command, encoding = mail_command(client, envelope, size)
    response = await client.execute_command(command)
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(response.code, response.message, envelope.mail_from)
    return encoding


async def finish_transaction(
    client: aiosmtplib.SMTP, envelope: Envelope, wire: bytes, encoding: str
) -> str:
    """RCPT for every recipient, then DATA; returns the final reply. After a refusal the
    envelope is reset (RSET) so that the connection can be used again."""
    try:
        refused: list[aiosmtplib.SMTPRecipientRefused] = []
        for rcpt in envelope.rcpt_tos:
            response = await client.execute_command(b"RCPT", b"TO:" + _path(rcpt, encoding))
            if not accepted(response):
                refused.append(
                    aiosmtplib.SMTPRecipientRefused(response.code, response.message, rcpt)
                )
        if len(refused) == len(envelope.rcpt_tos):
            raise aiosmtplib.SMTPRecipientsRefused(refused)
        response = await client.execute_command(b"DATA")
        if response.code != SMTPStatus.start_input:
            raise aiosmtplib.SMTPDataError(response.code, response.message)
        final = await _send_content(client, wire)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        await _reset(client)
        raise
    return _final_reply(final, refused)


@dataclass(frozen=True)
class Opened:
    """A transaction up to its content: the encoding of its addresses, and with PIPELINING
    the replies to MAIL, each RCPT and DATA (without it, MAIL FROM alone was answered)."""

    encoding: str
    replies: tuple[aiosmtplib.SMTPResponse, ...] = ()


async def open_transaction(client: aiosmtplib.SMTP, envelope: Envelope, size: int) -> Opened:
    """MAIL FROM alone, or where the next hop offers PIPELINING, MAIL, every RCPT and DATA in
    one write. Raises on a lost connection or a 421 to MAIL: no content has gone out, so a
    pooled connection that fails here can be replaced without delivering twice."""
    if not client.supports_extension("pipelining"):
        return Opened(await start_mail(client, envelope, size))
    mail, encoding = mail_command(client, envelope, size)
    rcpts = [b"RCPT TO:" + _path(r, encoding) for r in envelope.rcpt_tos]
    replies = await exchange(client, [mail, *rcpts, b"DATA"])
    if replies[0].code == 421:  # the server is closing this session
        client.close()
        raise aiosmtplib.SMTPSenderRefused(421, replies[0].message, envelope.mail_from)
    return Opened(encoding, tuple(replies))


async def complete_transaction(
    client: aiosmtplib.SMTP, envelope: Envelope, wire: bytes, opened: Opened
) -> str:
    """The rest of an opened transaction; returns the final reply. Refusals raise after
    RSET, as in `finish_transaction`."""
    if not opened.replies:
        return await finish_transaction(client, envelope, wire, opened.encoding)
    mail_reply, data_reply = opened.replies[0], opened.replies[-1]
    refused = [
        aiosmtplib.SMTPRecipientRefused(r.code, r.message, rcpt)
        for r, rcpt in zip(opened.replies[1:-1], envelope.rcpt_tos, strict=True)
        if not accepted(r)
    ]
    failure: aiosmtplib.SMTPException | None = None
    if mail_reply.code != SMTPStatus.completed:
        failure = aiosmtplib.SMTPSenderRefused(
            mail_reply.code, mail_reply.message, envelope.mail_from
        )
    elif len(refused) == len(envelope.rcpt_tos):
        failure = aiosmtplib.SMTPRecipientsRefused(refused)
    elif data_reply.code != SMTPStatus.start_input:
        failure = aiosmtplib.SMTPDataError(data_reply.code, data_reply.message)
    try:
        if failure is not None:
            if data_reply.code == SMTPStatus.start_input:
                # DATA taken although nobody is left to deliver to: end it empty (RFC 2920 3.1)
                await _send_content(client, b".\r\n", check=False)
            raise failure
        final = await _send_content(client, wire)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        await _reset(client)
        raise
    return _final_reply(final, refused)


async def _reset(client: aiosmtplib.SMTP) -> None:
    """RSET after a refusal, so that the connection can be used again; closed if it fails."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, ConnectionError):
        client.close()  # the session's state is unknown: never reuse it


def _final_reply(
    final: aiosmtplib.SMTPResponse, refused: list[aiosmtplib.SMTPRecipientRefused]
) -> str:
    """The next hop's final reply, with the recipients it refused when it took the others."""
    reply = final.message
    if refused:
        listed = ", ".join(f"{r.recipient}: {r.code} {r.message}" for r in refused)
        reply = f"{reply} (partially refused: {listed})"
    return reply


async def _send_content(
    client: aiosmtplib.SMTP, wire: bytes, check: bool = True
) -> aiosmtplib.SMTPResponse:
    """Write the prepared content and read the reply to it. Nothing else can run between
    the write and read_response (no await), so the reply is read as the answer to it."""
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    try:
        protocol.write(wire)
        response = await protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise
    if check and response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


async def transaction(client: aiosmtplib.SMTP, envelope: Envelope, data: bytes) -> str:
    """MAIL, RCPT, DATA on a connected client; returns the final reply."""
    wire, size = wire_format(data)
    opened = await open_transaction(client, envelope, size)
    return await complete_transaction(client, envelope, wire, opened)
