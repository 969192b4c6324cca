"""The pipeline with in-memory fakes: every decision, without sockets or processes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mail import BUYER, SELLER, build
from ruletools import context

from relay.errors import StoreError, UpstreamPermanent, UpstreamTemporary
from relay.inspect import InspectSettings, LocalInspector
from relay.message import Envelope
from relay.pipeline import Pipeline, Submission, ascii_text, reply
from relay.quarantine import HeldMessage
from relay.state import MemoryState


@dataclass
class FakeForwarder:
    fail: Exception | None = None
    sent: list[tuple[Envelope, bytes]] = field(default_factory=list)

    async def forward(self, envelope: Envelope, data: bytes) -> str:
        if self.fail:
            raise self.fail
        self.sent.append((envelope, data))
        return "250 2.0.0 queued"

    async def close(self) -> None:
        return None


@dataclass
class FakeQuarantine:
    broken: bool = False
    held: list[HeldMessage] = field(default_factory=list)

    async def hold(self, held: HeldMessage) -> str:
        if self.broken:
            raise StoreError("disk full")
        self.held.append(held)
        return "20261123T000000000000Z-00000001"


@dataclass
class FakeLog:
    lines: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))


def pipeline(forwarder: FakeForwarder | None = None, quarantine: FakeQuarantine | None = None):  # type: ignore[no-untyped-def]
    settings = InspectSettings(context())
    log = FakeLog()
    pipe = Pipeline(settings, LocalInspector(settings), forwarder or FakeForwarder(),
                    quarantine or FakeQuarantine(), MemoryState(), log)  # fmt: skip
    return pipe, log


def submission(raw: bytes) -> Submission:
    return Submission(Envelope(SELLER, (BUYER,)), raw, "127.0.0.1:5000")


async def test_deliver_forwards_the_received_bytes() -> None:
    """A compliant message is forwarded as received and logged once with its facts."""
    fwd = FakeForwarder()
    pipe, log = pipeline(fwd)
    raw = build()
    outcome = await pipe.process(submission(raw))
    assert (outcome.code, outcome.action, fwd.sent[0][1]) == (250, "deliver", raw)
    assert [event for event, _ in log.lines] == ["message"]
    fields = log.lines[0][1]
    assert (fields["action"], fields["mail_from"], fields["rcpt_to"]) == (
        "deliver",
        SELLER,
        [BUYER],
    )
    assert {
        "message_id",
        "peer",
        "rules",
        "size",
        "inspect_ms",
        "upstream",
        "quarantine_id",
    } <= set(fields)


async def test_quarantine_store_failure_gives_451() -> None:
    """No durable copy, no 250: a failing quarantine store answers 451 4.3.0."""
    pipe, _ = pipeline(quarantine=FakeQuarantine(broken=True))
    nested = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(40)
    )
    outcome = await pipe.process(submission(nested.encode()))
    assert (outcome.code, outcome.action) == (451, "defer")
    assert outcome.reply.startswith("451 4.3.0")


async def test_upstream_errors_map_to_replies() -> None:
    """A temporary upstream error gives its 451; a permanent one its own 5xx."""
    pipe, _ = pipeline(FakeForwarder(UpstreamTemporary(451, "4.4.1", "upstream down")))
    assert (await pipe.process(submission(build()))).reply == "451 4.4.1 upstream down"
    pipe, _ = pipeline(FakeForwarder(UpstreamPermanent(554, "5.7.1", "spam")))
    outcome = await pipe.process(submission(build()))
    assert (outcome.code, outcome.reply, outcome.action) == (554, "554 5.7.1 spam", "bounce")


def test_envelope_checks_and_log() -> None:
    """MAIL and RCPT refusals are 550 5.7.1 replies, logged; the null sender waits for DATA."""
    pipe, log = pipeline()
    assert pipe.check_sender("") is None
    assert pipe.check_sender(SELLER) is None
    refused = pipe.check_sender("spam@elsewhere.example")
    assert refused is not None
    assert refused.startswith("550 5.7.1 sender_not_approved")
    assert pipe.check_recipient(BUYER) is None
    assert (pipe.check_recipient("x@gmail.com") or "").startswith(
        "550 5.7.1 recipient_not_marketplace"
    )
    assert [f["stage"] for _, f in log.lines] == ["MAIL", "RCPT"]


def test_replies_are_ascii_multiline() -> None:
    """Reply text is ASCII without control characters, every line with code and status."""
    assert reply(550, "5.7.1", ["Größe 🚀\r\nBcc: x", "second"]) == (
        "550-5.7.1 Grosse   Bcc: x\r\n550 5.7.1 second"
    )
    assert ascii_text("é\x00") == "e "
