"""Delivery to the next hop: a local outbox folder, a smarthost, or the recipients' MX.

Every failure is mapped onto relay.errors at this boundary: connection problems, timeouts,
TLS failures and 4xx replies are `UpstreamTemporary` (the client is told 451 and retries),
5xx replies are `UpstreamPermanent` (passed back with the upstream's code and text).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib
import dns.asyncresolver
import dns.exception
import dns.resolver

from relay.config import Config, UpstreamConfig
from relay.errors import ConfigError, UpstreamError, UpstreamPermanent, UpstreamTemporary
from relay.files import atomic_write, new_id
from relay.message import Envelope
from relay.transaction import (
    Opened,
    SmtpOptions,
    complete_transaction,
    connect_smtp,
    open_transaction,
    tls_context,
    transaction,
    wire_format,
)

_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


class Forwarder(Protocol):
    async def forward(self, envelope: Envelope, data: bytes) -> str:
        """Hand the message on; return the upstream's reply. Raises UpstreamError."""

    async def close(self) -> None: ...


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
    the upstream closed meanwhile is noticed at MAIL FROM (with PIPELINING, at the replies to
    MAIL, RCPT and DATA), before any content went out, and replaced once; a failure later in
    the transaction is never retried (that could deliver twice) but reported as usual. No
    RSET between transactions: a completed transaction leaves the session ready for the next
    MAIL (RFC 5321 3.3), which saves a round trip.
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
        opened: Opened | None = None
        try:
            if client is not None:
                try:  # the first reply also proves the pooled connection still works
                    opened = await open_transaction(client, envelope, size)
                except _STALE as exc:
                    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code != 421:
                        raise
                    client.close()
                    client = None
            if client is None or opened is None:
                client = await connect_smtp(self.host, self.port, self.opts)
                opened = await open_transaction(client, envelope, size)
            reply = await complete_transaction(client, envelope, wire, opened)
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
        tls_context(opts)  # fail at start-up, not per message, on a bad certificate
    if up.mode == "smarthost":
        return SmarthostForwarder(up.host, up.port, opts)
    if up.mode == "mx":
        if resolver is None:
            resolver = dns.asyncresolver.Resolver()
        return MxForwarder(resolver, up.port, smtp_options(config), up.mx_cache_seconds)
    raise ConfigError(f"upstream.mode {up.mode!r} is not supported")


__all__: Sequence[str] = ("Forwarder", "build_forwarder", "deliver_smtp", "response_error")
