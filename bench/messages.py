"""The benchmark's realistic messages, built deterministically.

- `html_reply()`: an ~18 KB multipart/alternative reply from a helpdesk (styled HTML with a
  signature table, the quoted buyer message, a plain-text alternative), compliant.
- `plain_reply()`: a ~3 KB plain-text reply with quoted history.
- `pdf_reply()`: a ~2 MB message with a PDF invoice attached.
"""

from __future__ import annotations

import email.policy
import random
from email.message import EmailMessage

SELLER = "support@nordlicht-home.example"
BUYER = "kc9o3rt5g88dt@marketplace.amazon.de"

_PARAGRAPHS = [
    "vielen Dank für Ihre Nachricht zu Ihrer Bestellung. Die Teekanne aus Steinzeug ist "
    "spülmaschinengeeignet, wir empfehlen aber, den Deckel von Hand zu reinigen, damit die "
    "Glasur lange schön bleibt.",
    "Die Lieferung erfolgt mit DHL; laut Sendungsverfolgung wird das Paket morgen zwischen "
    "10 und 14 Uhr zugestellt. Sollte es bis Freitag nicht angekommen sein, melden Sie sich "
    "bitte noch einmal bei uns, dann kümmern wir uns sofort darum.",
    "Zu Ihrer Frage nach dem passenden Stövchen: Das Modell aus Gusseisen passt zu allen "
    "Kannen bis 1,5 Liter. Die Teelichter sind im Lieferumfang nicht enthalten.",
    "Falls Sie die Kanne zurückgeben möchten, können Sie das innerhalb von 30 Tagen über "
    "Ihr Amazon-Konto tun; die Rücksendung ist für Sie kostenlos.",
]


def _html(paragraphs: list[str], quoted: str, styled: bool) -> str:
    # A helpdesk's template sets fonts and colours (the font_overrides fixer strips them);
    # the compliant variant keeps only spacing.
    style = ("font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222;line-height:1.5"
             if styled else "font-size:14px")  # fmt: skip
    body = "".join(f'<p style="{style};margin:0 0 12px 0">{p}</p>\n' for p in paragraphs)
    cells = "".join(
        f'<tr><td style="{style};padding:2px 8px 2px 0">{k}</td>'
        f'<td style="{style};padding:2px 0">{v}</td></tr>\n'
        for k, v in [("Team", "Nordlicht Home Kundenservice"), ("Telefonzeiten", "Mo–Fr 9–17 Uhr"),
                     ("Adresse", "Hafenstraße 12, 24103 Kiel"), ("Handelsregister", "HRB 12345 KI"),
                     ("Geschäftsführung", "Lukas Peters, Marie Jansen"), ("USt-IdNr.", "DE123456789")]
    )  # fmt: skip
    signature = (f'<table role="presentation" cellpadding="0" cellspacing="0" '
                 f'style="border-top:1px solid #ddd;margin-top:16px">\n{cells}</table>\n')  # fmt: skip
    quote = (
        '<div class="gmail_quote"><div class="gmail_attr">Am Mo., 4. März 2024 um 09:12 Uhr '
        "schrieb Eva Jung:<br></div>"
        f'<blockquote class="gmail_quote" style="margin:0 0 0 .8ex;border-left:1px #ccc solid;'
        f'padding-left:1ex">{quoted}</blockquote></div>'
    )
    head = ('<!DOCTYPE html><html><head><meta charset="utf-8"><style>p{margin:0}'
            + (".footer{color:#888}" if styled else "") + "</style></head>")  # fmt: skip
    return f'{head}<body><div dir="ltr" style="{style}">Hallo Frau Jung,<br><br>\n{body}' \
           f"Viele Grüße<br>Lukas<br>\n{signature}</div>\n{quote}</body></html>"  # fmt: skip


def _reply(subject: str, local_id: str) -> EmailMessage:
    """The headers every benchmark message shares: a helpdesk's reply to a buyer."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"Nordlicht Home <{SELLER}>"
    msg["To"] = BUYER
    msg["Subject"] = subject
    msg["Date"] = "Mon, 04 Mar 2024 12:49:00 +0100"
    msg["Message-ID"] = f"<{local_id}@mail.nordlicht-home.example>"
    msg["In-Reply-To"] = "<0102018e2be69c23-058f9851@eu-west-1.amazonses.com>"
    return msg


def html_reply(index: int = 0, target: int = 18_000, styled: bool = False) -> bytes:
    """An ~18 KB HTML reply (multipart/alternative), unique per index; compliant unless
    `styled` (then the relay strips its font overrides)."""
    rng = random.Random(index)
    quoted = "<p>" + "</p><p>".join(_PARAGRAPHS[:2]) + "</p>"
    paragraphs = list(_PARAGRAPHS)
    rng.shuffle(paragraphs)
    while True:
        raw = _html_message(index, paragraphs, quoted, styled)
        if len(raw) >= target - 400:
            return raw
        paragraphs.append(rng.choice(_PARAGRAPHS))


def _html_message(index: int, paragraphs: list[str], quoted: str, styled: bool) -> bytes:
    msg = _reply("AW: Frage zur Teekanne", f"bench-{index}")
    msg.set_content("Hallo Frau Jung,\n\n" + "\n\n".join(paragraphs) + "\n\nViele Grüße\nLukas\n")
    msg.add_alternative(_html(paragraphs, quoted, styled), subtype="html")
    return msg.as_bytes()


def plain_reply(index: int = 0) -> bytes:
    """A ~3 KB plain-text reply with the buyer's message quoted below."""
    msg = _reply("AW: Lieferung", f"plain-{index}")
    quoted = "\n".join("> " + line for line in (_PARAGRAPHS[1] + " " + _PARAGRAPHS[0]).split(". "))
    text = "Hallo Frau Jung,\n\n" + "\n\n".join(_PARAGRAPHS * 2) + "\n\nViele Grüße\nLukas\n\n"
    msg.set_content(text + "Am 04.03.2024 schrieb Eva Jung:\n" + quoted + "\n")
    return msg.as_bytes()


def pdf_reply(index: int = 0, size: int = 2_000_000) -> bytes:
    """A reply with a ~2 MB PDF invoice attached (random content: incompressible, realistic)."""
    rng = random.Random(index)
    pdf = b"%PDF-1.7\n" + rng.randbytes(int(size * 0.74)) + b"\n%%EOF\n"
    msg = _reply("AW: Rechnung", f"pdf-{index}")
    msg.set_content(
        "Hallo Frau Jung,\n\nanbei die Rechnung zu Ihrer Bestellung.\n\nViele Grüße\nLukas\n"
    )
    msg.add_attachment(
        pdf, maintype="application", subtype="pdf", filename="Rechnung-2024-0312.pdf"
    )
    return msg.as_bytes()


def styled_reply(index: int = 0) -> bytes:
    return html_reply(index, styled=True)


MESSAGES = {"html-18k": html_reply, "html-18k-styled": styled_reply, "plain-3k": plain_reply,
            "pdf-2m": pdf_reply}  # fmt: skip
