"""The message model: quoted history, links, order ids, reply detection, defects."""

from __future__ import annotations

import pytest
from mail import BUYER, ORDER, SELLER, build, html_reply
from ruletools import parse

import relay.message
from relay.htmlfacts import HtmlScan
from relay.htmlscan import scan_html
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


# (charset, the HTML part's bytes, whether libxml2 reads those bytes as they are)
HTML_BYTES = [
    (b"utf-8", "<p>Grüße \u2013 Stück</p>".encode(), True),
    (b"UTF-8", b"<p>NUL\x00inside</p>", True),
    (b"us-ascii", b"<p>plain</p>", True),
    (b"utf-8", b"<p>bad \xff\xfe bytes</p>", False),  # replaced: the text's UTF-8 differs
    (b"utf-8", "<p>a U+FFFD of its own \ufffd</p>".encode(), False),
    (b"us-ascii", b"<p>8-bit \xe4</p>", False),
    (b"iso-8859-1", b"<p>Gr\xfc\xdfe</p>", False),
    (b"x-unknown", "<p>Grüße</p>".encode(), True),  # an unknown charset is read as UTF-8
    (b"utf-8", b'<?xml version="1.0"?><p>declared</p>', True),
]


@pytest.mark.parametrize(("charset", "body", "as_is"), HTML_BYTES)
def test_html_read_from_the_parts_own_bytes_scans_as_its_text(
    charset: bytes, body: bytes, as_is: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The HTML scan gets the part's bytes only where they are its text's UTF-8 (UTF-8 or
    ASCII decoded without a replacement), and its facts are those of the text's scan."""
    given: list[tuple[bool, HtmlScan, HtmlScan]] = []

    def checked(source: str, part: int = 0, *, utf8: bytes | None = None) -> HtmlScan:
        given.append(
            (utf8 is not None, scan_html(source, part, utf8=utf8), scan_html(source, part))
        )
        return given[-1][1]

    monkeypatch.setattr(relay.message, "scan_html", checked)
    head = f"From: {SELLER}\r\nTo: {BUYER}\r\nSubject: AW: x\r\nMIME-Version: 1.0\r\n"
    raw = (head.encode() + b"Content-Type: text/html; charset=" + charset
           + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n")  # fmt: skip
    parse(raw)
    assert len(given) == 1
    used, from_bytes, from_text = given[0]
    assert (as_is, from_text) == (used, from_bytes)


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
