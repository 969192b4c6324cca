"""The pipeline: one submission in, one SMTP reply out, one log line written.

It joins the policy (through an Inspector), delivery (a Forwarder), the quarantine store and
the state store, each behind a small interface so tests can swap in in-memory fakes. The
rules it applies are the contract of spec/INTERFACE.md: 250 only after the upstream accepted
or the quarantine copy is on disk; 451 when either could not happen; 550 5.7.1 (552 5.3.4 for
size) with the rule ids and reasons on reject; an upstream 5xx passed back as it came.
"""

from __future__ import annotations

import secrets
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from relay.errors import StoreError, UpstreamError, UpstreamPermanent
from relay.inspect import InspectSettings
from relay.message import Envelope
from relay.metrics import Metrics, NullMetrics
from relay.policy.engine import Evaluation, with_review_history
from relay.policy.envelope import (
    recipient_hit,
    recipient_not_marketplace,
    sender_hit,
    sender_not_approved,
)
from relay.policy.model import Action, Finding, Hit
from relay.quarantine import HeldMessage
from relay.state import StateStore
from relay.upstream import Forwarder

MAX_REPLY_LINE = 400
_TRANSLIT = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe",
                           "Œ": "OE", "ł": "l", "Ł": "L", "đ": "d", "€": "EUR"})  # fmt: skip


class Inspector(Protocol):
    async def inspect(self, raw: bytes, envelope: Envelope, profile: str = "") -> Evaluation: ...

    def update(self, settings: InspectSettings) -> None: ...


class Quarantine(Protocol):
    async def hold(self, held: HeldMessage) -> str: ...


@dataclass(frozen=True)
class Submission:
    envelope: Envelope
    data: bytes
    peer: str = ""
    auth_user: str = ""  # the AUTH identity, when the client authenticated
    profile: str = ""  # the agency profile whose policy and quarantine apply ('' = the relay's)


@dataclass(frozen=True)
class Outcome:
    code: int
    reply: str  # the complete SMTP reply, possibly multi-line
    action: str  # deliver, strip, quarantine, reject, defer (4xx) or bounce (upstream 5xx)
    quarantine_id: str = ""
    upstream: str = ""
    upstream_code: int | None = None  # the next hop's reply code; 0 when it never answered


def ascii_text(text: str) -> str:
    """Reply text safe on any SMTP connection: ASCII, no control characters."""
    text = text.translate(_TRANSLIT)
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c if " " <= c <= "~" else " " for c in folded)


def reply(code: int, enhanced: str, lines: Sequence[str]) -> str:
    """A (multi-line) SMTP reply; every line carries the code and enhanced status."""
    clean = [ascii_text(line)[:MAX_REPLY_LINE] for line in lines if line.strip()] or ["OK"]
    out = [f"{code}-{enhanced} {line}" for line in clean[:-1]]
    out.append(f"{code} {enhanced} {clean[-1]}")
    return "\r\n".join(out)


def _reason_lines(findings: Sequence[Finding]) -> list[str]:
    seen: dict[str, str] = {}
    for f in findings:
        seen.setdefault(f.rule, f"{f.rule}: {f.reason} [{f.evidence[:120]}]")
    return list(seen.values())


def rejection(findings: Sequence[Finding]) -> tuple[int, str]:
    """550 5.7.1 naming every rule that fired (552 5.3.4 when it is about size)."""
    rules = list(dict.fromkeys(f.rule for f in findings))
    code, enhanced = (552, "5.3.4") if "attachment_size" in rules else (550, "5.7.1")
    head = f"Rejected by bsm-relay policy ({', '.join(rules)}): change the message and resend"
    return code, reply(code, enhanced, [head, *_reason_lines(findings)])


class Pipeline:
    def __init__(
        self,
        settings: InspectSettings,
        inspector: Inspector,
        forwarder: Forwarder,
        quarantine: Quarantine,
        state: StateStore,
        log: Any,
        metrics: Metrics | None = None,
        profile_quarantines: Mapping[str, Quarantine] | None = None,
    ) -> None:
        self.settings = settings
        self.inspector = inspector
        self.forwarder = forwarder
        self.quarantine = quarantine
        self.profile_quarantines = profile_quarantines or {}
        self.state = state
        self.log = log
        self.metrics = metrics or NullMetrics()

    def update(self, settings: InspectSettings) -> None:
        """A reloaded policy: applies to the next envelope and the next message."""
        self.settings = settings
        self.inspector.update(settings)

    # ------------------------------------------------------------ envelope
    def _envelope_reply(self, rule_id: str, hit: Hit | None, stage: str) -> str | None:
        if hit is None:
            return None
        self.log.info("envelope", stage=stage, action="reject", rules=[rule_id],
                      address=hit.evidence, reason=hit.reason)  # fmt: skip
        self.metrics.envelope(stage, rule_id)
        return reply(550, "5.7.1", [f"{rule_id}: {hit.reason} [{hit.evidence[:120]}]"])

    def check_sender(self, address: str) -> str | None:
        """A 550 reply when MAIL FROM is refused, else None (null sender: checked at DATA)."""
        ctx = self.settings.ctx
        if not address or ctx.action(sender_not_approved) is not Action.REJECT:
            return None
        return self._envelope_reply(sender_not_approved.id, sender_hit(address, ctx), "MAIL")

    def check_recipient(self, address: str) -> str | None:
        """A 550 reply when RCPT TO is not a buyer relay address, else None."""
        if self.settings.ctx.action(recipient_not_marketplace) is not Action.REJECT:
            return None
        return self._envelope_reply(recipient_not_marketplace.id, recipient_hit(address), "RCPT")

    # ------------------------------------------------------------ data
    async def process(self, sub: Submission) -> Outcome:
        started = time.monotonic()
        ev = await self.inspector.inspect(sub.data, sub.envelope, sub.profile)
        inspected = time.monotonic()
        outcome, ev = await self._act(sub, ev)
        done = time.monotonic()
        verdict = ev.verdict
        self.metrics.message(
            outcome.action, ev, outcome.upstream_code, inspected - started, done - inspected
        )
        self.log.info(
            "message",
            message_id=ev.facts.message_id,
            peer=sub.peer,
            auth_user=sub.auth_user or None,
            profile=sub.profile or None,
            mail_from=sub.envelope.mail_from,
            rcpt_to=list(sub.envelope.rcpt_tos),
            subject=ev.facts.subject[:200],
            order_ids=list(ev.facts.order_ids),
            language=ev.facts.language,
            action=outcome.action,
            verdict=str(verdict.action),
            rules=list(verdict.rules),
            findings=[f.as_dict() for f in verdict.findings],
            stripped=list(verdict.stripped),
            size=len(sub.data),
            size_out=ev.facts.forwarded_size,
            inspect_ms=round((inspected - started) * 1000, 2),
            deliver_ms=round((done - inspected) * 1000, 2),
            total_ms=round((done - started) * 1000, 2),
            reply=outcome.reply.splitlines()[-1][:300],
            upstream=outcome.upstream,
            quarantine_id=outcome.quarantine_id or None,
        )
        return outcome

    async def _claim_reviews(
        self, ev: Evaluation, key: str, sub_profile: str = ""
    ) -> tuple[Evaluation, list[str]]:
        """Claim the review requests' orders; a taken order turns the verdict to review_repeat.

        Returns the (possibly changed) evaluation and the orders this message now holds.
        """
        claimed: list[str] = []
        repeated: list[str] = []
        for order in ev.facts.review_orders:
            (claimed if await self.state.claim_review(order, key) else repeated).append(order)
        if not repeated:
            return ev, claimed
        for order in claimed:
            await self.state.release_review(order, key)
        return with_review_history(ev, repeated, self.settings.ctx_for(sub_profile)), []

    async def _act(self, sub: Submission, ev: Evaluation) -> tuple[Outcome, Evaluation]:
        claimed: list[str] = []
        key = ev.facts.message_id or secrets.token_hex(8)
        if ev.facts.review_orders and ev.verdict.action in (Action.DELIVER, Action.STRIP):
            try:
                ev, claimed = await self._claim_reviews(ev, key, sub.profile)
            except StoreError as exc:
                text = reply(451, "4.3.0", ["Review history unavailable; please try again later"])
                return Outcome(451, text, "defer", upstream=str(exc)), ev
        outcome = await self._decide(sub, ev)
        if claimed and outcome.code != 250:
            for order in claimed:  # not delivered: the order may still get its one request
                await self.state.release_review(order, key)
        return outcome, ev

    async def _decide(self, sub: Submission, ev: Evaluation) -> Outcome:
        action = ev.verdict.action
        if action is Action.REJECT:
            code, text = rejection(ev.verdict.deciding())
            return Outcome(code, text, "reject")
        if action is Action.QUARANTINE:
            return await self._hold(sub, ev)
        data = ev.forward if action is Action.STRIP and ev.forward is not None else sub.data
        try:
            upstream = await self.forwarder.forward(sub.envelope, data)
        except UpstreamError as exc:
            kind = "bounce" if isinstance(exc, UpstreamPermanent) else "defer"
            code = int(exc.upstream[:3]) if exc.upstream[:3].isdigit() else 0
            text = reply(exc.code, exc.enhanced, [exc.text])
            return Outcome(exc.code, text, kind, upstream=exc.upstream, upstream_code=code)
        removed = ", ".join(ev.verdict.stripped)
        done = f"delivered after removing: {removed}" if removed else "delivered"
        text = reply(250, "2.0.0", [f"Ok: {done}; upstream: {upstream}"])
        return Outcome(250, text, str(action), upstream=upstream, upstream_code=250)

    async def _hold(self, sub: Submission, ev: Evaluation) -> Outcome:
        try:
            store = self.profile_quarantines.get(sub.profile, self.quarantine)
            entry_id = await store.hold(HeldMessage(sub.envelope, sub.data, sub.peer, ev))
        except StoreError as exc:
            text = reply(
                451, "4.3.0", ["Could not store the message safely; please try again later"]
            )
            return Outcome(451, text, "defer", upstream=str(exc))
        lines = [f"Ok: held in quarantine as {entry_id} for review by the seller's team"]
        lines += _reason_lines(ev.verdict.deciding())
        return Outcome(250, reply(250, "2.0.0", lines), "quarantine", quarantine_id=entry_id)
