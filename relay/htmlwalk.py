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


@dataclass(frozen=True)
class StyleFacts:
    """What one element's style attribute implies, the same for every element that has it."""

    decls: list[tuple[str, str]]
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
    decls = css_declarations(style)
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
        text = squeeze(text, _HTML_BLANKS) if text.strip(_HTML_BLANKS) else " "
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
                inner, opened, is_block = self._enter(el, context, len(stack) + 1, shallow_text)
                stack.append((context, inner[0], opened, is_block))
                context = inner
                if el.text and not inner[2]:
                    self.text(el.text, inner[0])
            elif event == "end":
                outer, quoted, opened, is_block = stack.pop()
                if opened >= 0:
                    self.links[opened].end = self.lengths[quoted]
                if is_block and not outer[2]:
                    self.block_edge(quoted)
                if el.tail and not outer[2]:
                    self.text(el.tail, quoted)
                context = outer
            elif el.tail and not context[2]:  # a comment or PI: only what follows it shows
                self.text(el.tail, context[0])

    def _enter(
        self, el: Any, context: Context, depth: int, shallow_text: Any
    ) -> tuple[Context, int, bool]:
        """Collect one element's facts: the context for its children, the link it opens
        (-1: none) and whether it is a block."""
        quoted, hidden, skip, link = context
        self.elements += 1
        if depth > self.depth:
            self.depth = depth
        tag = el.tag.lower()
        items = el.items()
        attrs: dict[str, str] = dict(items) if items else {}
        offset = self.lengths[False]
        decls: list[tuple[str, str]] = []
        if items:
            style = attrs.get("style", "")
            if style:
                facts = style_facts(tag, style)
                decls = facts.decls
                hidden = hidden or facts.hidden
                self.styles += facts.styles
                self.alignments += facts.alignments
                self.images += [ImageDraft(url, "css", offset) for url in facts.css_urls]
            hidden = hidden or "hidden" in attrs
            quoted = quoted or is_quote_container(tag, attrs)
            self._presentation(tag, attrs)
        elif tag == "blockquote":
            quoted = quoted or is_quote_container(tag, attrs)
        self._tag(el, tag, offset)
        if items and attrs.get("background"):
            self.images.append(ImageDraft(attrs["background"], "background", offset))
        hidden_input = tag == "input" and attrs.get("type", "").lower() == "hidden"
        if tag in ACTIVE_TAGS and not hidden_input:
            self.active.append(f"<{tag}>")
        if items:
            self._urls(tag, attrs, items, offset)
        opened = -1
        if tag == "a" and "href" in attrs:
            # The anchor's text is read off the rendered buffer when the walk leaves it: linear
            # even for 50,000 nested anchors, where text_content() per anchor is quadratic.
            self.links.append(
                LinkDraft(attrs["href"].strip(), quoted, hidden, offset, self.lengths[quoted],
                          context=shallow_text(el.getparent()))
            )  # fmt: skip
            link = opened = len(self.links) - 1
        if tag in ("img", "image") or (tag == "input" and attrs.get("type", "").lower() == "image"):
            self._image(tag, attrs, decls, offset, hidden, quoted, link)
        skip = skip or tag in SKIP_TEXT_TAGS
        is_block = tag in BLOCK_TAGS
        if not skip:
            if is_block:
                self.block_edge(quoted)
            elif tag == "br":
                self.newline(quoted)
        return (quoted, hidden, skip, link), opened, is_block

    def _presentation(self, tag: str, attrs: dict[str, str]) -> None:
        """Presentational attributes: align, <font face/color/size>."""
        align = attrs.get("align", "").lower()
        if align and align not in ("left", "start") and tag != "img":
            self.alignments.append(f'<{tag} align="{align}">')
        if tag == "font":
            for attr in ("face", "color", "size"):
                if attrs.get(attr):
                    self.styles.append(StyleDecl(f"font-{attr}", attrs[attr], "font-tag"))

    def _tag(self, el: Any, tag: str, offset: int) -> None:
        """What the tag itself says: centring, headings, the rules of a <style> block."""
        if tag == "center":
            self.alignments.append("<center>")
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.headings.append(tag)
        elif tag == "style":
            css = "".join(el.itertext())
            for prop, value in css_declarations(css):
                self.styles.append(StyleDecl(prop, value, "style-block"))
                if prop == "text-align" and value.lower() not in ("left", "start"):
                    self.alignments.append(f"<style> text-align:{value}")
            for _, url in CSS_URL.findall(css):
                self.images.append(ImageDraft(url, "css", offset))

    def _urls(self, tag: str, attrs: dict[str, str], items: Any, offset: int) -> None:
        """Event handlers, script URLs, meta refresh, remote stylesheets."""
        for attr, raw in items:
            name = attr.lower()
            if name.startswith("on"):
                self.active.append(f'<{tag} {attr}="{(raw or "")[:60]}">')
            elif name in URL_ATTRS and ":" in raw:
                value = raw.strip()
                low = _URL_NOISE.sub("", value).lower()
                if low.startswith(_ACTIVE_SCHEMES):
                    self.active.append(f'{low.split(":")[0]}: URL in <{tag} {attr}="{value[:60]}">')
        if tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh":
            content = attrs.get("content", "")[:60]
            self.active.append(f'<meta http-equiv="refresh" content="{content}">')
        if tag == "link" and attrs.get("href") and "stylesheet" in attrs.get("rel", "").lower():
            # A remote stylesheet is loaded when the mail is opened, like a pixel.
            self.images.append(ImageDraft(attrs["href"], "css", offset))

    def _image(self, tag: str, attrs: dict[str, str], decls: list[tuple[str, str]], offset: int,
               hidden: bool, quoted: bool, link: int) -> None:  # fmt: skip
        src = (attrs.get("src") or attrs.get("href") or attrs.get("xlink:href") or "").strip()
        enclosing = self.links[link] if link >= 0 else None
        self.images.append(
            ImageDraft(src, "img", offset, attrs.get("alt"),
                       parse_length(attrs.get("width")) or style_length(decls, "width"),
                       parse_length(attrs.get("height")) or style_length(decls, "height"),
                       hidden, quoted, enclosing.url if enclosing else None)
        )  # fmt: skip
        if enclosing:
            enclosing.images.append(src)
