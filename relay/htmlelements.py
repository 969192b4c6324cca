"""What an HTML element's tag and attributes imply, whatever surrounds it: worked out once.

Helpdesk templates give every paragraph and cell the same tag, attributes and inline style,
within a message and across messages; the walk (relay.htmlwalk, and its C loop
relay/_htmlwalk.c) asks for an element's facts by (tag, attributes) and gets them from a
bounded memo. Pure: strings in, frozen facts out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from relay.htmlfacts import (
    ACTIVE_TAGS,
    BLOCK_TAGS,
    CSS_URL,
    HIDDEN,
    QUOTE_CLASSES,
    SKIP_TEXT_TAGS,
    URL_ATTRS,
    Length,
    StyleDecl,
    css_declarations,
    is_aligned,
    parse_length,
    style_length,
)

_URL_NOISE = re.compile(r"[\s\x00-\x1f]")
_ACTIVE_SCHEMES = ("javascript:", "vbscript:", "data:text/html", "livescript:")
_MEMO_LIMIT = 4096  # distinct keys kept; mail with endless new styles just recomputes
# The bits of ElementFacts.flags, which relay/_htmlwalk.c reads (its enum has the same values).
FLAG_QUOTE, FLAG_HIDDEN, FLAG_SKIP, FLAG_BLOCK = 1, 2, 4, 8
FLAG_BR, FLAG_SPECIAL, FLAG_STYLES = 16, 32, 64


@dataclass(frozen=True)
class StyleFacts:
    """What one element's style attribute implies, the same for every element that has it."""

    decls: tuple[tuple[str, str], ...]  # shared by every element with this style
    hidden: bool
    styles: tuple[StyleDecl, ...]
    alignments: tuple[str, ...]
    css_urls: tuple[str, ...]


_STYLE_MEMO: dict[tuple[str, str], StyleFacts] = {}
_QUOTE_MEMO: dict[tuple[bool, str, str, str], bool] = {}


def style_facts(tag: str, style: str) -> StyleFacts:
    key = (tag, style)
    known = _STYLE_MEMO.get(key)
    if known is not None:
        return known
    decls = tuple(css_declarations(style))
    styles = tuple(StyleDecl(prop, value, tag) for prop, value in decls)
    aligned = tuple(f'<{tag} style="text-align:{v}">' for p, v in decls
                    if p == "text-align" and is_aligned(v))  # fmt: skip
    urls = tuple(url for _, v in decls if "(" in v for _, url in CSS_URL.findall(v))
    facts = StyleFacts(decls, bool(HIDDEN.search(style)), styles, aligned, urls)
    if len(_STYLE_MEMO) >= _MEMO_LIMIT:
        _STYLE_MEMO.clear()
    _STYLE_MEMO[key] = facts
    return facts


def is_quote_container(tag: str, attrs: dict[str, str]) -> bool:
    """A quoted-history container: <blockquote type=cite>, or a client's quote class or id."""
    blockquote = tag == "blockquote"
    classes, ident = attrs.get("class", ""), attrs.get("id", "")
    if not blockquote and not classes and not ident:
        return False  # most elements: no class or id to look at
    key = (blockquote, attrs.get("type", "").lower() if blockquote else "", classes, ident)
    known = _QUOTE_MEMO.get(key)
    if known is None:
        names = f" {classes} {ident} "
        known = (blockquote and (key[1] == "cite" or "quote" in names)) or any(
            c in names for c in QUOTE_CLASSES
        )
        if len(_QUOTE_MEMO) >= _MEMO_LIMIT:
            _QUOTE_MEMO.clear()
        _QUOTE_MEMO[key] = known
    return known


@dataclass(frozen=True, slots=True)
class ElementFacts:
    """What an element's tag and attributes say, whatever surrounds it. Helpdesk templates
    give every paragraph and cell the same tag and attributes: worked out once per pair."""

    tag: str
    hidden: bool  # a hiding style or the hidden attribute
    quote: bool  # a quoted-history container
    styles: tuple[StyleDecl, ...]  # inline style declarations, then <font> attributes
    alignments: tuple[str, ...]  # inline text-align, align attribute, <center>
    css_urls: tuple[str, ...]  # url(...) in the inline style
    late_images: tuple[tuple[str, str], ...]  # background attribute, remote stylesheet
    active: tuple[str, ...]  # active tag, event handlers, script URLs, meta refresh
    heading: str  # h1..h6, or ""
    block: bool
    skip: bool  # shows no text (script, style, head…)
    href: str | None  # an anchor's link
    image: tuple[str, str | None, Length | None, Length | None] | None  # src, alt, width, height
    special: bool = False  # any of the above but styles, quote, hidden, block and skip
    flags: int = 0  # quote, hidden, skip, block, br, special, styles as bits, for the C loop


def remember(key: tuple[Any, tuple[tuple[str, str], ...]], tag: Any, items: Any) -> ElementFacts:
    facts = element_facts(tag.lower(), items)
    if len(ELEMENTS) >= _MEMO_LIMIT:
        ELEMENTS.clear()
    ELEMENTS[key] = facts
    return facts


ELEMENTS: dict[tuple[Any, tuple[tuple[str, str], ...]], ElementFacts] = {}
RAW_ELEMENTS: dict[bytes, ElementFacts] = {}  # the C loop's: libxml2's bytes as the key


def element_facts(tag: str, items: Sequence[tuple[str, str]]) -> ElementFacts:
    attrs = dict(items)
    decls: tuple[tuple[str, str], ...] = ()
    styles: list[StyleDecl] = []
    alignments: list[str] = []
    css_urls: tuple[str, ...] = ()
    hidden = False
    style = attrs.get("style", "")
    if style:
        facts = style_facts(tag, style)
        decls, hidden, css_urls = facts.decls, facts.hidden, facts.css_urls
        styles += facts.styles
        alignments += facts.alignments
    late_images: list[tuple[str, str]] = []
    active: list[str] = []
    hidden_input = tag == "input" and attrs.get("type", "").lower() == "hidden"
    if tag in ACTIVE_TAGS and not hidden_input:
        active.append(f"<{tag}>")
    if items:
        hidden = hidden or "hidden" in attrs
        align = attrs.get("align", "").lower()
        if align and align not in ("left", "start") and tag != "img":
            alignments.append(f'<{tag} align="{align}">')
        if tag == "font":
            font = [a for a in ("face", "color", "size") if attrs.get(a)]
            styles += [StyleDecl(f"font-{a}", attrs[a], "font-tag") for a in font]
        if attrs.get("background"):
            late_images.append((attrs["background"], "background"))
        active += _active_attributes(tag, attrs, items)
        if tag == "link" and attrs.get("href") and "stylesheet" in attrs.get("rel", "").lower():
            late_images.append((attrs["href"], "css"))  # loaded on opening, like a pixel
    if tag == "center":
        alignments.append("<center>")
    image = None
    if tag in ("img", "image") or (tag == "input" and attrs.get("type", "").lower() == "image"):
        src = (attrs.get("src") or attrs.get("href") or attrs.get("xlink:href") or "").strip()
        image = (src, attrs.get("alt"),
                 parse_length(attrs.get("width")) or style_length(decls, "width"),
                 parse_length(attrs.get("height")) or style_length(decls, "height"))  # fmt: skip
    heading = tag if tag in ("h1", "h2", "h3", "h4", "h5", "h6") else ""
    href = attrs["href"].strip() if tag == "a" and "href" in attrs else None
    special = bool(alignments or css_urls or late_images or active or heading or image) or (
        href is not None or tag == "style"
    )
    quote = (bool(items) or tag == "blockquote") and is_quote_container(tag, attrs)
    bits = ((FLAG_QUOTE, quote), (FLAG_HIDDEN, hidden), (FLAG_SKIP, tag in SKIP_TEXT_TAGS),
            (FLAG_BLOCK, tag in BLOCK_TAGS), (FLAG_BR, tag == "br"), (FLAG_SPECIAL, special),
            (FLAG_STYLES, bool(styles)))  # fmt: skip
    return ElementFacts(
        tag=tag,
        hidden=hidden,
        quote=quote,
        styles=tuple(styles),
        alignments=tuple(alignments),
        css_urls=css_urls,
        late_images=tuple(late_images),
        active=tuple(active),
        heading=heading,
        block=tag in BLOCK_TAGS,
        skip=tag in SKIP_TEXT_TAGS,
        href=href,
        image=image,
        special=special,
        flags=sum(bit for bit, on in bits if on),
    )


def _active_attributes(
    tag: str, attrs: dict[str, str], items: Sequence[tuple[str, str]]
) -> list[str]:
    """Event handlers, script URLs, meta refresh."""
    found = []
    for attr, raw in items:
        name = attr.lower()
        if name.startswith("on"):
            found.append(f'<{tag} {attr}="{(raw or "")[:60]}">')
        elif name in URL_ATTRS and ":" in raw:
            value = raw.strip()
            low = _URL_NOISE.sub("", value).lower()
            if low.startswith(_ACTIVE_SCHEMES):
                found.append(f'{low.split(":")[0]}: URL in <{tag} {attr}="{value[:60]}">')
    if tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh":
        found.append(f'<meta http-equiv="refresh" content="{attrs.get("content", "")[:60]}">')
    return found
