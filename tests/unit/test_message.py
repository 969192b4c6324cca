"""The message model: quoted history, links, order ids, reply detection, defects."""

from __future__ import annotations

import pytest
from mail import ORDER, build, html_reply
from ruletools import parse

from relay.textscan import find_urls, split_quoted

QUOTES = [
    ("en", "On Sun, 3 Mar 2024 at 06:49, Tom Baker wrote:\n> What colour is it?"),
    (
        "en",
        "On Sun, 3 Mar 2024 at 06:49, Tom Baker <kc9o3rt5g88dt@marketplace.amazon.de>\nwrote:\n> x",
    ),
    ("de", "Am Mo., 4. März 2024 um 02:01 Uhr schrieb Karin Roth:\n> So eine Frechheit"),
    ("nl", "Op zo 3 mrt 2024 om 09:02 schreef Lisa Dekker:\n> Hoe stuur ik terug?"),
    ("fr", "Le mar. 5 mars 2024 à 02:40, Anne Leroy a écrit :\n> Où est la notice ?"),
    ("es", "El lun, 4 mar 2024 a las 14:18, Ana López escribió:\n> ¿Cómo devuelvo?"),
    ("it", "Il giorno lun 4 mar 2024 alle ore 10:29 Anna Rossi ha scritto:\n> Quanto misura?"),
    (
        "de",
        "-----Ursprüngliche Nachricht-----\nVon: Peter Kaiser\nGesendet: So., 3. März 2024\nBetreff: x\n\nText",
    ),
    (
        "es",
        "-----Mensaje original-----\nDe: Rocío Pardo\nEnviado el: mar, 5 mar 2024\nAsunto: x\n\nText",
    ),
    (
        "en",
        "From: Tom Baker\nSent: Sunday, March 3, 2024 6:49 AM\nTo: Support\nSubject: Lamp\n\nText",
    ),
    ("en", "------------- Message: -------------\nFrom: Amazon buyer\nPlease leave a review"),
]


@pytest.mark.parametrize(("lang", "quote"), QUOTES)
def test_plain_quote_forms_are_split(lang: str, quote: str) -> None:
    """Every attribution and separator form starts the quoted history."""
    split = split_quoted(f"Hello,\n\nthe answer is 42.\n\nRegards\n\n{quote}")
    assert split.new == "Hello,\n\nthe answer is 42.\n\nRegards", lang
    assert split.quoted.startswith(quote.splitlines()[0])


def test_sentence_before_attribution_stays_new() -> None:
    """A short line right above the attribution is not folded into it."""
    text = (
        "Le transporteur passe entre 9 h et 12 h.\nLe lun. 4 mars 2024 à 05:52, Léo a écrit :\n> ?"
    )
    assert split_quoted(text).new == "Le transporteur passe entre 9 h et 12 h."


def test_html_quote_containers_and_link_positions() -> None:
    """gmail_quote and type=cite blocks are quoted; links there are marked quoted."""
    html = html_reply(
        'Siehe <a href="https://www.amazon.de/hilfe">Hilfe</a>.',
        quote='Ich will <a href="https://evil.example/">das</a>',
    )
    msg = parse(build(html=html))
    html_part = next(p for p in msg.parts if p.subtype == "html")
    assert html_part.new_text == "Siehe Hilfe."
    assert "Ich will das" in html_part.quoted_text
    assert [(link.url, link.text, link.quoted) for link in msg.links] == [
        ("https://www.amazon.de/hilfe", "Hilfe", False),
        ("https://evil.example/", "das", True),
    ]


def test_html_text_is_read_in_the_part_charset_not_a_meta_declaration() -> None:
    """A <meta charset> or XML declaration inside the part does not re-decode its text."""
    for head in (
        '<meta charset="iso-8859-1">',
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">',
        '<?xml version="1.0" encoding="iso-8859-1"?>',
    ):
        msg = parse(build(html=f"<html><head>{head}</head><body>Grüße \u2013 Stück</body></html>"))
        html_part = next(p for p in msg.parts if p.subtype == "html")
        assert "Grüße \u2013 Stück" == html_part.new_text, head


def test_order_ids_reply_detection_and_text_links() -> None:
    """Order ids come from subject and new text; In-Reply-To or a prefix makes a reply."""
    msg = parse(
        build(subject=f"Lieferung {ORDER}", body="Infos: https://www.amazon.de/x.", reply=False)
    )
    assert (msg.order_ids, msg.is_reply) == ((ORDER,), False)
    assert [(link.url, link.source) for link in msg.links] == [("https://www.amazon.de/x", "text")]
    assert parse(build(subject="AW: Frage", reply=False)).is_reply
    assert parse(build(subject="RV: Pregunta", reply=False)).is_reply


def test_attachments_are_described() -> None:
    """Attachments carry name, type, decoded size and GIF frame counts."""
    gif = (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x00\x00\x00\x00\x00"
        b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )
    msg = parse(
        build(attachments=[("a.pdf", "application/pdf", b"%PDF-1.4"), ("b.gif", "image/gif", gif)])
    )
    assert [(a.filename, a.content_type, a.size, a.gif_frames) for a in msg.attachments] == [
        ("a.pdf", "application/pdf", 8, None),
        ("b.gif", "image/gif", len(gif), 1),
    ]


def test_urls_in_text() -> None:
    """URLs lose trailing punctuation; bare www. hosts count as links."""
    assert find_urls("See https://x.example/a?b=1. And (www.y.example), ok") == [
        "https://x.example/a?b=1",
        "http://www.y.example",
    ]


def test_broken_input_never_raises() -> None:
    """Garbage, NUL bytes and an empty message give a model, not an exception."""
    for raw in (
        b"",
        b"\x00\xff\xfe" * 100,
        b"Content-Type: multipart/mixed\r\n\r\n--",
        b"Subject: =?x?q?",
    ):
        msg = parse(raw)
        assert msg.size == len(raw)
