"""Helpers for rule tests: the real lexicon, a policy context, and a one-rule runner."""

from __future__ import annotations

import email
import email.policy
from functools import cache

from mail import BUYER, OTHER_SELLER, SELLER

from relay.config import KNOWN_TLDS, TLD_LANGUAGES
from relay.lexicons import load_lexicon
from relay.message import Envelope, Message, parse_message
from relay.policy.context import PolicyContext
from relay.policy.engine import Evaluation, evaluate
from relay.policy.model import Rule
from relay.policy.settings import PolicySettings
from relay.policy.text import Lexicon


@cache
def lexicon() -> Lexicon:
    return load_lexicon()


def context(**settings: object) -> PolicyContext:
    policy = PolicySettings(link_allow=("design.casa-verde.example",))
    if settings:
        policy = PolicySettings(**{"link_allow": ("design.casa-verde.example",), **settings})  # type: ignore[arg-type]
    return PolicyContext(
        approved_senders=(SELLER, OTHER_SELLER),
        marketplace_tlds=KNOWN_TLDS,
        languages=tuple(TLD_LANGUAGES.items()),
        settings=policy,
        lexicon=lexicon(),
    )


def envelope(sender: str = SELLER, *rcpts: str) -> Envelope:
    return Envelope(sender, rcpts or (BUYER,))


def parse(raw: bytes, env: Envelope | None = None) -> Message:
    return parse_message(raw, env or envelope())


def hits(rule: Rule, raw: bytes, env: Envelope | None = None) -> list[str]:
    """The evidence of each hit of `rule` on the message."""
    return [h.evidence for h in rule(parse(raw, env), context())]


def run(raw: bytes, env: Envelope | None = None) -> Evaluation:
    return evaluate(raw, env or envelope(), context())


def text_of(raw: bytes) -> str:
    """Every header and decoded text part, as the corpus scorer reads a message."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    chunks = [f"{k}: {v}" for k, v in msg.items()]
    chunks += [p.get_content() for p in msg.walk() if p.get_content_type().startswith("text/")]
    return "\n".join(chunks)
