"""Header rules: bulk headers, urgency tags, the order id in proactive messages."""

from __future__ import annotations

import pytest
from mail import ORDER, build
from ruletools import hits, run, text_of

from relay.policy.headers import bulk_headers, order_id_missing, subject_important_tag


@pytest.mark.parametrize(
    "headers",
    [
        {"List-Unsubscribe": "<https://lists.seller.example/unsub/1>"},
        {"List-Id": "Kunden <kunden.seller.example>"},
        {"Precedence": "bulk"},
        {"X-Mailchimp-Campaign": "c-77"},
    ],
)
def test_bulk_headers_hit(headers: dict[str, str]) -> None:
    """Mailing-list and campaign headers are found, and the fixer removes them."""
    raw = build(headers=headers)
    assert len(hits(bulk_headers, raw)) == 1
    ev = run(raw)
    assert (ev.verdict.action, ev.verdict.stripped) == ("strip", ("bulk_headers",))
    assert ev.forward is not None
    name = next(iter(headers))
    assert f"\n{name}:" not in text_of(ev.forward)


def test_bulk_headers_miss() -> None:
    """Ordinary reply headers, and Precedence: first-class, are not bulk."""
    assert hits(bulk_headers, build(headers={"Precedence": "first-class"})) == []


@pytest.mark.parametrize(
    ("subject", "tag"),
    [
        ("[Wichtig] AW: Teekanne", "[Wichtig]"),
        ("Re: Order (URGENT)", "(URGENT)"),
        ("[Belangrijk] Re: Levering", "[Belangrijk]"),
        ("[Important] Re: Livraison", "[Important]"),
        ("[Importante] Re: Pedido", "[Importante]"),
        ("[Urgente] Re: Ordine", "[Urgente]"),
    ],
)
def test_subject_important_tag_hit(subject: str, tag: str) -> None:
    """Urgency tags in six languages are found and removed from the subject."""
    raw = build(subject=subject)
    assert [tag] == hits(subject_important_tag, raw)
    forwarded = run(raw).forward
    assert forwarded is not None
    assert tag not in text_of(forwarded)
    assert subject.replace(tag, "").strip() in text_of(forwarded)


def test_subject_important_tag_miss() -> None:
    """The word 'important' inside a subject is not a tag."""
    assert hits(subject_important_tag, build(subject="Re: Important question about size")) == []


def test_order_id_missing_hit() -> None:
    """A proactive message without the 17-digit order id."""
    assert len(hits(order_id_missing, build(subject="Ihre Adresse", reply=False))) == 1


def test_order_id_missing_miss() -> None:
    """Proactive with the order id in the subject or body passes; replies need none."""
    assert hits(order_id_missing, build(subject=f"Bestellung {ORDER}", reply=False)) == []
    assert hits(order_id_missing, build(body=f"Bestellung {ORDER}", reply=False)) == []
    assert hits(order_id_missing, build(subject="AW: Frage", reply=True)) == []
    assert hits(order_id_missing, build(subject="Re: Question", reply=False)) == []


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Important question about the size",
        "AW: Wichtige Frage zur Lieferung",
        "Re: Belangrijke vraag over de maat",
        "Re: Question importante sur la taille",
        "Re: Pregunta importante sobre el tamaño",
        "Re: Domanda urgente sulla consegna",
    ],
)
def test_subject_important_tag_miss_six_languages(subject: str) -> None:
    """Urgency words inside an ordinary subject are not a bracketed tag."""
    assert [] == hits(subject_important_tag, build(subject=subject))
