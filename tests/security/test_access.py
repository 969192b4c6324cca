"""Who may relay: client networks, STARTTLS, AUTH after TLS, brute-force throttling, limits.

The relay listens on 127.0.0.1; tests that need an "outside" client configure networks that
do not contain loopback, so the same socket plays a stranger.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from pathlib import Path

import aiosmtplib
import pytest
import trustme
from client import send
from harness import Sink, make_config
from mail import BUYER, SELLER, build
from rawsmtp import RawSMTP

from relay.access import Limits, parse_networks
from relay.config import AccessConfig, TLSConfig
from relay.passwords import set_user

OUTSIDE = parse_networks(["192.0.2.0/24"])  # TEST-NET-1: loopback clients are strangers
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_files(ca: trustme.CA, folder: Path) -> TLSConfig:
    cert = ca.issue_cert("bsm-relay.test", "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "relay.pem"))
    return TLSConfig(cert=str(folder / "relay.pem"), key=str(folder / "relay.pem"))


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def secured(tmp_path: Path, sink: Sink, ca: trustme.CA, require: bool = False, **limits: object):
    users = tmp_path / "users"
    set_user(users, "helpdesk", PASSWORD, log2_n=10)
    tls = dataclasses.replace(tls_files(ca, tmp_path), require=require)
    access = AccessConfig(
        networks=OUTSIDE,
        users_file=str(users),
        limits=dataclasses.replace(Limits(auth_failure_delay=0.0), **limits),
    )
    return make_config(tmp_path, sink.port, tls=tls, access=access)


async def test_outside_networks_mail_needs_auth(tmp_path: Path, sink: Sink, start_relay, ca):
    """A client outside the networks gets 530 at MAIL FROM and nothing reaches the sink."""
    relay = await start_relay(secured(tmp_path, sink, ca))
    reply = await send(relay.port, SELLER, [BUYER], build())
    assert (reply.stage, reply.code, "Authentication required" in reply.text) == ("MAIL", 530, True)
    assert sink.messages == []


async def test_auth_is_not_offered_or_accepted_without_tls(tmp_path: Path, sink, start_relay, ca):
    """Before STARTTLS, EHLO does not list AUTH and AUTH PLAIN gets 538 (encryption first)."""
    relay = await start_relay(secured(tmp_path, sink, ca))
    client, _ = await RawSMTP.connect(relay.port)
    ehlo = await client.command("EHLO probe.test")
    auth = await client.auth_plain("helpdesk", PASSWORD)
    await client.close()
    offered = [line for line in ehlo.lines if "AUTH" in line]
    assert (offered, any("STARTTLS" in line for line in ehlo.lines), auth.code) == ([], True, 538)


async def test_starttls_then_auth_relays(tmp_path: Path, sink: Sink, start_relay, ca) -> None:
    """STARTTLS with a certificate from a throwaway CA, then AUTH PLAIN: the message goes."""
    relay = await start_relay(secured(tmp_path, sink, ca))
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=relay.port, start_tls=True,
                             tls_context=client_context(ca), local_hostname="client.test")  # fmt: skip
    await client.connect()
    await client.ehlo()  # the extensions offered inside TLS
    assert {"plain", "login"} <= {m.lower() for m in client.server_auth_methods}
    await client.login("helpdesk", PASSWORD)
    errors, response = await client.sendmail(SELLER, [BUYER], build())
    await client.quit()
    assert (errors, response[:5], len(sink.messages)) == ({}, "2.0.0", 1)


async def test_auth_login_mechanism(tmp_path: Path, sink: Sink, start_relay, ca) -> None:
    """AUTH LOGIN (what Exchange and many helpdesks use) works after STARTTLS."""
    relay = await start_relay(secured(tmp_path, sink, ca))
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=relay.port, start_tls=True,
                             tls_context=client_context(ca), local_hostname="client.test")  # fmt: skip
    await client.connect()
    await client.ehlo()
    response = await client.auth_login("helpdesk", PASSWORD)
    await client.quit()
    assert response.code == 235


async def test_require_tls_refuses_mail_before_starttls(tmp_path, sink, start_relay, ca):
    """With tls.require, MAIL FROM before STARTTLS gets 530."""
    relay = await start_relay(secured(tmp_path, sink, ca, require=True))
    client, _ = await RawSMTP.connect(relay.port)
    await client.command("EHLO probe.test")
    mail = await client.command(f"MAIL FROM:<{SELLER}>")
    await client.close()
    assert mail.code == 530


async def test_brute_force_is_throttled(tmp_path: Path, sink: Sink, start_relay, ca) -> None:
    """After auth_max_failures wrong passwords, even the right one gets 454 and the line drops;
    a new connection from the same address is throttled too."""
    relay = await start_relay(secured(tmp_path, sink, ca, auth_max_failures=3))
    context = client_context(ca)

    async def tls_session() -> RawSMTP:
        client, _ = await RawSMTP.connect(relay.port)
        await client.command("EHLO probe.test")
        assert (await client.command("STARTTLS")).code == 220
        await client.starttls(context, "bsm-relay.test")
        await client.command("EHLO probe.test")
        return client

    client = await tls_session()
    codes = [(await client.auth_plain("helpdesk", f"guess-{i}")).code for i in range(3)]
    codes.append((await client.auth_plain("helpdesk", PASSWORD)).code)
    assert await client.closed()
    await client.close()
    again = await tls_session()
    codes.append((await again.auth_plain("helpdesk", PASSWORD)).code)
    await again.close()
    assert codes == [535, 535, 535, 454, 454]


async def test_unknown_user_and_wrong_password_look_alike(tmp_path, sink, start_relay, ca):
    """An unknown user gets the same 535 as a wrong password (no user enumeration)."""
    relay = await start_relay(secured(tmp_path, sink, ca))
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=relay.port, start_tls=True,
                             tls_context=client_context(ca), local_hostname="client.test")  # fmt: skip
    await client.connect()
    replies = []
    for user, password in (("nobody", PASSWORD), ("helpdesk", "wrong password!")):
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as info:
            await client.login(user, password)
        replies.append((info.value.code, info.value.message))
    await client.quit()
    assert replies[0] == replies[1]
    assert replies[0][0] == 535


async def test_connections_per_ip_are_limited(tmp_path: Path, sink: Sink, start_relay) -> None:
    """The third connection from one address gets 421 at the greeting; the first two work."""
    access = AccessConfig(limits=Limits(max_connections_per_ip=2))
    relay = await start_relay(make_config(tmp_path, sink.port, access=access))
    first, banner1 = await RawSMTP.connect(relay.port)
    second, banner2 = await RawSMTP.connect(relay.port)
    third, banner3 = await RawSMTP.connect(relay.port)
    closed = await third.closed()
    await first.close()
    await asyncio.sleep(0.1)
    fourth, banner4 = await RawSMTP.connect(relay.port)
    for c in (second, third, fourth):
        await c.close()
    assert (banner1.code, banner2.code, banner3.code, closed, banner4.code) == (
        220, 220, 421, True, 220,
    )  # fmt: skip


async def test_messages_per_minute_are_limited(tmp_path: Path, sink: Sink, start_relay) -> None:
    """Past messages_per_minute_per_ip the next MAIL FROM gets 450 (the client retries later)."""
    access = AccessConfig(limits=Limits(messages_per_minute_per_ip=3))
    relay = await start_relay(make_config(tmp_path, sink.port, access=access))
    replies = [await send(relay.port, SELLER, [BUYER], build()) for _ in range(4)]
    assert [(r.stage, r.code) for r in replies] == [("DATA", 250)] * 3 + [("MAIL", 450)]
    assert len(sink.messages) == 3


async def test_recipients_per_message_are_limited(tmp_path: Path, sink: Sink, start_relay):
    """Past max_recipients, RCPT TO gets 452; the accepted recipients still get the message."""
    relay = await start_relay(make_config(tmp_path, sink.port, server={"max_recipients": 2}))
    client, _ = await RawSMTP.connect(relay.port)
    await client.command("EHLO probe.test")
    await client.command(f"MAIL FROM:<{SELLER}>")
    codes = [(await client.command(f"RCPT TO:<{i}{BUYER}>")).code
             for i in range(3)]  # fmt: skip
    await client.close()
    assert codes == [250, 250, 452]


async def test_idle_client_gets_421_and_is_closed(tmp_path: Path, sink: Sink, start_relay):
    """A client silent for session_timeout gets 421 4.4.2 and the connection is closed."""
    relay = await start_relay(make_config(tmp_path, sink.port, server={"session_timeout": 0.5}))
    client, _ = await RawSMTP.connect(relay.port)
    await client.command("EHLO probe.test")
    reply = await client.reply(timeout=5)
    closed = await client.closed()
    await client.close()
    assert (reply.code, "timeout" in reply.text, closed) == (421, True, True)


async def test_slow_data_is_cut_off_and_nothing_is_forwarded(tmp_path, sink, start_relay):
    """A client that trickles DATA past data_timeout gets 421 (each line arrives well within
    the per-command timeout); no partial message goes upstream."""
    server = {"session_timeout": 30.0, "data_timeout": 0.6}
    relay = await start_relay(make_config(tmp_path, sink.port, server=server))
    client, _ = await RawSMTP.connect(relay.port)
    await client.command("EHLO probe.test")
    await client.command(f"MAIL FROM:<{SELLER}>")
    await client.command(f"RCPT TO:<{BUYER}>")
    assert (await client.command("DATA")).code == 354
    reply = None
    for chunk in build().split(b"\r\n")[:20]:
        await client.send(chunk + b"\r\n")
        try:  # a line every 0.15 s, listening for the relay's answer in between
            reply = await client.reply(timeout=0.15)
            break
        except TimeoutError:
            continue
    assert reply is not None, "the relay never cut the slow client off"
    await client.close()
    assert (reply.code, sink.messages) == (421, [])


@pytest.mark.parametrize(
    "recipient",
    [
        "someone@gmail.com",
        "x@marketplace.amazon.de.attacker.example",
        "x@attacker.example",
        '"x@marketplace.amazon.de"@attacker.example',
        "@attacker.example:x@marketplace.amazon.de",
        "x@marketplace.amazon.de@attacker.example",
        "x@amazon.de",
    ],
)
async def test_open_relay_probes_are_refused(recipient: str, tmp_path, sink, start_relay):
    """Every classic open-relay recipient form is refused at RCPT TO; nothing is forwarded."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    client, _ = await RawSMTP.connect(relay.port)
    await client.command("EHLO probe.test")
    await client.command(f"MAIL FROM:<{SELLER}>")
    rcpt = await client.command(f"RCPT TO:<{recipient}>")
    data = await client.command("DATA")
    await client.close()
    assert (rcpt.code // 100, data.code // 100, sink.messages) == (5, 5, [])


async def test_foreign_sender_is_refused(tmp_path: Path, sink: Sink, start_relay) -> None:
    """A sender that is not approved is refused at MAIL FROM (sender_not_approved)."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    reply = await send(relay.port, "spoof@attacker.example", [BUYER], build())
    assert (reply.stage, reply.code, "sender_not_approved" in reply.text) == ("MAIL", 550, True)


async def test_concurrent_transfers_are_bounded(tmp_path: Path, sink: Sink, start_relay) -> None:
    """With max_transfers = 1, a second DATA while one is being received gets 451 (memory
    stays bounded); once the first ends, the next transfer goes through."""
    access = AccessConfig(limits=Limits(max_transfers=1))
    relay = await start_relay(make_config(tmp_path, sink.port, access=access))
    first, _ = await RawSMTP.connect(relay.port)
    for line in ("EHLO a.test", f"MAIL FROM:<{SELLER}>", f"RCPT TO:<{BUYER}>", "DATA"):
        await first.command(line)
    await first.send(build()[:200])  # half-way through its transfer
    second = await send(relay.port, SELLER, [BUYER], build())
    await first.send(build()[200:] + b".\r\n")
    done = await first.reply()
    await first.close()
    third = await send(relay.port, SELLER, [BUYER], build())
    assert [(second.stage, second.code), done.code, third.code] == [("DATA", 451), 250, 250]


async def test_malformed_paths_are_refused_as_malformed(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """Paths the email package's parser crashes on ("<", ".@[") get 553 (malformed address)
    and the session goes on; aiosmtpd alone would answer them with a 451 internal error."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    client, _ = await RawSMTP.connect(relay.port)
    await client.command("EHLO probe.test")
    codes = [(await client.command(line)).code
             for line in ("MAIL FROM:<", "MAIL FROM:.@[", f"MAIL FROM:<{SELLER}>", "RCPT TO:<")]  # fmt: skip
    await client.close()
    assert [553, 553, 250, 553] == codes
