"""Every SMTP outcome of spec/INTERFACE.md, over real sockets: client -> relay -> aiosmtpd sink."""

from __future__ import annotations

import json
from pathlib import Path

from client import send
from harness import Sink, make_config
from mail import BUYER, BUYER2, ORDER, SELLER, build, html_reply


async def test_compliant_reply_is_delivered_byte_for_byte(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """A compliant reply gets 250 after the sink accepted it, and arrives unchanged."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    data = build()
    reply = await send(relay.port, SELLER, [BUYER], data)
    assert (reply.stage, reply.code) == ("DATA", 250)
    assert "SINK1" in reply.text  # the upstream's own reply is passed on
    assert [m.data for m in sink.messages] == [data]
    assert sink.messages[0].rcpt_tos == [BUYER]


async def test_fixable_message_is_stripped_and_marked(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """A List-Unsubscribe header is removed and the trace header names the rule."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    data = build(headers={"List-Unsubscribe": "<https://lists.seller.example/unsub/1>"})
    reply = await send(relay.port, SELLER, [BUYER], data)
    assert reply.code == 250
    forwarded = sink.messages[0].data
    assert b"List-Unsubscribe" not in forwarded
    assert b"X-BSM-Relay-Stripped: bulk_headers\r\n" in forwarded
    # Only the header changed: the body is the body that was received.
    assert forwarded.split(b"\r\n\r\n", 1)[1] == data.split(b"\r\n\r\n", 1)[1]


async def test_uninspectable_message_is_quarantined(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """MIME nested past the limit is held: 250 with the quarantine id, nothing upstream."""
    relay = await start_relay(make_config(tmp_path, sink.port, server={"max_mime_depth": 3}))
    parts = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(6)
    )
    data = (
        build().split(b"Content-Type:")[0]
        + parts.encode()
        + b"Content-Type: text/plain\r\n\r\nhi\r\n"
    )
    reply = await send(relay.port, SELLER, [BUYER], data)
    assert reply.code == 250
    assert "quarantine" in reply.text
    entry_id = reply.text.split("quarantine as ")[1].split()[0]
    folder = tmp_path / "quarantine"
    assert (folder / f"{entry_id}.eml").read_bytes() == data
    record = json.loads((folder / f"{entry_id}.json").read_text())
    assert [f["rule"] for f in record["findings"]] == ["uninspectable"]
    assert record["envelope"] == {"mail_from": SELLER, "rcpt_to": [BUYER]}
    assert sink.messages == []


async def test_policy_reject_names_rules_and_reason(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """A proactive message without the order id is refused with 550 5.7.1 and what to change."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    reply = await send(relay.port, SELLER, [BUYER], build(subject="Ihre Adresse", reply=False))
    assert (reply.stage, reply.code) == ("DATA", 550)
    assert reply.text.startswith("5.7.1 Rejected by bsm-relay policy (order_id_missing)")
    assert "add the 17-digit order id" in reply.text
    assert sink.messages == []


async def test_attachment_over_size_limit_gets_552(tmp_path: Path, sink: Sink, start_relay) -> None:
    """Decoded attachments over 10 MB in total are refused with 552 5.3.4."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    big = build(
        attachments=[("scan.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * (10 * 2**20 + 1))]
    )
    reply = await send(relay.port, SELLER, [BUYER], big)
    assert (reply.code, reply.text.split()[0]) == (552, "5.3.4")
    assert "attachment_size" in reply.text


async def test_message_over_smtp_size_gets_552(tmp_path: Path, sink: Sink, start_relay) -> None:
    """A message over max_message_size is refused with 552 5.3.4, at MAIL (SIZE=) or after DATA."""
    relay = await start_relay(make_config(tmp_path, sink.port, server={"max_message_size": 50_000}))
    data = build(body="x" * 60 + ("\n" + "y" * 70) * 1000)
    at_data = await send(relay.port, SELLER, [BUYER], data)
    at_mail = await send(relay.port, SELLER, [BUYER], data, options=[f"SIZE={len(data)}"])
    assert (at_data.stage, at_data.code, at_data.text.split()[0]) == ("DATA", 552, "5.3.4")
    assert (at_mail.stage, at_mail.code, at_mail.text.split()[0]) == ("MAIL", 552, "5.3.4")


async def test_foreign_recipient_refused_at_rcpt(tmp_path: Path, sink: Sink, start_relay) -> None:
    """Open-relay protection: a non-buyer recipient gets 550 5.7.1 at RCPT TO."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    reply = await send(relay.port, SELLER, ["someone@gmail.com"], build())
    assert (reply.stage, reply.code) == ("RCPT", 550)
    assert "5.7.1 recipient_not_marketplace" in reply.text


async def test_unapproved_sender_refused_at_mail(tmp_path: Path, sink: Sink, start_relay) -> None:
    """An envelope sender outside the approved list gets 550 5.7.1 at MAIL FROM."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    reply = await send(relay.port, "newsletter@nordlicht-home.example", [BUYER], build())
    assert (reply.stage, reply.code) == ("MAIL", 550)
    assert "sender_not_approved" in reply.text


async def test_upstream_down_gives_451(tmp_path: Path, start_relay) -> None:
    """No upstream listening: 451 4.4.1, so the sending system keeps the message and retries."""
    from peers import free_port

    relay = await start_relay(make_config(tmp_path, free_port()))
    reply = await send(relay.port, SELLER, [BUYER], build())
    assert (reply.code, reply.text.split()[0]) == (451, "4.4.1")


async def test_upstream_4xx_gives_451(tmp_path: Path, sink: Sink, start_relay) -> None:
    """An upstream 4xx is a 451 with the upstream's words in it."""
    sink.data_reply = "452 4.3.1 Insufficient system storage"
    relay = await start_relay(make_config(tmp_path, sink.port))
    reply = await send(relay.port, SELLER, [BUYER], build())
    assert (reply.code, reply.text.split()[0]) == (451, "4.3.1")
    assert "Insufficient system storage" in reply.text


async def test_upstream_5xx_is_passed_back(tmp_path: Path, sink: Sink, start_relay) -> None:
    """An upstream 5xx comes back with the same code and the upstream's text."""
    sink.data_reply = "554 5.6.0 Message content refused by upstream"
    relay = await start_relay(make_config(tmp_path, sink.port))
    reply = await send(relay.port, SELLER, [BUYER], build())
    assert (reply.code, reply.text) == (554, "5.6.0 Message content refused by upstream")


async def test_upstream_dropping_connection_in_data_gives_451(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """The upstream hangs up during DATA: 451, never a 250."""
    sink.drop_in_data = True
    relay = await start_relay(make_config(tmp_path, sink.port))
    reply = await send(relay.port, SELLER, [BUYER], build())
    assert reply.code == 451


async def test_null_sender_and_mail_parameters(tmp_path: Path, sink: Sink, start_relay) -> None:
    """MAIL FROM:<> reaches the upstream as <>; BODY=8BITMIME is kept, the client's SIZE dropped."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    data = build()
    reply = await send(relay.port, "", [BUYER], data, options=["BODY=8BITMIME", "SIZE=1"])
    assert reply.code == 250
    got = sink.messages[0]
    assert got.mail_from == "<>"
    assert "BODY=8BITMIME" in got.mail_options
    assert "SIZE=1" not in got.mail_options


async def test_two_buyers_rejected(tmp_path: Path, sink: Sink, start_relay) -> None:
    """Two buyer recipients in one message are refused as multiple_buyers."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    reply = await send(relay.port, SELLER, [BUYER, BUYER2], build())
    assert (reply.code, "multiple_buyers" in reply.text) == (550, True)


async def test_outbox_mode_writes_one_eml(tmp_path: Path, start_relay) -> None:
    """In outbox mode the delivered message is one .eml (and its envelope as .json)."""
    relay = await start_relay(make_config(tmp_path, upstream={"mode": "outbox"}))
    data = build(html=html_reply(f"Ihre Bestellung {ORDER}"))
    reply = await send(relay.port, SELLER, [BUYER], data)
    assert reply.code == 250
    emls = list((tmp_path / "outbox").glob("*.eml"))
    assert [p.read_bytes() for p in emls] == [data]
    envelope = json.loads(emls[0].with_suffix(".json").read_text())
    assert envelope == {"mail_from": SELLER, "rcpt_to": [BUYER]}


async def test_time_budget_overrun_is_quarantined(tmp_path: Path, sink: Sink, start_relay) -> None:
    """A message whose inspection overruns the budget is held, and the next one still flows."""
    relay = await start_relay(make_config(tmp_path, sink.port, server={"time_budget": 0.000001}))
    first = await send(relay.port, SELLER, [BUYER], build())
    assert first.code == 250
    assert "quarantine" in first.text
    assert relay.inspector.killed == 1
    assert sink.messages == []


class BrokenInspector:
    """An inspector that fails in a way the relay did not foresee."""

    def update(self, settings: object) -> None:
        return None

    async def inspect(self, raw: bytes, envelope: object, profile: str = "") -> object:
        raise RuntimeError("unforeseen failure")

    async def close(self) -> None:
        return None


async def test_internal_error_is_a_controlled_451(tmp_path: Path, sink: Sink, start_relay) -> None:
    """An unexpected exception becomes 451 4.3.0 on the wire (no traceback); the session goes on."""
    relay = await start_relay(make_config(tmp_path, sink.port), inspector=BrokenInspector())
    reply = await send(relay.port, SELLER, [BUYER], build())
    assert reply.code == 451
    assert reply.text == "4.3.0 Internal error in the relay; please try again later"
    assert "Traceback" not in reply.text
    assert sink.messages == []
