"""Links and HTML style: external links, shorteners, logos, fonts, alignment, sizes, images."""

from __future__ import annotations

import re

import pytest
from mail import build, html_reply
from ruletools import hits, run, text_of

from relay.policy.images import animated_gif, image_without_alt, wide_images
from relay.policy.link_rules import external_link, link_shortener, logo_link
from relay.policy.style import alignment, font_overrides, font_sizes, line_breaks, wide_margins

# A 2-frame GIF (1x1 pixel each), and a 1-frame one.
GIF_FRAME = b"!\xf9\x04\x00\x0a\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00"
GIF_HEAD = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
ANIMATED = GIF_HEAD + GIF_FRAME + GIF_FRAME + b";"
STILL = GIF_HEAD + GIF_FRAME + b";"


def html(inner: str) -> bytes:
    return build(html=html_reply(inner))


def test_external_link() -> None:
    """A seller-site link is held; Amazon pages, allow-listed hosts and quoted links are not."""
    assert hits(
        external_link, html('Die <a href="https://www.seller.example/manual">Anleitung</a>.')
    )
    assert hits(external_link, build(body="Anleitung: https://www.seller.example/manual.pdf"))
    ok = html(
        '<a href="https://www.amazon.de/gp/help">Hilfe</a> '
        '<a href="https://sellercentral.amazon.co.uk/x">SC</a> '
        '<a href="https://design.casa-verde.example/proofs/1">Entwurf</a> '
        '<a href="mailto:x@y.example">x</a> <a href="#top">oben</a>'
    )
    assert [] == hits(external_link, ok)
    quoted = build(html=html_reply("Danke.", quote='<a href="https://evil.example/">Link</a>'))
    assert [] == hits(external_link, quoted)


@pytest.mark.parametrize(
    "url", ["https://bit.ly/3Nh7QxA", "https://tinyurl.com/y6x", "https://192.0.2.10/x"]
)
def test_link_shortener_hit(url: str) -> None:
    """Shorteners and bare IP addresses hide where a link goes."""
    assert hits(link_shortener, build(body=f"Video: {url}"))


def test_link_shortener_miss() -> None:
    """A written-out Amazon link is no shortener."""
    assert [] == hits(link_shortener, build(body="Video: https://www.amazon.de/vdp/1234"))


def test_logo_link_hit_and_fix() -> None:
    """A logo linked to the seller's site keeps the image and loses the link."""
    raw = html(
        'Gruß<br><a href="https://www.seller.example/"><img src="cid:logo@x" alt="Logo"></a>'
    )
    assert hits(logo_link, raw)
    ev = run(raw)
    assert ev.verdict.stripped == ("logo_link",)
    assert ev.forward is not None
    text = text_of(ev.forward)
    assert "www.seller.example" not in text
    assert 'src="cid:logo@x"' in text


def test_logo_link_miss() -> None:
    """An image linking to Amazon, and a text link, are no logo links."""
    raw = html('<a href="https://www.amazon.de/dp/B01"><img src="cid:p@x" alt="Produkt"></a>')
    assert [] == hits(logo_link, raw)


FIXABLE = [
    (
        font_overrides,
        '<p style="font-family: Georgia, serif; color: #7a1f1f">Text</p>',
        r"font-family|#7a1f1f",
    ),
    (
        font_overrides,
        "<style>p { font-family: Arial; line-height: 2 }</style><p>Text</p>",
        r"font-family|line-height",
    ),
    (font_overrides, '<font face="Comic Sans" color="red">Text</font>', r"Comic|<font"),
    (
        font_sizes,
        '<p style="font-size:10px">a</p><p style="font-size:12px">b</p>'
        '<p style="font-size:18px">c</p><p style="font-size:24px">d</p>',
        r"font-size",
    ),
    (alignment, '<p style="text-align:center">Text</p>', r"text-align\s*:\s*center"),
    (alignment, '<div align="right">Text</div><center>mitte</center>', r'align="right"|<center'),
    (wide_margins, '<div style="margin-left: 30%">Text</div>', r"margin-left:\s*30%"),
    (wide_margins, '<div style="padding:0 200px">Text</div>', r"200px"),
    (wide_images, '<img src="cid:proof@x" alt="Entwurf" width="100%">', r'width="100%"'),
    (line_breaks, "Text<br><br><br><br>Gruß", r"(?:<br\s*/?>\s*){3,}"),
    (
        line_breaks,
        "<p>Text</p><p>&nbsp;</p><p>&nbsp;</p><p>&nbsp;</p><p>Gruß</p>",
        r"(<p>\s*(&nbsp;|\xa0)\s*</p>\s*){2,}",
    ),
]


@pytest.mark.parametrize(("rule", "inner", "gone"), FIXABLE)
def test_style_hit_and_fix(rule, inner: str, gone: str) -> None:  # type: ignore[no-untyped-def]
    """Each style rule finds its element and its fixer removes it; the text stays."""
    raw = html(inner)
    assert hits(rule, raw)
    ev = run(raw)
    assert ev.verdict.action == "strip"
    assert rule.id in ev.verdict.stripped
    assert ev.forward is not None
    assert not re.search(gone, text_of(ev.forward), re.I)
    assert "Text" in text_of(ev.forward) or "a" in text_of(ev.forward)


@pytest.mark.parametrize(
    ("rule", "inner"),
    [
        (
            font_overrides,
            '<p style="margin:0">Text</p><blockquote style="border-left:1px solid">q</blockquote>',
        ),
        (
            font_sizes,
            '<h1>Titel</h1><p style="font-size:14px">a</p><p style="font-size:12px">b</p>',
        ),
        (alignment, '<p style="text-align:left">Text</p><img src="cid:x" alt="x" align="right">'),
        (alignment, '<p style="text-align: ;">Text</p>'),
        (wide_margins, '<div style="margin:0 0 0 0.8ex;padding-left:1ex">Text</div>'),
        (wide_images, '<img src="cid:x" alt="Logo" width="120" height="32">'),
        (line_breaks, "<div>Hallo,</div><div><br></div><div>Text</div><p>a<br><br>b</p>"),
    ],
)
def test_style_miss(rule, inner: str) -> None:  # type: ignore[no-untyped-def]
    """Ordinary mail-client markup is left alone."""
    assert [] == hits(rule, html(inner))


def test_empty_style_value_is_inspected() -> None:
    """A declaration without a value (`text-align: ;`) is ignored, not a scan failure that
    would hold the message as uninspectable."""
    ev = run(html('<p style="text-align: ;">Die Teekanne ist spülmaschinenfest.</p>'))
    assert ("deliver", ()) == (ev.verdict.action, ev.verdict.rules)


def test_animated_gif_hit_and_fix() -> None:
    """An animated inline GIF is removed with its <img>; a still GIF stays."""
    raw = build(
        html=html_reply('Text <img src="cid:anim@x" alt="Hallo">'),
        attachments=[("anim.gif", "image/gif", ANIMATED), ("still.gif", "image/gif", STILL)],
    )
    raw = raw.replace(b'filename="anim.gif"', b'filename="anim.gif"\r\nContent-ID: <anim@x>')
    assert len(hits(animated_gif, raw)) == 1
    ev = run(raw)
    assert "animated_gif" in ev.verdict.stripped
    assert ev.forward is not None
    assert b"anim.gif" not in ev.forward
    assert b"still.gif" in ev.forward
    assert "cid:anim@x" not in text_of(ev.forward)


def test_animated_gif_miss() -> None:
    """A single-frame GIF is fine."""
    assert [] == hits(animated_gif, build(attachments=[("still.gif", "image/gif", STILL)]))


def test_image_without_alt() -> None:
    """A logo without alt text is held; with alt text, or quoted, it is fine."""
    assert hits(image_without_alt, html('<img src="cid:logo@x" width="120">'))
    assert hits(image_without_alt, html('<img src="https://cdn.x.example/a.png" alt=" ">'))
    assert [] == hits(image_without_alt, html('<img src="cid:logo@x" alt="Nordlicht Home">'))
