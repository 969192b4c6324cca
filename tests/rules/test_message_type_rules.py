"""Message-type rules for proactive messages: a HIT and a MISS in each of six languages."""

from __future__ import annotations

import pytest
from mail import ORDER, build
from ruletools import hits

from relay.policy.message_type import marketing, off_platform, order_confirmation, thanks_only

GREETING = {"en": ("Hello,", "Kind regards\nRosie"), "de": ("Guten Tag,", "Viele Grüße\nLukas"),
            "nl": ("Beste klant,", "Met vriendelijke groet\nDaan"), "fr": ("Bonjour,", "Cordialement,\nInès"),
            "es": ("Hola:", "Saludos,\nPilar"), "it": ("Ciao,", "Un saluto,\nSara")}  # fmt: skip


def proactive(lang: str, text: str) -> bytes:
    hello, bye = GREETING[lang]
    return build(
        subject=f"{ORDER}", body=f"{hello}\n\n{text}\n\n{bye}\nNordlicht Home", reply=False
    )


MARKETING = {
    "en": (
        f"Your order {ORDER} is ready. Fancy a matching cushion? Use code SPRING15 at checkout.",
        f"Your sofa from order {ORDER} can be delivered on Monday or Wednesday. Which suits you?",
    ),
    "de": (
        f"Passend zu Bestellung {ORDER}: Mit dem Gutscheincode LAMPE10 sparen Sie 10 % im Shop.",
        f"Für Bestellung {ORDER} brauchen wir noch die Farbe der Gravur. Welche wünschen Sie?",
    ),
    "nl": (
        f"Bedankt voor bestelling {ORDER}. Volg ons op Instagram voor tips en nieuwe producten.",
        f"De monteur komt voor bestelling {ORDER} op dinsdag tussen 8 en 12 uur.",
    ),
    "fr": (
        f"Commande {ORDER} : profitez de -20 % de réduction sur nos autres produits avec le code MERCI20.",
        f"Pour la commande {ORDER}, le transporteur passera jeudi matin. Cela vous convient-il ?",
    ),
    "es": (
        f"Pedido {ORDER}: suscríbete a nuestro boletín y no te pierdas ninguna oferta.",
        f"Para el pedido {ORDER} necesitamos saber el piso de entrega. ¿Nos lo indicas?",
    ),
    "it": (
        f"Ordine {ORDER}: dai un'occhiata alla nostra nuova collezione di tende in offerta.",
        f"Per l'ordine {ORDER} il corriere passerà venerdì mattina. Va bene per te?",
    ),
}
OFF_PLATFORM = {
    "en": (
        f"For the spare part for order {ORDER}, just send us a message on WhatsApp.",
        f"You can cancel order {ORDER} free of charge in Your Orders on Amazon.",
    ),
    "de": (
        f"Den Aufpreis für Bestellung {ORDER} überweisen Sie bitte direkt auf unser Konto.",
        f"Bestellung {ORDER} können Sie jederzeit in Ihrem Amazon-Konto stornieren.",
    ),
    "nl": (
        f"Bestel de bijpassende hoes voor {ORDER} voortaan in onze webshop, dat is goedkoper.",
        f"De retour van bestelling {ORDER} kun je starten via je Amazon-account.",
    ),
    "fr": (
        f"Vous pouvez régler le supplément de la commande {ORDER} par virement bancaire.",
        f"Le supplément pour la commande {ORDER} sera ajusté directement par Amazon.",
    ),
    "es": (
        f"Para tu pedido {ORDER}, la próxima vez compra directamente en nuestra tienda online.",
        f"El reembolso parcial del pedido {ORDER} se hará a través de Amazon.",
    ),
    "it": (
        f"Per il ricambio dell'ordine {ORDER} ti mandiamo un link di pagamento PayPal.",
        f"Il rimborso parziale dell'ordine {ORDER} avverrà tramite Amazon.",
    ),
}
THANKS = {
    "en": (
        f"Thanks so much for choosing us for order {ORDER}! We hope you enjoy your new lamp.",
        f"Thanks for order {ORDER}. Which engraving font would you like: serif or script?",
    ),
    "de": (
        f"Danke für Ihren Einkauf bei uns ({ORDER})! Bei Fragen sind wir jederzeit gerne für Sie da.",
        f"Danke für Bestellung {ORDER}. Die Gravur fertigen wir erst, wenn Sie den Text bestätigt haben.",
    ),
    "nl": (
        f"Hartelijk dank voor je vertrouwen ({ORDER}). We wensen je veel plezier met de lamp!",
        f"Bedankt voor bestelling {ORDER}. De kast wordt in twee delen geleverd; is er een lift?",
    ),
    "fr": (
        f"Merci d'avoir choisi notre boutique pour la commande {ORDER} ! N'hésitez pas à nous contacter.",
        f"Merci pour la commande {ORDER}. Il nous manque le code d'accès de votre immeuble.",
    ),
    "es": (
        f"¡Gracias por confiar en nosotros con el pedido {ORDER}! Estamos a tu disposición.",
        f"Gracias por el pedido {ORDER}. ¿Podrías confirmarnos el texto del grabado?",
    ),
    "it": (
        f"Grazie mille per l'ordine {ORDER}! Per qualsiasi domanda siamo a tua disposizione.",
        f"Grazie per l'ordine {ORDER}. Ci serve il numero civico per la consegna.",
    ),
}
CONFIRMATION = {
    "en": (
        f"Good news: your bread bin (order {ORDER}) left our warehouse today with DHL.",
        f"Your order {ORDER} will leave our workshop a week later than planned, sorry.",
    ),
    "de": (
        f"Ihre Bestellung {ORDER} wurde heute an DHL übergeben.",
        f"Leider verzögert sich der Versand Ihrer Bestellung {ORDER} um etwa zehn Tage.",
    ),
    "nl": (
        f"Goed nieuws: je bestelling {ORDER} is vandaag verstuurd met PostNL.",
        f"Helaas wordt bestelling {ORDER} een week later verzonden dan gepland.",
    ),
    "fr": (
        f"Bonne nouvelle : votre commande {ORDER} a quitté notre entrepôt ce matin.",
        f"Malheureusement, la commande {ORDER} partira avec une semaine de retard.",
    ),
    "es": (
        f"Te confirmamos que tu pedido {ORDER} ya está en manos del transportista.",
        f"Lamentablemente, el envío del pedido {ORDER} se retrasará una semana.",
    ),
    "it": (
        f"Il tuo ordine {ORDER} è partito oggi dal nostro magazzino.",
        f"Purtroppo la spedizione dell'ordine {ORDER} subirà un ritardo di una settimana.",
    ),
}
TABLES = {
    "marketing": (marketing, MARKETING),
    "off_platform": (off_platform, OFF_PLATFORM),
    "thanks_only": (thanks_only, THANKS),
    "order_confirmation": (order_confirmation, CONFIRMATION),
}
CASES = [(name, lang) for name, (_, table) in TABLES.items() for lang in table]


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_hit(name: str, lang: str) -> None:
    """The proactive message of that type is recognised."""
    rule, table = TABLES[name]
    assert hits(rule, proactive(lang, table[lang][0])), f"{name} missed ({lang})"


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_miss(name: str, lang: str) -> None:
    """A permitted proactive message in the same language is not."""
    rule, table = TABLES[name]
    assert [] == hits(rule, proactive(lang, table[lang][1])), f"{name} false positive ({lang})"


@pytest.mark.parametrize("name", list(TABLES))
def test_replies_are_not_judged_by_type(name: str) -> None:
    """Message types apply to proactive messages only: a reply with the same words passes."""
    rule, table = TABLES[name]
    assert [] == hits(rule, build(subject="Re: Frage", body=table["en"][0]))
