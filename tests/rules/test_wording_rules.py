"""Phone numbers, sensitive language, link texts and the message language, in six languages."""

from __future__ import annotations

import dataclasses

import pytest
from mail import build
from ruletools import context, envelope, parse

from relay.language import Py3LangidDetector
from relay.policy.link_rules import link_text
from relay.policy.wording import language_mismatch, phone_number, sensitive_language

MARKETPLACE = {"en": "co.uk", "de": "de", "nl": "nl", "fr": "fr", "es": "es", "it": "it"}


DETECTOR = Py3LangidDetector()


def hits_for(rule, lang: str, body: str, html: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    rcpt = f"kc9o3rt5g88dt@marketplace.amazon.{MARKETPLACE[lang]}"
    ctx = dataclasses.replace(context(), detector=DETECTOR)
    msg = parse(
        build(body=body, html=html, to=rcpt), envelope("support@nordlicht-home.example", rcpt)
    )
    return [h.evidence for h in rule(msg, ctx)]


PHONE = {
    "en": (
        "Give us a ring on 020 7946 0958 and we'll talk you through it.",
        "For warranty repairs please call the manufacturer Lumo UK on 020 7946 0958.",
    ),
    "de": (
        "Sie erreichen unser Team telefonisch unter 030 9876 5432.",
        "Die Garantie wickelt der Hersteller direkt ab: Kundendienst 030 9876 5432.",
    ),
    "nl": (
        "Bel ons gerust op 020 123 4567, dan lossen we het samen op.",
        "Voor garantie kun je de fabrikant bellen op 020 123 4567.",
    ),
    "fr": (
        "Appelez-nous au 01 42 68 53 00 pour en parler.",
        "Pour la garantie, le fabricant répond au 01 42 68 53 00.",
    ),
    "es": (
        "Llámanos al 912 345 678 y lo vemos juntos.",
        "Para la garantía, contacta con el fabricante en el 912 345 678.",
    ),
    "it": (
        "Chiamaci al 02 1234 5678 e ne parliamo.",
        "Per la garanzia puoi chiamare il produttore al 02 1234 5678.",
    ),
}
SENSITIVE = {
    "en": ("Stop being such an idiot and read the manual.", "The plant mist spray is in the box."),
    "de": (
        "Sie sind ein Betrüger, das wissen wir.",
        "Die Montage ist idiotensicher und dauert zehn Minuten.",
    ),
    "nl": (
        "Doe niet zo stom en lees de handleiding.",
        "De levering mist helaas een schroef; we sturen hem na.",
    ),
    "fr": (
        "Quel abruti, vous n'avez pas lu la notice.",
        "Nous avons reçu votre colis avec le pied de lampe.",
    ),
    "es": (
        "No sea tan imbécil y lea las instrucciones.",
        "El nudo de la cuerda se deshace con la mano.",
    ),
    "it": (
        "Non faccia il cretino e legga le istruzioni.",
        "Ci scusiamo per il ritardo della consegna.",
    ),
}
LINK_TEXT = {
    "en": ("click here", "your order history"), "de": ("hier klicken", "Ihre Bestellübersicht"),
    "nl": ("klik hier", "je bestelgeschiedenis"), "fr": ("cliquez ici", "l'historique de vos commandes"),
    "es": ("haz clic aquí", "el historial de pedidos"), "it": ("clicca qui", "lo storico degli ordini"),
}  # fmt: skip


@pytest.mark.parametrize("lang", list(PHONE))
def test_phone_number(lang: str) -> None:
    """The seller's own number is found; a manufacturer's or warranty number is allowed."""
    hit, miss = PHONE[lang]
    assert hits_for(phone_number, lang, hit), f"missed ({lang})"
    assert [] == hits_for(phone_number, lang, miss), f"false positive ({lang})"


def test_phone_number_ignores_order_ids_dates_and_tracking() -> None:
    """Order ids, dates, tracking numbers, prices and sizes are not phone numbers."""
    body = ("Order 302-7226181-5477893 of 04.03.2024 ships with tracking 00340434161094042557, "
            "costs 1.299,00 EUR and measures 120 x 170 cm (article 4006381333931).")  # fmt: skip
    assert [] == hits_for(phone_number, "de", body)


@pytest.mark.parametrize("lang", list(SENSITIVE))
def test_sensitive_language(lang: str) -> None:
    """Insults are found in each language; 'mist', 'nudo' and friends in another sense are not."""
    hit, miss = SENSITIVE[lang]
    assert hits_for(sensitive_language, lang, hit), f"missed ({lang})"
    assert [] == hits_for(sensitive_language, lang, miss), f"false positive ({lang})"


@pytest.mark.parametrize("lang", list(LINK_TEXT))
def test_link_text(lang: str) -> None:
    """'Click here' in any language is found; a link that names its target is fine."""
    hit, miss = LINK_TEXT[lang]
    url = "https://www.amazon.de/gp/css/order-history"
    assert hits_for(link_text, lang, "x", html=f'<p>Siehe <a href="{url}">{hit}</a>.</p>')
    assert [] == hits_for(link_text, lang, "x", html=f'<p>Siehe <a href="{url}">{miss}</a>.</p>')
    assert [] == hits_for(link_text, lang, "x", html=f'<p><a href="{url}">{url}</a></p>')


def test_language_mismatch() -> None:
    """English text to amazon.de is logged; German text to amazon.de is not."""
    english = "Thank you for your message. The cushion cover can be washed at thirty degrees."
    german = (
        "Vielen Dank für Ihre Nachricht. Der Kissenbezug kann bei dreißig Grad gewaschen werden."
    )
    assert hits_for(language_mismatch, "de", english)
    assert [] == hits_for(language_mismatch, "de", german)
