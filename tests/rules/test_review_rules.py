"""The review family: a HIT and a MISS in each of the six languages, in words of our own.

None of these sentences is a seed phrase of PHRASES.md or a line of the public corpus: they
check that the lexicons generalise (inflection, word order, formal and informal address).
"""

from __future__ import annotations

import pytest
from mail import ORDER, build
from ruletools import context, hits

from relay.policy.review import (
    review_change_request,
    review_conditional,
    review_deflection,
    review_incentive,
    review_positive_only,
)


def proactive(text: str) -> bytes:
    return build(
        subject=f"Bestellung {ORDER}", body=f"Hallo,\n\n{text}\n\nViele Grüße\nLukas", reply=False
    )


def reply(text: str) -> bytes:
    return build(subject="Re: Lampe", body=f"Hello,\n\n{text}\n\nBest regards\nRosie")


INCENTIVE = {
    "en": (
        "As a small thank-you for writing a review of your lamp, we'll refund 10 euros to your account.",
        "Returns are free of charge within 30 days. We would also welcome a review of the lamp.",
    ),
    "de": (
        "Wenn Sie eine Rezension schreiben, bekommen Sie von uns einen Gutschein über 15 Euro.",
        "Die Rücksendung ist für Sie kostenlos. Über eine Bewertung der Lampe freuen wir uns.",
    ),
    "nl": (
        "Schrijf een recensie over de lamp en wij sturen je gratis een set reservekaarsen.",
        "Retourneren is gratis. We horen graag wat je van de lamp vindt in een review.",
    ),
    "fr": (
        "Pour chaque avis publié, nous vous offrons un bon d'achat de 10 euros.",
        "Le retour est gratuit pendant 30 jours. Un avis sur la lampe nous aiderait aussi.",
    ),
    "es": (
        "Si escribes una opinión sobre la lámpara, te regalamos una funda de cojín.",
        "La devolución es gratuita durante 30 días. También puedes dejar una opinión si quieres.",
    ),
    "it": (
        "Lasciando una recensione riceverai in omaggio un set di tovaglioli.",
        "Il reso è gratuito entro 30 giorni. Se vuoi, puoi anche lasciare una recensione.",
    ),
}
POSITIVE = {
    "en": (
        "It would be wonderful if you could give our lamp a top rating on Amazon.",
        "We'd appreciate an honest review, whatever your impression of the lamp.",
    ),
    "de": (
        "Wir würden uns sehr über eine Fünf-Sterne-Bewertung freuen.",
        "Wir freuen uns über jede ehrliche Bewertung, ob gut oder schlecht.",
    ),
    "nl": (
        "Geef ons alsjeblieft vijf sterren als beoordeling.",
        "Een eerlijke review, positief of negatief, helpt andere klanten.",
    ),
    "fr": (
        "Une note de cinq étoiles nous aiderait beaucoup.",
        "Votre avis sincère, positif ou négatif, aide les autres clients.",
    ),
    "es": (
        "Nos ayudaría mucho una valoración positiva en Amazon.",
        "Una opinión sincera, sea buena o mala, ayuda a otros clientes.",
    ),
    "it": (
        "Ti chiediamo di lasciare una recensione positiva.",
        "Una recensione onesta, positiva o negativa, aiuta gli altri clienti.",
    ),
}
CONDITIONAL = {
    "en": (
        "If the lamp brightens your evenings, please share a review on Amazon.",
        "If you have any questions, we are happy to help. You can also leave a review.",
    ),
    "de": (
        "Falls Ihnen die Lampe gefällt, schreiben Sie doch eine kurze Rezension.",
        "Bei Fragen helfen wir gern. Sie können auch eine Bewertung hinterlassen.",
    ),
    "nl": (
        "Bevalt de lamp je? Laat dan een beoordeling achter op Amazon.",
        "Heb je vragen, dan helpen we graag. Je kunt ook een review schrijven.",
    ),
    "fr": (
        "Si la lampe vous plaît, laissez-nous un petit commentaire sur Amazon.",
        "Pour toute question, nous sommes là. Vous pouvez aussi laisser un avis.",
    ),
    "es": (
        "Si te gusta la lámpara, déjanos una reseña en Amazon.",
        "Si tienes dudas, escríbenos. También puedes dejar una reseña.",
    ),
    "it": (
        "Se la lampada ti piace, scrivi una recensione su Amazon.",
        "Per qualsiasi domanda siamo qui. Puoi anche lasciare una recensione.",
    ),
}
DEFLECTION = {
    "en": (
        "Should anything be wrong with the lamp, please talk to us before you write a review.",
        "Please contact us before returning the lamp, so we can send a label.",
    ),
    "de": (
        "Bevor Sie eine Bewertung schreiben, geben Sie uns bitte die Chance, das Problem zu lösen.",
        "Bitte melden Sie sich vor der Rücksendung bei uns, damit wir ein Etikett schicken.",
    ),
    "nl": (
        "Is er iets mis? Laat het ons eerst weten, in plaats van een slechte review te plaatsen.",
        "Neem contact op voordat je de lamp terugstuurt, dan sturen we een label.",
    ),
    "fr": (
        "En cas de souci, écrivez-nous plutôt que de laisser un commentaire négatif.",
        "Contactez-nous avant de renvoyer la lampe, nous vous enverrons une étiquette.",
    ),
    "es": (
        "Si algo no va bien, escríbenos antes de publicar una valoración.",
        "Escríbenos antes de devolver la lámpara y te enviaremos una etiqueta.",
    ),
    "it": (
        "Se qualcosa non va, contattaci invece di scrivere una recensione negativa.",
        "Contattaci prima di restituire la lampada, ti invieremo un'etichetta.",
    ),
}
CHANGE = {
    "en": (
        "Since the replacement arrived, could you update the one-star rating you gave us?",
        "Your feedback helped us: we changed the packaging of the lamp.",
    ),
    "de": (
        "Wäre es möglich, Ihre Rezension jetzt anzupassen?",
        "Dank Ihrer Bewertung haben wir die Anleitung überarbeitet.",
    ),
    "nl": (
        "Zou u uw beoordeling willen herzien nu alles is opgelost?",
        "Dankzij uw review hebben we de handleiding aangepast.",
    ),
    "fr": (
        "Pourriez-vous modifier la note que vous nous avez donnée ?",
        "Grâce à votre avis, nous avons modifié l'emballage.",
    ),
    "es": (
        "¿Podrías borrar el comentario negativo que dejaste?",
        "Gracias a tu comentario hemos cambiado el embalaje.",
    ),
    "it": (
        "Potresti togliere la recensione da una stella, ora che è tutto risolto?",
        "Grazie alla tua recensione abbiamo cambiato l'imballaggio.",
    ),
}
TABLES = {
    "review_incentive": (review_incentive, INCENTIVE),
    "review_positive_only": (review_positive_only, POSITIVE),
    "review_conditional": (review_conditional, CONDITIONAL),
    "review_deflection": (review_deflection, DEFLECTION),
    "review_change_request": (review_change_request, CHANGE),
}
CASES = [(name, lang) for name, (_, table) in TABLES.items() for lang in table]


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_hit(name: str, lang: str) -> None:
    """The rule fires on the violating sentence, in a proactive message and in a reply."""
    rule, table = TABLES[name]
    text = table[lang][0]
    assert hits(rule, proactive(text)), f"{name} missed ({lang}): {text}"
    assert hits(rule, reply(text)), f"{name} missed in a reply ({lang}): {text}"


@pytest.mark.parametrize(("name", "lang"), CASES)
def test_miss(name: str, lang: str) -> None:
    """A near miss in the same language is left alone."""
    rule, table = TABLES[name]
    text = table[lang][1]
    assert [] == hits(rule, proactive(text)), f"{name} false positive ({lang}): {text}"


def test_quoted_review_talk_is_ignored() -> None:
    """The buyer's quoted threat of a bad review starts no review rule."""
    body = (
        "Ciao Paolo,\n\nti spediamo subito una teiera nuova.\n\nUn saluto\nSara\n\n"
        "Il giorno mar 5 mar 2024 alle ore 11:13 Paolo Sala ha scritto:\n"
        "> Se non la sostituite lascio una recensione negativa da una stella,\n"
        "> e toglierò la recensione solo con un rimborso.\n"
    )
    raw = build(body=body)
    found = [hits(r, raw) for r, _ in TABLES.values()]
    assert found == [[]] * len(TABLES)
    assert context().lexicon.topics
