"""Link rules: external hosts, shorteners, linked logos, link texts that say nothing."""

from __future__ import annotations

from collections.abc import Iterator

import lxml.html

from relay.htmlfacts import Link
from relay.message import Message
from relay.policy.context import PolicyContext
from relay.policy.links import (
    host_matches,
    host_of,
    is_amazon_host,
    is_ip_host,
    is_shortener,
    scheme_of,
)
from relay.policy.model import Action, Hit, rule
from relay.policy.text import normalize
from relay.rewrite import Editor, in_quote, unwrap

GUIDE = "Amazon communication guidelines: external links only when secure and needed for the order"


def _web_links(msg: Message) -> list[Link]:
    """The sender's own http(s) links (the buyer's quoted ones are not the seller's)."""
    return [
        link
        for link in msg.links
        if not link.quoted and scheme_of(link.url) in ("http", "https") and host_of(link.url)
    ]


def allowed_host(host: str, ctx: PolicyContext) -> bool:
    return is_amazon_host(host) or host_matches(host, ctx.settings.link_allow)


@rule(
    id="external_link",
    guideline=GUIDE + "; Amazon's own pages and the seller's allow-list are fine",
    default=Action.QUARANTINE,
    example="https://www.seller.example/manuals/lamp.pdf",
)
def external_link(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """An https link to a host that is neither Amazon nor on the seller's allow-list."""
    seen: set[str] = set()
    for link in _web_links(msg):
        host = host_of(link.url)
        if scheme_of(link.url) == "https" and not allowed_host(host, ctx) and host not in seen:
            seen.add(host)
            yield Hit(
                link.url[:140], f"remove the link to {host}, or have it added to the allow-list"
            )


@rule(
    id="link_shortener",
    guideline=GUIDE + "; the buyer must see where a link goes",
    default=Action.QUARANTINE,
    example="https://bit.ly/3Nh7QxA",
)
def link_shortener(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A link through a URL shortener (bit.ly, tinyurl, t.co…) or to a bare IP address."""
    for link in _web_links(msg):
        host = host_of(link.url)
        if is_shortener(host) or is_ip_host(host):
            yield Hit(link.url[:140], f"write out the full link instead of {host}")


def _logo_links(msg: Message) -> list[Link]:
    return [
        link
        for link in msg.links
        if link.source == "html" and link.images and not link.quoted
        and not is_amazon_host(host_of(link.url))
    ]  # fmt: skip


def fix_logo_link(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    def html(root: lxml.html.HtmlElement) -> bool:
        changed = False
        for a in list(root.iter("a")):
            href = a.get("href") or ""
            if (
                a.find(".//img") is not None
                and not is_amazon_host(host_of(href))
                and not in_quote(a)
            ):
                unwrap(a)  # the logo stays, its link to the seller's site goes
                changed = True
        return changed

    editor.edit_html(html)


@rule(
    id="logo_link",
    guideline="Amazon communication guidelines: no logos that link to the seller's website",
    default=Action.STRIP,
    fix=fix_logo_link,
    example='<a href="https://www.seller.example/"><img src="cid:logo" alt="Logo"></a>',
)
def logo_link(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """An image (a logo) wrapped in a link to a site other than Amazon."""
    for link in _logo_links(msg):
        yield Hit(link.url[:140], "the logo may stay, but not as a link to your website")


@rule(
    id="link_text",
    guideline="Accessibility: links need text that says where they go, not 'click here'",
    default=Action.QUARANTINE,
    example='<a href="https://www.amazon.nl/gp/css/order-history">klik hier</a>',
)
def link_text(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Link text that says nothing: "click here", "hier klicken", "klik hier", "cliquez ici"…"""
    terms = ctx.lexicon.topic("link_text")
    for link in msg.links:
        if link.source != "html" or link.quoted or link.images:
            continue
        text = normalize(link.text).strip(" .:!?»>→")
        if not text or scheme_of(text) in ("http", "https") or text.startswith("www."):
            continue
        whole = [m for m in terms.finditer(text) if m.start == 0 and m.end == len(text)]
        if whole:
            yield Hit(f"{link.text} <{link.url[:80]}>",
                      f"name the link's destination instead of '{link.text}'")  # fmt: skip
