"""Advisory rules: what could not be inspected, and MIME defects that could."""

from __future__ import annotations

from collections.abc import Iterator

from relay.message import Message
from relay.policy.context import PolicyContext
from relay.policy.model import Action, Hit, rule


@rule(
    id="uninspectable",
    reads_content=False,
    guideline="Nothing reaches a buyer unseen: what cannot be checked is held for a person",
    default=Action.QUARANTINE,
    example="MIME nested 1,000 levels deep; a message over the time budget",
)
def uninspectable(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """The message could not be fully inspected (limits, parser failure, time budget)."""
    if msg.problem:
        yield Hit(
            msg.problem[:200], f"simplify the message so it can be checked ({msg.problem[:80]})"
        )


@rule(
    id="mime_defect",
    guideline="Well-formed MIME: what a parser repairs may display differently to the buyer",
    default=Action.LOG,
    example="a multipart message whose closing boundary is missing",
)
def mime_defect(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """The message had MIME defects but could still be inspected."""
    if msg.defects:
        shown = "; ".join(msg.defects[:5])
        yield Hit(shown[:200], "check the sending mail system: it produced malformed MIME")
