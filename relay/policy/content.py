"""Content rules on links, images, addresses, active content and attachments."""

from __future__ import annotations

import re
from collections.abc import Iterator

import lxml.html

from relay.htmlfacts import Image, css_declarations
from relay.htmlscan import shallow_text
from relay.message import Message
from relay.policy.context import PolicyContext
from relay.policy.links import host_of, is_amazon_host, is_remote, is_tracker, scheme_of
from relay.policy.model import Action, Hit, rule
from relay.policy.text import normalize
from relay.rewrite import Editor, in_quote, remove, unwrap
from relay.textscan import find_emails, find_urls, has_url, quote_start

GUIDE_ELEMENTS = "Amazon communication guidelines: elements a permitted message may not contain"
EMAIL_PLACEHOLDER = "[e-mail address removed]"
LINK_PLACEHOLDER = "[link removed]"


# ---------------------------------------------------------------- tracking pixels
def _is_pixel(img: Image) -> bool:
    if not is_remote(img.src):
        return False  # an embedded (cid:) or data image reports nothing to anyone
    tiny = any(d is not None and d.unit == "px" and d.value <= 3 for d in (img.width, img.height))
    return tiny or img.hidden or is_tracker(img.src)


def _pixels(msg: Message) -> list[Image]:
    return [i for i in msg.images if i.kind in ("img", "background", "css") and _is_pixel(i)]


def drop_images(root: lxml.html.HtmlElement, srcs: set[str]) -> bool:
    """Remove <img> and background references whose URL is in `srcs`."""
    changed = False
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        if el.tag in ("img", "image", "input") and (el.get("src") or "").strip() in srcs:
            remove(el)
            changed = True
            continue
        if (el.get("background") or "").strip() in srcs:
            del el.attrib["background"]
            changed = True
        style = el.get("style")
        if style and any(s in style for s in srcs):
            kept = [
                f"{p}: {v}" for p, v in css_declarations(style) if not any(s in v for s in srcs)
            ]
            el.set("style", "; ".join(kept))
            changed = True
        if el.tag == "link" and (el.get("href") or "").strip() in srcs:
            remove(el)
            changed = True
        if el.tag == "style" and el.text and any(s in el.text for s in srcs):
            for s in srcs:
                el.text = re.sub(r"url\(\s*['\"]?" + re.escape(s) + r"['\"]?\s*\)", "none", el.text)
            changed = True
    return changed


def fix_tracking_pixel(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    srcs = {i.src for i in _pixels(msg)}
    editor.edit_html(lambda root: drop_images(root, srcs))


@rule(
    id="tracking_pixel",
    guideline=GUIDE_ELEMENTS + ": tracking pixels or images",
    default=Action.STRIP,
    fix=fix_tracking_pixel,
    example='<img src="https://mailtrack.io/trace/mail/0f1e.png" width="1" height="1">',
)
def tracking_pixel(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A tiny, hidden or known open-tracking remote image."""
    for img in _pixels(msg):
        yield Hit(img.src[:120], "remove the tracking pixel (a tiny or hidden remote image)")


# ---------------------------------------------------------------- unsubscribe links
_UNSUB_URL = re.compile(
    r"(?i)unsub|opt[-_]?out|abmeld|abbestell|afmeld|uitschrijv|desabon|d%c3%a9sabon|desinscri"
    r"|darse-de-baja|/baja|disiscri|cancellati|annulla-iscrizione|email-preferences"
    r"|manage-preferences|preference-center|preferences\?|/prefs?\b|remove-me"
)


def _unsub_wording(text: str, ctx: PolicyContext) -> list[str]:
    return ctx.lexicon.find("unsubscribe", normalize(text))


def is_unsubscribe(text: str, context: str, url: str, ctx: PolicyContext) -> bool:
    """An opt-out link: by its words, the words around it, or its URL; never Amazon's own
    pages (the buyer's messaging preferences live there)."""
    if is_amazon_host(host_of(url)):
        return False
    words = _unsub_wording(text, ctx) or _unsub_wording(context, ctx)
    return bool(words or _UNSUB_URL.search(url))


def _unsub_anchors(root: lxml.html.HtmlElement, ctx: PolicyContext) -> list[lxml.html.HtmlElement]:
    return [
        a
        for a in root.iter("a")
        if not in_quote(a)
        and is_unsubscribe(a.text_content(), shallow_text(a.getparent()), a.get("href") or "", ctx)
    ]


def _unsub_lines(text: str, ctx: PolicyContext, linked: bool | None = None) -> list[int]:
    """Indexes of plain-text lines that carry an unsubscribe link (and its lead-in line).
    `linked`: whether the text has a URL at all, when the caller knows it already."""
    if not (has_url(text) if linked is None else linked):  # a URL never spans lines
        return []
    lines = text.splitlines()
    end = quote_start(lines)
    hits: list[int] = []
    for i, line in enumerate(lines[:end]):
        urls = [u for u in find_urls(line) if not is_amazon_host(host_of(u))]
        if urls and (_unsub_wording(line, ctx) or any(_UNSUB_URL.search(u) for u in urls)):
            hits.append(i)
        elif urls and i and _unsub_wording(lines[i - 1], ctx) and not find_urls(lines[i - 1]):
            hits += [i - 1, i]
    return sorted(set(hits))


def fix_unsubscribe_link(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    def html(root: lxml.html.HtmlElement) -> bool:
        anchors = _unsub_anchors(root, ctx)
        for a in anchors:
            parent = a.getparent()
            remove(a)
            # A footer block that only held the link (or its lead-in) goes with it.
            if parent is not None and parent.tag in ("p", "div", "span", "td", "li", "small"):
                rest = parent.text_content().strip()
                if not rest or (len(rest) < 200 and _unsub_wording(rest, ctx)):
                    remove(parent)
        return bool(anchors)

    def text(body: str) -> str:
        drop = set(_unsub_lines(body, ctx))
        return "\n".join(ln for i, ln in enumerate(body.splitlines()) if i not in drop)

    editor.edit_html(html)
    editor.edit_text(text)


@rule(
    id="unsubscribe_link",
    guideline=GUIDE_ELEMENTS + ": a link to opt out of messages",
    default=Action.STRIP,
    fix=fix_unsubscribe_link,
    example='<a href="https://news.seller.example/abmelden?id=5521">Newsletter abbestellen</a>',
)
def unsubscribe_link(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """An unsubscribe, opt-out or manage-preferences link, in any of the six languages."""
    for link in msg.links:
        if link.quoted:
            continue
        if link.source == "html" and is_unsubscribe(link.text, link.context, link.url, ctx):
            yield Hit(f"{link.text[:60]} <{link.url[:100]}>", "remove the unsubscribe link")
    for part in msg.parts:
        if part.subtype == "plain":
            # The model already holds the URLs of this very text: no second search for one.
            linked = any(k.part == part.index and k.source == "text" and not k.quoted
                         for k in msg.links)  # fmt: skip
            found = _unsub_lines(part.new_text, ctx, linked)
            lines = part.new_text.splitlines() if found else []  # most texts have none
            for i in found:
                if find_urls(lines[i]):
                    yield Hit(lines[i].strip()[:120], "remove the unsubscribe link")


# ---------------------------------------------------------------- e-mail addresses
def _body_addresses(msg: Message) -> list[str]:
    found: list[str] = []
    for text in msg.new_texts:
        found += find_emails(text)
    found += [
        link.url.split(":", 1)[1].split("?")[0]
        for link in msg.links
        if not link.quoted and scheme_of(link.url) == "mailto"
    ]
    return list(dict.fromkeys(a for a in found if a))


def fix_email_address(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    addresses = _body_addresses(msg)
    pattern = re.compile(
        "|".join(re.escape(a) for a in sorted(addresses, key=len, reverse=True)), re.I
    )

    def text(body: str) -> str:
        lines = body.splitlines()
        end = quote_start(lines)
        return "\n".join(
            pattern.sub(EMAIL_PLACEHOLDER, ln)
            if i < end and not ln.lstrip().startswith(">")
            else ln
            for i, ln in enumerate(lines)
        )

    def html(root: lxml.html.HtmlElement) -> bool:
        changed = False
        for el in list(root.iter()):
            if not isinstance(el.tag, str) or in_quote(el):
                continue
            if el.tag == "a" and scheme_of(el.get("href") or "") == "mailto":
                el.attrib.pop("href")
                changed = True
            for attr in ("text", "tail"):
                value = getattr(el, attr)
                if value and pattern.search(value):
                    setattr(el, attr, pattern.sub(EMAIL_PLACEHOLDER, value))
                    changed = True
        return changed

    if addresses:
        editor.edit_text(text)
        editor.edit_html(html)


@rule(
    id="email_address",
    guideline=GUIDE_ELEMENTS + ": e-mail addresses",
    default=Action.STRIP,
    fix=fix_email_address,
    example="Please email us at parts@seller.example",
)
def email_address(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """An e-mail address in the sender's own text (quoted history is left alone)."""
    for addr in _body_addresses(msg):
        yield Hit(addr, f"remove the e-mail address {addr}; the buyer answers through Amazon")


# ---------------------------------------------------------------- insecure links
def _http_links(msg: Message) -> list[str]:
    return list(dict.fromkeys(link.url for link in msg.links if scheme_of(link.url) == "http"))


def fix_insecure_link(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    urls = set(_http_links(msg))

    def html(root: lxml.html.HtmlElement) -> bool:
        changed = False
        for a in list(root.iter("a", "area")):
            if scheme_of(a.get("href") or "") == "http":
                if scheme_of((a.text_content() or "").strip()) == "http":
                    a.text, a[:] = LINK_PLACEHOLDER, []
                if a.tag == "a":
                    unwrap(a)
                else:
                    remove(a)
                changed = True
        return changed

    def text(body: str) -> str:
        for url in sorted(urls, key=len, reverse=True):
            body = body.replace(url, LINK_PLACEHOLDER)
        return body

    editor.edit_html(html)
    editor.edit_text(text)


@rule(
    id="insecure_link",
    guideline=GUIDE_ELEMENTS + ": external links unless secure (https)",
    default=Action.STRIP,
    fix=fix_insecure_link,
    example='<a href="http://www.amazon.es/returns">returns</a>',
)
def insecure_link(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A plain http:// link (the text stays, the link goes)."""
    for url in _http_links(msg):
        yield Hit(url[:120], "use an https:// link (plain http links are not allowed)")
