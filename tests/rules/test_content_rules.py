"""Content rules: tracking pixels, unsubscribe links, e-mail addresses, insecure links."""

from __future__ import annotations

import pytest
from mail import build, html_reply
from ruletools import hits, run, text_of

from relay.policy.content import email_address, insecure_link, tracking_pixel, unsubscribe_link

PIXELS = [
    '<img src="https://mailtrack.io/trace/mail/0f1e.png" width="1" height="1" alt="">',
    '<img src="https://news.seller.example/o/p-77a1.png" style="display:none">',
    '<img src="https://img.seller.example/a.gif" style="width:2px;height:2px">',
    '<img src="https://list-manage.com/track/open.php?u=1" alt="" width="40">',
]


@pytest.mark.parametrize("pixel", PIXELS)
def test_tracking_pixel_hit(pixel: str) -> None:
    """Tiny, hidden and known-tracker remote images are found and removed."""
    raw = build(html=html_reply("Die Teekanne ist spülmaschinenfest." + pixel))
    assert len(hits(tracking_pixel, raw)) == 1
    ev = run(raw)
    assert ev.verdict.stripped == ("tracking_pixel",)
    assert ev.forward is not None
    src = pixel.split('src="')[1].split('"')[0]
    assert src not in text_of(ev.forward)
    assert "spülmaschinenfest" in text_of(ev.forward)


def test_tracking_pixel_miss() -> None:
    """An embedded (cid:) logo and a full-size https image are not pixels."""
    html = html_reply(
        'Gruß<img src="cid:logo@x" width="1" height="1" alt="Logo">'
        '<img src="https://img.seller.example/proof.png" width="400" height="300" alt="Entwurf">'
    )
    assert hits(tracking_pixel, build(html=html)) == []


UNSUBSCRIBE = [
    ("en", '<a href="https://news.seller.example/u?id=1">Unsubscribe</a>'),
    ("en", 'To stop receiving these emails, <a href="https://s.example/x">click here</a>.'),
    ("de", '<a href="https://news.seller.example/abmelden?id=5521">Newsletter abbestellen</a>'),
    ("nl", '<a href="https://news.seller.example/x?id=2">Afmelden voor deze berichten</a>'),
    ("fr", '<a href="https://news.seller.example/x?id=3">Se désabonner</a>'),
    ("es", '<a href="https://news.seller.example/x?id=4">Darse de baja</a>'),
    ("it", '<a href="https://news.seller.example/x?id=5">Annulla l\'iscrizione</a>'),
]


@pytest.mark.parametrize(("lang", "link"), UNSUBSCRIBE)
def test_unsubscribe_link_hit_html(lang: str, link: str) -> None:
    """An opt-out link in the HTML body, in each language, is found and removed."""
    raw = build(html=html_reply(f"<p>Die Decke misst 150 cm.</p><p>{link}</p>"))
    assert hits(unsubscribe_link, raw), lang
    forwarded = run(raw).forward
    assert forwarded is not None
    href = link.split('href="')[1].split('"')[0]
    assert href not in text_of(forwarded)
    assert "Die Decke misst 150 cm." in text_of(forwarded)


@pytest.mark.parametrize(
    ("lang", "line"),
    [
        ("en", "Unsubscribe: https://news.seller.example/unsubscribe?en=1"),
        ("de", "Newsletter abbestellen: https://news.seller.example/x?de=1"),
        ("nl", "Uitschrijven: https://news.seller.example/x?nl=1"),
        ("fr", "Pour vous désabonner : https://news.seller.example/x?fr=1"),
        ("es", "Para darte de baja: https://news.seller.example/x?es=1"),
        ("it", "Annulla l'iscrizione: https://news.seller.example/unsubscribe?it=91"),
    ],
)
def test_unsubscribe_link_hit_plain(lang: str, line: str) -> None:
    """An opt-out line with its link in a plain-text body is removed, in each language."""
    raw = build(body=f"Ciao,\n\nil cuscino misura 40 x 60 cm.\n\n{line}\n")
    assert hits(unsubscribe_link, raw), lang
    forwarded = run(raw).forward
    assert forwarded is not None
    assert line.split()[-1] not in text_of(forwarded)
    assert "40 x 60 cm" in text_of(forwarded)


def test_unsubscribe_link_miss() -> None:
    """Ordinary links, and opt-out wording in the buyer's quoted text, are left alone."""
    html = html_reply(
        '<a href="https://www.amazon.de/gp/css/order-history">Ihre Bestellungen</a>',
        quote="Wie kann ich mich vom Newsletter abmelden?",
    )
    assert hits(unsubscribe_link, build(html=html)) == []


def test_email_address_hit_and_fix() -> None:
    """An address in the seller's text is replaced in the plain and the HTML part."""
    raw = build(
        body="Please email us at parts@nordlicht-home.example with a photo.",
        html=html_reply('Please email us at <a href="mailto:parts@nordlicht-home.example">'
                        "parts@nordlicht-home.example</a> with a photo."),
    )  # fmt: skip
    assert hits(email_address, raw) == ["parts@nordlicht-home.example"]
    forwarded = run(raw).forward
    assert forwarded is not None
    assert "parts@nordlicht-home.example" not in text_of(forwarded)
    assert "[e-mail address removed]" in text_of(forwarded)
    assert "with a photo" in text_of(forwarded)


def test_email_address_miss() -> None:
    """An address only in the quoted attribution line or quoted text is not the seller's."""
    body = (
        "Die Decke ist aus Wolle.\n\nAm Mo., 4. März 2024 schrieb Eva <kc9o3rt5g88dt@"
        "marketplace.amazon.de>:\n> Schreiben Sie mir an eva@example.org\n"
    )
    assert hits(email_address, build(body=body)) == []


def test_insecure_link_hit() -> None:
    """http:// links lose their link (the text stays) in HTML and plain text."""
    raw = build(
        body="Die Anleitung: http://www.amazon.de/returns",
        html=html_reply('Die <a href="http://www.amazon.de/returns">Rücksendehilfe</a>.'),
    )
    assert hits(insecure_link, raw) == ["http://www.amazon.de/returns"]
    forwarded = run(raw).forward
    assert forwarded is not None
    assert "http://" not in text_of(forwarded)
    assert "Rücksendehilfe" in text_of(forwarded)


def test_insecure_link_miss() -> None:
    """https links are not insecure."""
    raw = build(html=html_reply('Die <a href="https://www.amazon.de/returns">Hilfe</a>.'))
    assert hits(insecure_link, raw) == []


UNSUBSCRIBE_MISSES = {
    "en": "You can track the parcel in Your Orders: https://www.amazon.co.uk/your-orders",
    "de": "Abmelden müssen Sie sich nirgends; die Rücksendung starten Sie unter https://www.amazon.de/returns",
    "nl": "Je hoeft je nergens af te melden; retourneren kan via https://www.amazon.nl/returns",
    "fr": "Le retour se fait ici : https://www.amazon.fr/returns",
    "es": "Puedes gestionar la devolución aquí: https://www.amazon.es/returns",
    "it": "Puoi gestire il reso qui: https://www.amazon.it/returns",
}


@pytest.mark.parametrize(("lang", "text"), list(UNSUBSCRIBE_MISSES.items()))
def test_unsubscribe_link_miss_plain(lang: str, text: str) -> None:
    """An ordinary Amazon link in each language is no opt-out link."""
    assert [] == hits(unsubscribe_link, build(body=f"Hallo,\n\n{text}\n\nGruß"))
