"""One walk over a parsed HTML part: links, images, active content, styles, rendered text.

Rendering: block elements and <br> start new lines, HTML whitespace (source line breaks
included) is one space, script/style/head and the like show nothing. Everything inside a
quoted-history container (Gmail's gmail_quote, Outlook's divRplyFwdMsg, <blockquote
type=cite>…) is rendered into a second buffer; links and images remember where in the new
text they were met, so that relay.htmlscan can also mark those below an attribution line.

Written for speed (bench/README.md): lxml's iterwalk drives the walk from C over plain etree
elements (lxml.html's element classes cost a Python lookup per element), and what an
element's `style` attribute implies (declarations, hidden or not, alignment, CSS URLs) is
worked out once per distinct (tag, style) pair: helpdesk templates repeat the same inline
style on every paragraph and cell, within a message and across messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import lxml.etree

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
from relay.textscan import squeeze

_HTML_BLANKS = " \t\n\r\f"  # HTML's whitespace; other blanks (NBSP, \\v) are text
_URL_NOISE = re.compile(r"[\s\x00-\x1f]")
_ACTIVE_SCHEMES = ("javascript:", "vbscript:", "data:text/html", "livescript:")
_EVENTS = ("start", "end", "comment", "pi")
_MEMO_LIMIT = 4096  # distinct styles kept; mail with endless new styles just recomputes
Context = tuple[bool, bool, bool, int]  # quoted, hidden, skip text, index of the open link
# ElementFacts.flags, read by relay/_htmlwalk.c
FLAG_QUOTE, FLAG_HIDDEN, FLAG_SKIP, FLAG_BLOCK, FLAG_BR, FLAG_SPECIAL, FLAG_STYLES = (
    1,
    2,
    4,
    8,
    16,
    32,
    64,
)

try:  # the element loop in C; absent when built without a C compiler
    from relay import _htmlwalk

    # It reads libxml2 2's node structs (relay/_htmlwalk.c says which fields).
    HAS_C_WALK = lxml.etree.LIBXML_VERSION[0] == 2
except ImportError:  # pragma: no cover - Walk.run does the same in Python
    HAS_C_WALK = False


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


@dataclass
class LinkDraft:
    url: str
    quoted: bool
    hidden: bool
    offset: int  # position in the new-text rendering, for quote splitting
    start: int  # position in its own buffer where the anchor's text begins
    end: int = -1
    context: str = ""
    images: list[str] = field(default_factory=list)


@dataclass
class ImageDraft:
    src: str
    kind: str
    offset: int
    alt: str | None = None
    width: Length | None = None
    height: Length | None = None
    hidden: bool = False
    quoted: bool = False
    link: str | None = None


class Walk:
    """The state of one walk: two text buffers (new, quoted) and what was collected."""

    def __init__(self, part: int) -> None:
        self.part = part
        self.buffers: tuple[list[str], list[str]] = ([], [])  # indexed by "quoted"
        self.lengths = [0, 0]
        self.line_start = [True, True]
        self.links: list[LinkDraft] = []
        self.images: list[ImageDraft] = []
        self.active: list[str] = []
        self.styles: list[StyleDecl] = []
        self.alignments: list[str] = []
        self.headings: list[str] = []
        self.elements = 0
        self.depth = 0

    def text(self, text: str, quoted: bool) -> None:
        """Emit a text node: a run of HTML whitespace, line breaks included, is one space."""
        if text.isspace() and not text.strip(_HTML_BLANKS):  # isspace: no copy for text
            text = " "
        elif "\n" in text or "  " in text or "\t" in text or "\r" in text or "\f" in text:
            text = squeeze(text, _HTML_BLANKS)
        self.buffers[quoted].append(text)
        self.lengths[quoted] += len(text)
        if text != " ":  # the only blank a collapsed text can be
            self.line_start[quoted] = False

    def newline(self, quoted: bool) -> None:
        self.buffers[quoted].append("\n")
        self.lengths[quoted] += 1
        self.line_start[quoted] = True

    def block_edge(self, quoted: bool) -> None:
        """A block starts or ends: begin a new line unless one was just begun."""
        if not self.line_start[quoted]:
            self.newline(quoted)

    def run(self, root: Any, shallow_text: Any) -> None:
        """Walk the tree under `root`; `shallow_text(parent)` gives a link's context."""
        # Per open element: the enclosing context, its own quoted state, the link it opened
        # (-1: none) and whether it is a block.
        stack: list[tuple[Context, bool, int, bool]] = []
        context: Context = (False, False, False, -1)  # quoted, hidden, skip text, link
        for event, el in lxml.etree.iterwalk(root, events=_EVENTS):
            if event == "start":
                # The common element (a styled paragraph or cell) is handled here in full;
                # what few elements have (links, images, alignment, active content) in _enter.
                self.elements += 1
                if len(stack) >= self.depth:
                    self.depth = len(stack) + 1
                items = el.items()
                key = (el.tag, tuple(items))
                facts = _ELEMENTS.get(key) or _remember(key, el.tag, items)
                quoted, hidden, skip, link = context
                quoted = quoted or facts.quote
                hidden = hidden or facts.hidden
                if facts.styles:
                    self.styles += facts.styles
                opened = -1
                if facts.special:
                    lengths = self.lengths
                    opened, link = self._enter(el, facts, quoted, hidden, link, shallow_text,
                                               lengths[False], lengths[quoted])  # fmt: skip
                if facts.skip:
                    skip = True
                elif not skip:
                    if facts.block:
                        self.block_edge(quoted)
                    elif facts.tag == "br":
                        self.newline(quoted)
                stack.append((context, quoted, opened, facts.block))
                context = (quoted, hidden, skip, link)
                text = el.text
                if text and not skip:
                    self.text(text, quoted)
            elif event == "end":
                outer, quoted, opened, is_block = stack.pop()
                if opened >= 0:
                    self.links[opened].end = self.lengths[quoted]
                if not outer[2]:
                    if is_block:
                        self.block_edge(quoted)
                    tail = el.tail
                    if tail:
                        self.text(tail, quoted)
                context = outer
            elif el.tail and not context[2]:  # a comment or PI: only what follows it shows
                self.text(el.tail, context[0])

    def run_compiled(self, root: Any, shallow_text: Any) -> bool:
        """Walk as `run` does, with the element loop in C (relay/_htmlwalk.c); False, with
        nothing collected, when that module is missing or cannot read this tree."""
        if not HAS_C_WALK:
            return False
        nodes: list[Any] = []  # root.iter()'s elements, listed when the first special one comes

        def enter(index: int, facts: ElementFacts, quoted: bool, hidden: bool, link: int,
                  offset: int, own: int) -> tuple[int, int]:  # fmt: skip
            if not nodes:
                nodes.extend(root.iter())
            return self._enter(nodes[index], facts, quoted, hidden, link, shallow_text,
                               offset, own)  # fmt: skip

        # Element styles are appended in C, <style> blocks' by _enter: one list keeps the order.
        done = _htmlwalk.walk(root, _ELEMENTS, _RAW_ELEMENTS, _remember, enter, self.styles)
        if done is None:  # what was collected up to the unreadable node is dropped
            self.links, self.images, self.active, self.styles = [], [], [], []
            self.alignments, self.headings = [], []
            return False
        new, quoted, self.elements, self.depth, ends = done
        self.buffers = ([new], [quoted])
        self.lengths = [len(new), len(quoted)]
        for opened, end in ends:
            self.links[opened].end = end
        return True

    def _enter(self, el: Any, facts: ElementFacts, quoted: bool, hidden: bool, link: int,
               shallow_text: Any, offset: int, own: int) -> tuple[int, int]:  # fmt: skip
        """What only some elements have; returns (the link it opens or -1, the enclosing
        link for its children). `offset`: the length of the new-text rendering so far;
        `own`: that of the element's own buffer (new or quoted)."""
        # The order within each list is the order the facts are met in (tests hold it).
        if facts.alignments:
            self.alignments += facts.alignments
        if facts.css_urls:
            self.images += [ImageDraft(url, "css", offset) for url in facts.css_urls]
        if facts.heading:
            self.headings.append(facts.heading)
        elif facts.tag == "style":
            self._style_block("".join(el.itertext()), offset)
        if facts.late_images:
            self.images += [ImageDraft(url, kind, offset) for url, kind in facts.late_images]
        if facts.active:
            self.active += facts.active
        opened = -1
        if facts.href is not None:
            # The anchor's text is read off the rendered buffer when the walk leaves it: linear
            # even for 50,000 nested anchors, where text_content() per anchor is quadratic.
            self.links.append(
                LinkDraft(facts.href, quoted, hidden, offset, own,
                          context=shallow_text(el.getparent()))
            )  # fmt: skip
            link = opened = len(self.links) - 1
        if facts.image is not None:
            src, alt, width, height = facts.image
            enclosing = self.links[link] if link >= 0 else None
            self.images.append(
                ImageDraft(src, "img", offset, alt, width, height, hidden, quoted,
                           enclosing.url if enclosing else None)
            )  # fmt: skip
            if enclosing:
                enclosing.images.append(src)
        return opened, link

    def _style_block(self, css: str, offset: int) -> None:
        """The rules of a <style> block: declarations, alignment, CSS URLs."""
        for prop, value in css_declarations(css):
            self.styles.append(StyleDecl(prop, value, "style-block"))
            if prop == "text-align" and value.lower() not in ("left", "start"):
                self.alignments.append(f"<style> text-align:{value}")
        for _, url in CSS_URL.findall(css):
            self.images.append(ImageDraft(url, "css", offset))


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


def _remember(key: tuple[Any, tuple[tuple[str, str], ...]], tag: Any, items: Any) -> ElementFacts:
    facts = element_facts(tag.lower(), items)
    if len(_ELEMENTS) >= _MEMO_LIMIT:
        _ELEMENTS.clear()
    _ELEMENTS[key] = facts
    return facts


_ELEMENTS: dict[tuple[Any, tuple[tuple[str, str], ...]], ElementFacts] = {}
_RAW_ELEMENTS: dict[bytes, ElementFacts] = {}  # the C loop's: libxml2's bytes as the key


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
