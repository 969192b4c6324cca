"""Building test messages: what sellers' mail systems really send, as CRLF bytes."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

SELLER = "support@nordlicht-home.example"
OTHER_SELLER = "service@casa-verde.example"
BUYER = "kc9o3rt5g88dt@marketplace.amazon.de"
BUYER2 = "gmzwpfc5ge44uvm@marketplace.amazon.co.uk"
ORDER = "302-7226181-5477893"
SMTP = email.policy.SMTP

_counter = 0


def build(
    body: str = "Hallo Frau Jung,\n\ndie Teekanne ist spülmaschinenfest.\n\nViele Grüße\nLukas",
    *,
    html: str | None = None,
    subject: str = "AW: Teekanne",
    sender: str = SELLER,
    to: str = BUYER,
    reply: bool = True,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    message_id: str | None = None,
) -> bytes:
    """A message as a helpdesk sends it: plain (and HTML) alternative, optional attachments."""
    global _counter
    _counter += 1
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"Nordlicht Home <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 04 Mar 2024 12:49:00 +0100"
    msg["Message-ID"] = message_id or f"<test-{_counter}@mail.nordlicht-home.example>"
    if reply:
        msg["In-Reply-To"] = "<0102018e2be69c23-058f9851-d844-000000@eu-west-1.amazonses.com>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments or []:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def html_reply(inner: str, quote: str = "Darf die Teekanne in die Spülmaschine?") -> str:
    """A Gmail-style HTML reply with the buyer's message quoted below."""
    return (
        f'<div dir="ltr">{inner}</div>\n<div class="gmail_quote">'
        '<div class="gmail_attr">Am So., 3. März 2024 um 00:51 Uhr schrieb Eva Jung:<br></div>'
        f'<blockquote class="gmail_quote" style="margin:0 0 0 .8ex">{quote}</blockquote></div>'
    )
