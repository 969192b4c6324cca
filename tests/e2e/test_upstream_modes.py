"""Upstream modes over real sockets: STARTTLS to a smarthost, MX lookup with an injected resolver."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

import dns.resolver
import pytest
import trustme
from client import send
from harness import Sink, make_config
from mail import BUYER, SELLER, build


def tls_sink(ca: trustme.CA, pipelining: bool = False) -> Sink:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "sink.localdomain").configure_cert(ctx)
    return Sink(tls_context=ctx, pipelining=pipelining)


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])
async def test_starttls_required_and_verified(
    tmp_path: Path, start_relay, pipelining: bool
) -> None:
    """With starttls=required and a trusted CA the messages travel over TLS, two over one
    kept-open connection, with and without PIPELINING offered after STARTTLS."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    sink = tls_sink(ca, pipelining)
    await sink.start()
    try:
        cfg = make_config(tmp_path, sink.port, upstream={"starttls": "required", "tls_verify": True,
                                                        "tls_ca_file": str(ca_file)})  # fmt: skip
        relay = await start_relay(cfg)
        replies = [await send(relay.port, SELLER, [BUYER], build()) for _ in range(2)]
        assert ([250, 250], [True, True], 1) == (
            [r.code for r in replies], [m.tls for m in sink.messages], len(sink.protocols),
        )  # fmt: skip
    finally:
        await sink.stop()


async def test_untrusted_certificate_gives_451(tmp_path: Path, start_relay) -> None:
    """Verification against another CA fails the TLS handshake: 451 4.7.5, nothing delivered."""
    sink = tls_sink(trustme.CA())
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    await sink.start()
    try:
        cfg = make_config(tmp_path, sink.port, upstream={"starttls": "required", "tls_verify": True,
                                                        "tls_ca_file": str(other)})  # fmt: skip
        relay = await start_relay(cfg)
        reply = await send(relay.port, SELLER, [BUYER], build())
        assert (reply.code, reply.text.split()[0]) == (451, "4.7.5")
        assert sink.messages == []
    finally:
        await sink.stop()


async def test_required_starttls_not_offered_gives_451(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """A plain upstream when TLS is required: 451, the message stays with the sender."""
    relay = await start_relay(make_config(tmp_path, sink.port, upstream={"starttls": "required"}))
    reply = await send(relay.port, SELLER, [BUYER], build())
    assert reply.code == 451
    assert sink.messages == []


async def test_opportunistic_starttls_uses_tls_when_offered(tmp_path: Path, start_relay) -> None:
    """The default policy upgrades when the upstream offers STARTTLS, without verifying."""
    sink = tls_sink(trustme.CA())
    await sink.start()
    try:
        relay = await start_relay(
            make_config(tmp_path, sink.port, upstream={"starttls": "opportunistic"})
        )
        assert (await send(relay.port, SELLER, [BUYER], build())).code == 250
        assert [m.tls for m in sink.messages] == [True]
    finally:
        await sink.stop()


@dataclass
class Record:
    preference: int = 0
    exchange: str = ""
    address: str = ""


class Answer(list):  # type: ignore[type-arg]
    class rrset:  # noqa: N801 -- the shape dnspython's Answer has
        ttl = 300


class FakeResolver:
    """Answers like dns.asyncresolver.Resolver, from a table; counts the lookups."""

    def __init__(self, table: dict[tuple[str, str], list[Record] | Exception]) -> None:
        self.table = table
        self.calls: list[tuple[str, str]] = []

    async def resolve(self, qname: str, rdtype: str) -> Answer:
        self.calls.append((qname, rdtype))
        found = self.table.get((qname, rdtype), dns.resolver.NXDOMAIN())
        if isinstance(found, Exception):
            raise found
        return Answer(found)


async def test_mx_mode_delivers_to_best_reachable_mx(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """MX hosts are tried by preference; an unreachable first MX falls through; answers are cached."""
    resolver = FakeResolver({
        ("marketplace.amazon.de", "MX"): [Record(20, "mx2.test."), Record(10, "mx1.test.")],
        ("mx1.test", "A"): [Record(address="127.0.0.2")],
        ("mx2.test", "A"): [Record(address="127.0.0.1")],
    })  # fmt: skip
    cfg = make_config(tmp_path, sink.port, upstream={"mode": "mx", "timeout": 2.0})
    relay = await start_relay(cfg, resolver=resolver)
    for _ in range(2):
        assert (await send(relay.port, SELLER, [BUYER], build())).code == 250
    assert len(sink.messages) == 2
    assert resolver.calls.count(("marketplace.amazon.de", "MX")) == 1


async def test_mx_mode_a_fallback_and_nxdomain(tmp_path: Path, sink: Sink, start_relay) -> None:
    """No MX record: the domain's own A record; a missing domain is a permanent 550 5.1.2."""
    resolver = FakeResolver({
        ("marketplace.amazon.de", "MX"): dns.resolver.NoAnswer(),
        ("marketplace.amazon.de", "A"): [Record(address="127.0.0.1")],
    })  # fmt: skip
    relay = await start_relay(
        make_config(tmp_path, sink.port, upstream={"mode": "mx"}), resolver=resolver
    )
    assert (await send(relay.port, SELLER, [BUYER], build())).code == 250
    other = "k2m8x0qvd7s4nw1@marketplace.amazon.fr"
    reply = await send(relay.port, SELLER, [other], build(to=other))
    assert (reply.code, reply.text.split()[0]) == (550, "5.1.2")


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])
async def test_smarthost_connection_is_reused(
    tmp_path: Path, sink: Sink, start_relay, pipelining: bool
) -> None:
    """Consecutive messages travel over one kept-open upstream connection."""
    sink.pipelining = pipelining  # offered from the relay's first EHLO on
    relay = await start_relay(make_config(tmp_path, sink.port))
    replies = [await send(relay.port, SELLER, [BUYER], build()) for _ in range(3)]
    assert ([r.code for r in replies], len({m.peer for m in sink.messages})) == ([250] * 3, 1)


async def test_pooled_connection_closed_by_upstream_is_replaced(tmp_path: Path, start_relay):
    """The upstream restarts between two messages: the dead pooled connection is noticed
    before any data is sent and the message goes over a new one."""
    first_sink = Sink()
    await first_sink.start()
    port = first_sink.port
    relay = await start_relay(make_config(tmp_path, port))
    first = await send(relay.port, SELLER, [BUYER], build())
    await first_sink.stop()
    assert first_sink.server is not None
    first_sink.server.close()
    await first_sink.server.wait_closed()
    for transport in list(first_sink.transports):
        transport.close()
    second_sink = Sink()
    loop = asyncio.get_running_loop()
    second_sink.server = await loop.create_server(second_sink.factory, "127.0.0.1", port)
    try:
        second = await send(relay.port, SELLER, [BUYER], build())
    finally:
        await second_sink.stop()
    assert (first.code, second.code, len(first_sink.messages), len(second_sink.messages)) == (
        250, 250, 1, 1,
    )  # fmt: skip


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])
async def test_pooled_connection_closing_at_mail_is_replaced(
    tmp_path: Path, sink: Sink, start_relay, pipelining: bool
) -> None:
    """A 421 to MAIL FROM on a pooled connection (the upstream is closing it) costs nothing:
    no data went out, so the message goes over a new connection, once."""
    sink.pipelining = pipelining  # offered from the relay's first EHLO on
    relay = await start_relay(make_config(tmp_path, sink.port))
    first = await send(relay.port, SELLER, [BUYER], build())
    sink.mail_replies = ["421 4.3.2 Service shutting down"]
    second = await send(relay.port, SELLER, [BUYER], build())
    peers = [m.peer for m in sink.messages]
    assert (first.code, second.code, len(peers), peers[0] != peers[1]) == (250, 250, 2, True)


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])
async def test_refused_recipient_resets_and_connection_is_reused(
    tmp_path: Path, sink: Sink, start_relay, pipelining: bool
) -> None:
    """An upstream 550 at RCPT is passed back; the relay resets the envelope (RSET) and the
    next message travels over the same connection."""
    sink.pipelining = pipelining  # offered from the relay's first EHLO on
    relay = await start_relay(make_config(tmp_path, sink.port))
    sink.rcpt_reply = "550 5.1.1 No such user here"
    refused = await send(relay.port, SELLER, [BUYER], build())
    sink.rcpt_reply = None
    accepted = await send(relay.port, SELLER, [BUYER], build())
    assert (refused.code, "No such user" in refused.text, accepted.code) == (550, True, 250)
    assert 1 == len(sink.protocols)
