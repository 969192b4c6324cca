"""SMTP smuggling: end-of-data look-alikes never split one submission into two upstream.

Each probe hides a second transaction (MAIL, RCPT, DATA, a forged message) behind a fake
end-of-data sequence, then ends DATA properly. The relay (aiosmtpd) only ends DATA at
<CRLF>.<CRLF>; its upstream client (aiosmtplib) normalises bare CR and LF to CRLF and
dot-stuffs, so even a lenient next hop sees one message. Checked against an aiosmtpd sink and
against Postfix's smtp-sink, which, like many MTAs, accepts bare LF as a line end.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import Sink, make_config
from interop_tools import SmtpSink, start_relay_process
from mail import BUYER, SELLER, build
from rawsmtp import RawSMTP

FAKE_ENDS = {
    "bare-LF": b"\n.\n",
    "LF-dot-CRLF": b"\n.\r\n",
    "CRLF-dot-LF": b"\r\n.\n",
    "bare-CR": b"\r.\r",
    "CR-dot-CRLF": b"\r.\r\n",
    "CRLF-dot-CR": b"\r\n.\r",
    "LF-dot-CR-LF": b"\n.\r\n",
}
SMUGGLED = (
    f"MAIL FROM:<{SELLER}>\r\nRCPT TO:<{BUYER}>\r\nDATA\r\n"
    "From: ceo@nordlicht-home.example\r\nSubject: smuggled\r\n\r\nForged second message\r\n"
).encode()


def probe_payload(fake_end: bytes) -> bytes:
    """A legitimate reply, a fake end of data, a hidden transaction, the real end of data."""
    head = build().rstrip(b"\r\n")
    return head + fake_end + SMUGGLED + b"\r\n.\r\n"


async def submit_raw(port: int, payload: bytes) -> list[int]:
    """One pipelined-style submission written in one go; the codes of every reply seen."""
    client, _ = await RawSMTP.connect(port)
    await client.command("EHLO probe.test")
    await client.command(f"MAIL FROM:<{SELLER}>")
    await client.command(f"RCPT TO:<{BUYER}>")
    assert (await client.command("DATA")).code == 354
    await client.send(payload)
    codes = [(await client.reply()).code]
    quit_reply = await client.command("QUIT")
    codes.append(quit_reply.code)
    await client.close()
    return codes


@pytest.mark.parametrize("name", sorted(FAKE_ENDS))
async def test_fake_end_of_data_gives_one_message(name: str, tmp_path: Path, sink: Sink,
                                                  start_relay) -> None:  # fmt: skip
    """One DATA reply and one QUIT reply; the sink holds one message with the hidden text in
    its body, never a second message."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    codes = await submit_raw(relay.port, probe_payload(FAKE_ENDS[name]))
    bodies = [m.data for m in sink.messages]
    assert (codes, len(bodies), b"Forged second message" in bodies[0]) == ([250, 221], 1, True)


def test_lenient_upstream_sees_one_message(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    """Postfix's smtp-sink (bare LF ends lines for it) receives exactly one message per probe,
    and none of them ends early."""
    import asyncio

    workdir = tmp_path / "relay"
    workdir.mkdir()
    relay = start_relay_process(workdir, smtp_sink.port)
    try:
        for fake_end in FAKE_ENDS.values():
            codes = asyncio.run(submit_raw(relay.port, probe_payload(fake_end)))
            assert codes == [250, 221]
        messages = smtp_sink.wait_for(len(FAKE_ENDS))
    finally:
        relay.proc.terminate()
        relay.proc.wait(15)
    assert len(messages) == len(FAKE_ENDS)
    assert all(b"Forged second message" in m for m in messages)
