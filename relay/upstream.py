"""Delivery to the next hop: a local outbox folder, a smarthost, or the recipients' MX.

Every failure is mapped onto relay.errors at this boundary: connection problems, timeouts,
TLS failures and 4xx replies are `UpstreamTemporary` (the client is told 451 and retries),
5xx replies are `UpstreamPermanent` (passed back with the upstream's code and text).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib
import dns.asyncresolver
import dns.exception
import dns.resolver
from aiosmtplib.protocol import normalize_message_line_endings
from aiosmtplib.typing import SMTPStatus

from relay.config import Config, UpstreamConfig
from relay.errors import ConfigError, UpstreamError, UpstreamPermanent, UpstreamTemporary
from relay.files import atomic_write, new_id
from relay.message import Envelope
from relay.textscan import crlf_only

_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


class Forwarder(Protocol):
    async def forward(self, envelope: Envelope, data: bytes) -> str:
        """Hand the message on; return the upstream's reply. Raises UpstreamError."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpOptions:
    ehlo_name: str
    starttls: str = "opportunistic"  # off | opportunistic | required
    verify: bool = False
    ca_file: str = ""
    timeout: float = 60.0
    client_cert: str = ""
    client_key: str = ""


def response_error(code: int, text: str, where: str) -> UpstreamError:
    """An upstream SMTP reply as the error the client sees (451 for 4xx, the 5xx itself)."""
    text = " ".join(text.split())[:300]
    m = _ENHANCED.match(text)
    if 400 <= code < 500:
        enhanced = m.group(1) if m and m.group(1).startswith("4.") else "4.3.0"
        return UpstreamTemporary(
            451, enhanced, f"upstream {where} deferred: {code} {text}", f"{code} {text}"
        )
    if 500 <= code < 600:
        enhanced = m.group(1) if m and m.group(1).startswith("5.") else "5.0.0"
        shown = text[len(m.group(1)) :].strip() if m else text
        return UpstreamPermanent(code, enhanced, shown, f"{code} {text}")
    return UpstreamTemporary(
        451, "4.5.0", f"upstream {where} gave an unexpected reply: {code}", f"{code} {text}"
    )


@functools.lru_cache(maxsize=8)
def _tls_context(opts: SmtpOptions) -> ssl.SSLContext:
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
    """The client's MAIL parameters worth passing on (SIZE is added by `start_mail`)."""
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
        tls_context=_tls_context(opts) if opts.starttls != "off" else None,
    )
    try:
        await client.connect()
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()  # the extensions decide which MAIL parameters go on
    except BaseException:
        client.close()
        raise
    return client


# ---------------------------------------------------------------- the transaction
# aiosmtplib's sendmail() normalises line endings twice (once for SIZE) and dot-stuffs with
# regular expressions and parses both addresses with the email package: ~0.5 ms of an 18 KB
# message, more than the rest of the SMTP work. The relay composes the same transaction
# from aiosmtplib's command primitive (MAIL, RCPT, DATA) and writes the content itself.
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


async def start_mail(client: aiosmtplib.SMTP, envelope: Envelope, size: int) -> str:
    """MAIL FROM with the envelope's parameters; returns the encoding for the addresses."""
    options = _mail_options(envelope, client)
    encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
    if encoding == "utf-8" and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
    if client.supports_extension("size"):
        options.insert(0, f"SIZE={size}")
    response = await client.execute_command(
        b"MAIL", b"FROM:" + _path(envelope.mail_from, encoding), *(o.encode() for o in options)
    )
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
            if response.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
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
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, ConnectionError):
            client.close()  # the session's state is unknown: never reuse it
        raise
    reply = final.message
    if refused:
        listed = ", ".join(f"{r.recipient}: {r.code} {r.message}" for r in refused)
        reply = f"{reply} (partially refused: {listed})"
    return reply


async def _send_content(client: aiosmtplib.SMTP, wire: bytes) -> aiosmtplib.SMTPResponse:
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
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


async def transaction(client: aiosmtplib.SMTP, envelope: Envelope, data: bytes) -> str:
    """MAIL, RCPT, DATA on a connected client; returns the final reply."""
    wire, size = wire_format(data)
    encoding = await start_mail(client, envelope, size)
    return await finish_transaction(client, envelope, wire, encoding)


def upstream_error(exc: BaseException, where: str) -> UpstreamError:
    """Any failure talking to the next hop, as the error the client will see."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        first = exc.recipients[0]
        return response_error(first.code, first.message, where)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return response_error(exc.code, exc.message, where)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return UpstreamPermanent(550, "5.6.7", f"upstream {where}: {exc}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return UpstreamTemporary(451, "4.4.2", f"upstream {where} timed out")
    if isinstance(exc, ssl.SSLError):
        return UpstreamTemporary(451, "4.7.5", f"TLS with upstream {where} failed: {exc.reason}")
    return UpstreamTemporary(451, "4.4.1", f"upstream {where} unavailable: {exc}"[:200])


_FAILURES = (aiosmtplib.SMTPException, OSError)


def _answered(exc: BaseException) -> bool:
    """The upstream replied (not 421, which closes) to a transaction that was then reset."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code != 421 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code != 421


# How a pooled connection the upstream closed meanwhile shows at MAIL FROM (421: closing).
_STALE = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException, OSError)


async def deliver_smtp(
    host: str, port: int, envelope: Envelope, data: bytes, opts: SmtpOptions, server_name: str = ""
) -> str:
    """One SMTP transaction on a new connection; returns the next hop's final reply."""
    where = f"{server_name or host}:{port}"
    client: aiosmtplib.SMTP | None = None
    try:
        client = await connect_smtp(host, port, opts)
        return await transaction(client, envelope, data)
    except _FAILURES as exc:
        raise upstream_error(exc, where) from exc
    finally:
        if client is not None:
            client.close()


class SmarthostForwarder:
    """Delivery to one smarthost over a small pool of kept-open connections.

    Opening an SMTP connection (and a TLS handshake) costs more than a transaction; an
    upstream that allows several transactions per connection gets them. A pooled connection
    the upstream closed meanwhile is noticed at MAIL FROM, before any data went out, and
    replaced once; a failure later in the transaction is never retried (that could deliver
    twice) but reported as usual. No RSET between transactions: a completed transaction
    leaves the session ready for the next MAIL (RFC 5321 3.3), which saves a round trip.
    """

    MAX_IDLE = 32

    def __init__(self, host: str, port: int, opts: SmtpOptions, idle_seconds: float = 30.0) -> None:
        self.host, self.port, self.opts = host, port, opts
        self.idle_seconds = idle_seconds
        self._idle: list[tuple[float, aiosmtplib.SMTP]] = []
        self.where = f"{host}:{port}"

    def _checkout(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self._idle:
            since, client = self._idle.pop()
            if client.is_connected and now - since < self.idle_seconds:
                return client
            client.close()
        return None

    def _checkin(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected and len(self._idle) < self.MAX_IDLE:
            self._idle.append((time.monotonic(), client))
        else:
            client.close()

    async def forward(self, envelope: Envelope, data: bytes) -> str:
        wire, size = wire_format(data)
        client = self._checkout()
        encoding = ""
        try:
            if client is not None:
                try:  # MAIL FROM also proves the pooled connection still works
                    encoding = await start_mail(client, envelope, size)
                except _STALE as exc:
                    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code != 421:
                        raise
                    client.close()
                    client = None
            if client is None:
                client = await connect_smtp(self.host, self.port, self.opts)
                encoding = await start_mail(client, envelope, size)
            reply = await finish_transaction(client, envelope, wire, encoding)
        except _FAILURES as exc:
            if client is not None:
                if _answered(exc):
                    self._checkin(client)  # a refusal, and RSET worked: the session is fine
                else:
                    client.close()
            raise upstream_error(exc, self.where) from exc
        self._checkin(client)
        return reply

    async def close(self) -> None:
        for _, client in self._idle:
            with contextlib.suppress(*_FAILURES):
                await asyncio.wait_for(client.quit(), 2)
            client.close()
        self._idle.clear()


class OutboxForwarder:
    """Delivery into a folder: one .eml per message (and its envelope in a .json)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def forward(self, envelope: Envelope, data: bytes) -> str:
        name = new_id()
        meta = {"mail_from": envelope.mail_from, "rcpt_to": list(envelope.rcpt_tos)}
        try:
            await asyncio.to_thread(atomic_write, self.folder / f"{name}.eml", data)
            await asyncio.to_thread(atomic_write, self.folder / f"{name}.json", meta)
        except OSError as exc:
            raise UpstreamTemporary(451, "4.3.0", f"outbox not writable: {exc.strerror}") from exc
        return f"250 2.0.0 stored in outbox as {name}.eml"

    async def close(self) -> None:
        return None


class Resolver(Protocol):
    async def resolve(self, qname: str, rdtype: str) -> Any: ...


class MxForwarder:
    """Delivery to the recipient domain's MX hosts (A record fallback), cached by TTL."""

    def __init__(
        self, resolver: Resolver, port: int, opts: SmtpOptions, cache_seconds: int
    ) -> None:
        self.resolver, self.port, self.opts = resolver, port, opts
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, list[str]]] = {}

    async def exchanges(self, domain: str) -> list[str]:
        """MX hosts by preference, or the domain itself when it has no MX (RFC 5321 5.1)."""
        cached = self._cache.get(domain)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            answer = await self.resolver.resolve(domain, "MX")
            records = sorted(answer, key=lambda r: r.preference)
            hosts = [str(r.exchange).rstrip(".") for r in records]
            ttl = min(getattr(answer.rrset, "ttl", self.cache_seconds), self.cache_seconds)
        except dns.resolver.NoAnswer:
            hosts, ttl = [domain], self.cache_seconds
        except dns.resolver.NXDOMAIN as exc:
            raise UpstreamPermanent(550, "5.1.2", f"domain {domain} does not exist") from exc
        except dns.exception.DNSException as exc:
            raise UpstreamTemporary(
                451, "4.4.3", f"DNS lookup for {domain} failed: {exc}"[:200]
            ) from exc
        if hosts == [""]:
            raise UpstreamPermanent(556, "5.1.10", f"domain {domain} accepts no mail (null MX)")
        self._cache[domain] = (time.monotonic() + max(ttl, 1), hosts)
        return hosts

    async def _addresses(self, host: str) -> list[str]:
        try:
            answer = await self.resolver.resolve(host, "A")
        except dns.exception.DNSException:
            return []
        return [str(r.address) for r in answer]

    async def forward(self, envelope: Envelope, data: bytes) -> str:
        domains = {r.rpartition("@")[2].lower() for r in envelope.rcpt_tos}
        if len(domains) != 1:
            raise UpstreamTemporary(451, "4.5.3", "one recipient domain per message in mx mode")
        last: UpstreamError | None = None
        for host in await self.exchanges(domains.pop()):
            for address in await self._addresses(host):
                try:
                    return await deliver_smtp(address, self.port, envelope, data, self.opts, host)
                except UpstreamTemporary as exc:
                    last = exc  # try the next address or MX host
        raise last or UpstreamTemporary(451, "4.4.4", "no reachable MX host")

    async def close(self) -> None:
        return None


def smtp_options(config: Config) -> SmtpOptions:
    up: UpstreamConfig = config.upstream
    return SmtpOptions(config.ehlo_name, up.starttls, up.tls_verify, up.tls_ca_file, up.timeout,
                       up.tls_client_cert, up.tls_client_key)  # fmt: skip


def build_forwarder(config: Config, resolver: Resolver | None = None) -> Forwarder:
    up = config.upstream
    if up.mode == "outbox":
        return OutboxForwarder(up.outbox_dir)
    opts = smtp_options(config)
    if opts.starttls != "off":
        _tls_context(opts)  # fail at start-up, not per message, on a bad certificate
    if up.mode == "smarthost":
        return SmarthostForwarder(up.host, up.port, opts)
    if up.mode == "mx":
        if resolver is None:
            resolver = dns.asyncresolver.Resolver()
        return MxForwarder(resolver, up.port, smtp_options(config), up.mx_cache_seconds)
    raise ConfigError(f"upstream.mode {up.mode!r} is not supported")


__all__: Sequence[str] = ("Forwarder", "build_forwarder", "deliver_smtp", "response_error")
