"""Envelope and address rules: who may send, and to whom.

The SMTP adapter calls `check_recipient` at RCPT TO and `check_sender` at MAIL FROM so that
open-relay attempts and unregistered senders are refused before any data is sent; the
declared rules repeat the checks on the parsed message (headers included) for `check` and
for policies that move these rules off `reject`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from relay.message import Message
from relay.policy.context import PolicyContext
from relay.policy.model import Action, Hit, Stage, rule

BUYER_LOCAL = re.compile(r"^[a-z0-9]{8,40}(?:\+[a-z0-9-]{1,64})?$")
MARKETPLACE_DOMAIN = re.compile(r"^(?:m\.)?marketplace\.amazon\.([a-z]{2,3}(?:\.[a-z]{2,3})?)$")
GUIDE_BSM = "Buyer-Seller Messaging: mail goes only to the buyer's anonymised relay address"


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.strip().strip("<>").rpartition("@")
    return local.lower(), domain.lower().rstrip(".")


@functools.lru_cache(maxsize=4096)
def marketplace_tld(address: str) -> str | None:
    """The tld of a buyer relay address (known or not), or None for any other address.

    Memoised: five rules and the analysis ask it of the same recipients (~2 us a call)."""
    local, domain = split_address(address)
    m = MARKETPLACE_DOMAIN.match(domain)
    if m is None or not BUYER_LOCAL.match(local):
        return None
    return m.group(1)


def buyer_identity(address: str) -> str:
    """One buyer, whatever +suffix the thread adds: local part without suffix, and domain."""
    local, domain = split_address(address)
    return f"{local.partition('+')[0]}@{domain}"


def recipient_hit(address: str) -> Hit | None:
    if marketplace_tld(address) is not None:
        return None
    return Hit(
        address,
        "send only to the buyer's anonymised address (…@marketplace.amazon.<tld>); "
        "this relay does not deliver anywhere else",
    )


def sender_hit(address: str, ctx: PolicyContext) -> Hit | None:
    if not ctx.approved_senders or address.strip().lower() in ctx.approved_senders:
        return None
    return Hit(
        address,
        "send from one of the seller's approved addresses registered in Seller Central",
    )


@rule(
    id="recipient_not_marketplace",
    reads_content=False,
    guideline=GUIDE_BSM,
    default=Action.REJECT,
    stage=Stage.ENVELOPE,
    example="RCPT TO:<jo.webb1984@gmail.com>",
)
def recipient_not_marketplace(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A recipient is not a buyer relay address (also the open-relay protection)."""
    for rcpt in msg.envelope.rcpt_tos:
        hit = recipient_hit(rcpt)
        if hit:
            yield hit


@rule(
    id="recipient_domain_unknown",
    reads_content=False,
    guideline=GUIDE_BSM + "; only Amazon's marketplaces have relay domains",
    default=Action.QUARANTINE,
    example="RCPT TO:<k2m8x0qvd7s4nw1@marketplace.amazon.at>",
)
def recipient_domain_unknown(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A marketplace.amazon.<tld> recipient whose tld is not a known marketplace."""
    for rcpt in msg.envelope.rcpt_tos:
        tld = marketplace_tld(rcpt)
        if tld is not None and tld not in ctx.marketplace_tlds:
            yield Hit(
                rcpt, f"marketplace.amazon.{tld} is not an Amazon marketplace; check the address"
            )


@rule(
    id="sender_not_approved",
    reads_content=False,
    guideline="Amazon accepts mail only from the seller's registered (approved) addresses",
    default=Action.REJECT,
    stage=Stage.ENVELOPE,
    example="MAIL FROM:<newsletter@seller.example> when only support@ is approved",
)
def sender_not_approved(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """The envelope sender or a From: address is not an approved sender (when a list is set)."""
    if msg.envelope.mail_from:
        hit = sender_hit(msg.envelope.mail_from, ctx)
        if hit:
            yield hit
    for addr in msg.from_:
        hit = sender_hit(addr.addr, ctx)
        if hit:
            yield Hit(f"From: {addr.addr}", hit.reason)


@rule(
    id="multiple_buyers",
    reads_content=False,
    guideline="Each message answers one buyer; no bulk or copied messages",
    default=Action.REJECT,
    example="To: buyer1@marketplace.amazon.de, buyer2@marketplace.amazon.de",
)
def multiple_buyers(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """More than one buyer address in one message (To, Cc, Bcc or RCPT TO)."""
    addresses = [*msg.envelope.rcpt_tos, *(a.addr for a in (*msg.to, *msg.cc, *msg.bcc))]
    buyers = dict.fromkeys(buyer_identity(a) for a in addresses if marketplace_tld(a) is not None)
    if len(buyers) > 1:
        yield Hit(", ".join(buyers), "write to one buyer per message; send each buyer their own")
