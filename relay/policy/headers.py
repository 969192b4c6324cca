"""Header rules: bulk-mail headers, urgency tags in the subject, the order id."""

from __future__ import annotations

import re
from collections.abc import Iterator

from relay.message import Message
from relay.policy.context import PolicyContext
from relay.policy.model import Action, Hit, rule
from relay.rewrite import Editor

BULK_PREFIXES = (
    "list-",
    "x-campaign",
    "x-mailchimp",
    "x-mc-",
    "x-mailjet-campaign",
    "x-sib-",
    "x-sendinblue",
    "x-sfmc",
    "x-rpcampaign",
    "x-emarsys",
    "x-mailgun-campaign",
    "x-mailgun-tag",
    "x-klaviyo",
    "x-hs-",
    "x-newsletter",
    "x-mailer-campaign",
    "x-cm-campaign",
)
BULK_PRECEDENCE = ("bulk", "list", "junk")
IMPORTANT_TAG = re.compile(
    r"\s*[\[\(【]\s*\**\s*(?:important[e]?|wichtig|belangrijk|urgent[e]?|dringend|urgente|"
    r"importante|urgence|eilig|action required)\s*!*\s*\**\s*[\]\)】]\s*",
    re.I,
)


def _bulk_fields(msg: Message) -> list[tuple[str, str]]:
    found = []
    for name, value in msg.headers:
        low = name.lower()
        bulk_precedence = low == "precedence" and value.strip().lower() in BULK_PRECEDENCE
        if low.startswith(BULK_PREFIXES) or bulk_precedence:
            found.append((name, value))
    return found


def fix_bulk_headers(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    editor.drop_headers({name for name, _ in _bulk_fields(msg)})


@rule(
    id="bulk_headers",
    guideline="No marketing or bulk mail: messages are one-to-one answers, not mailings",
    default=Action.STRIP,
    fix=fix_bulk_headers,
    example="List-Unsubscribe: <https://lists.seller.example/unsub/1>",
)
def bulk_headers(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Mailing-list or campaign headers (List-*, Precedence: bulk, ESP campaign ids)."""
    for name, value in _bulk_fields(msg):
        yield Hit(f"{name}: {value[:80]}", f"remove the {name} header; send as a personal reply")


def clean_subject(subject: str) -> str:
    return re.sub(r"\s{2,}", " ", IMPORTANT_TAG.sub(" ", subject)).strip()


def fix_subject_important_tag(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    editor.replace_header("Subject", clean_subject(msg.subject))


@rule(
    id="subject_important_tag",
    guideline="[Important] in the subject is reserved for critical messages Amazon defines",
    default=Action.STRIP,
    fix=fix_subject_important_tag,
    example="Subject: [Wichtig] AW: Teekanne spülmaschinenfest?",
)
def subject_important_tag(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """An [Important], [Wichtig], (URGENT)… tag in the subject."""
    for m in IMPORTANT_TAG.finditer(msg.subject):
        yield Hit(m.group(0).strip(), f"remove {m.group(0).strip()} from the subject")


@rule(
    id="order_id_missing",
    guideline="Proactive messages must contain the 17-digit order id",
    default=Action.REJECT,
    example="a proactive message with no 123-1234567-1234567 in subject or text",
)
def order_id_missing(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A proactive message (not a reply) without the 17-digit order id."""
    if not msg.is_reply and not msg.order_ids:
        yield Hit(
            f"Subject: {msg.subject[:80]}",
            "add the 17-digit order id (123-1234567-1234567) to a proactive message",
        )
