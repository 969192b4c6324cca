"""Emoji and insecure images."""

from __future__ import annotations

import pytest
from mail import build, html_reply
from ruletools import hits, run, text_of

from relay.policy.images import insecure_image
from relay.policy.style import emoji, without_emoji


@pytest.mark.parametrize(
    ("subject", "body", "shown"),
    [
        ("Re: Spedizione 🚀", "il pacco parte domani", "🚀"),
        ("AW: Ostern", "kommt am Donnerstag an 🐣", "🐣"),
        ("Re: Size", "Thanks a lot :-)", ":-)"),
        ("Re: Taille", "Merci ❤️", "❤️"),
        ("Re: Maat", "Top 👍🏽", "👍🏽"),
    ],
)
def test_emoji_hit(subject: str, body: str, shown: str) -> None:
    """Emoji (with modifiers and variation selectors) and emoticons are found and removed."""
    raw = build(subject=subject, body=body)
    assert [shown] == [hits(emoji, raw)[0]]
    forwarded = run(raw).forward
    assert forwarded is not None
    assert shown not in text_of(forwarded)


def test_emoji_miss() -> None:
    """Trade marks, arrows, prices and list numbering are not emoji."""
    body = "Nordlicht® Decke™ © 2024 → 25 € (siehe 8) und Punkt 3: fertig."
    assert hits(emoji, build(subject="AW: Decke", body=body)) == []
    assert body == without_emoji(body)


def test_insecure_image_hit() -> None:
    """An http:// image is removed; the text stays."""
    img = '<img src="http://static.casa-verde.example/mail/logo.png" alt="Casa Verde" width="120">'
    raw = build(html=html_reply("Le tende sono grigio-verde." + img))
    assert hits(insecure_image, raw) == ["http://static.casa-verde.example/mail/logo.png"]
    forwarded = run(raw).forward
    assert forwarded is not None
    assert "http://static" not in text_of(forwarded)
    assert "grigio-verde" in text_of(forwarded)


def test_insecure_image_miss() -> None:
    """https and embedded images are fine."""
    imgs = '<img src="https://cdn.casa-verde.example/logo.png" alt="Logo"><img src="cid:a" alt="b">'
    assert hits(insecure_image, build(html=html_reply("Ciao" + imgs))) == []
