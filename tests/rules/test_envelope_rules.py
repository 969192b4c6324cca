"""Envelope and address rules: recipients, senders, one buyer per message."""

from __future__ import annotations

import pytest
from mail import BUYER, BUYER2, SELLER, build
from ruletools import envelope, hits

from relay.policy.context import PolicyContext
from relay.policy.envelope import (
    marketplace_tld,
    multiple_buyers,
    recipient_domain_unknown,
    recipient_hit,
    recipient_not_marketplace,
    sender_hit,
    sender_not_approved,
)


@pytest.mark.parametrize(
    "address",
    [
        "jo.webb1984@gmail.com",
        "q8w2e6r4t0y7u3i@marketplace.amazon.es.mailer-relay.example",
        "short@marketplace.amazon.de",
        "abc_def_12@marketplace.amazon.de",
        "kc9o3rt5g88dt@amazon.de",
    ],
)
def test_recipient_not_marketplace_hit(address: str) -> None:
    """Private mailboxes, lookalike domains and malformed local parts are not buyer addresses."""
    assert [address] == hits(recipient_not_marketplace, build(), envelope(SELLER, address))
    assert recipient_hit(address) is not None


@pytest.mark.parametrize(
    "address",
    [
        BUYER,
        "k1lxbs6ohzvf4iv+f52c-e4f9@marketplace.amazon.com",
        "abcd1234@m.marketplace.amazon.co.jp",
        "KC9O3RT5G88DT@Marketplace.Amazon.DE",
    ],
)
def test_recipient_not_marketplace_miss(address: str) -> None:
    """Buyer relay addresses pass, with a +suffix, the Japanese m. host, or in capitals."""
    assert hits(recipient_not_marketplace, build(), envelope(SELLER, address)) == []


def test_recipient_domain_unknown_hit() -> None:
    """marketplace.amazon.at looks like a relay domain but is no marketplace."""
    rcpt = "k2m8x0qvd7s4nw1@marketplace.amazon.at"
    assert [rcpt] == hits(recipient_domain_unknown, build(), envelope(SELLER, rcpt))
    assert marketplace_tld(rcpt) == "at"


def test_recipient_domain_unknown_miss() -> None:
    """Every configured marketplace tld passes."""
    for tld in ("de", "co.uk", "com.mx", "com.be"):
        rcpt = f"k2m8x0qvd7s4nw1@marketplace.amazon.{tld}"
        assert hits(recipient_domain_unknown, build(), envelope(SELLER, rcpt)) == []


def test_sender_not_approved_hit_envelope_and_header() -> None:
    """An unapproved envelope sender, and an unapproved From: with an approved envelope."""
    other = "newsletter@nordlicht-home.example"
    assert [other] == hits(sender_not_approved, build(sender=SELLER), envelope(other))
    assert [f"From: {other}"] == hits(sender_not_approved, build(sender=other), envelope(SELLER))


def test_sender_not_approved_miss() -> None:
    """Approved senders pass, case-insensitively; with no list configured anyone does."""
    assert hits(sender_not_approved, build(), envelope("Support@Nordlicht-Home.example")) == []
    assert sender_hit("anyone@else.example", PolicyContext()) is None


def test_multiple_buyers_hit() -> None:
    """Two buyers across RCPT TO and the Cc header are one buyer too many."""
    raw = build(headers={"Cc": BUYER2})
    assert len(hits(multiple_buyers, raw)) == 1


def test_multiple_buyers_miss_same_buyer_two_threads() -> None:
    """The same buyer's address with and without a thread suffix is one buyer."""
    suffixed = BUYER.replace("@", "+76c0-aa11@")
    raw = build(to=BUYER, headers={"Cc": suffixed})
    assert hits(multiple_buyers, raw, envelope(SELLER, BUYER)) == []
