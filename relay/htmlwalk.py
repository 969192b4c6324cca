"""One walk over a parsed HTML part: links, images, active content, styles, rendered text.

Rendering: block elements and <br> start new lines, HTML whitespace (source line breaks
included) is one space, script/style/head and the like show nothing. Everything inside a
quoted-history container (Gmail's gmail_quote, Outlook's divRplyFwdMsg, <blockquote
type=cite>…) is rendered into a second buffer; links and images remember where in the new
text they were met, so that relay.htmlscan can also mark those below an attribution line.

Written for speed (bench/README.md): what an element's tag and attributes imply (its style's
declarations, hidden or not, alignment, CSS URLs) is worked out once per distinct pair, since
helpdesk templates repeat the same inline style on every paragraph and cell, within a message
and across messages. The element loop itself runs in C where relay/_htmlwalk.c was built
(`Walk.run_compiled`), and otherwise in `Walk.run`, where lxml's iterwalk drives it from C over
plain etree elements (lxml.html's element classes cost a Python lookup per element). Both
loops give the same facts; the tests run both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lxml.etree

from relay.htmlelements import ELEMENTS, RAW_ELEMENTS, ElementFacts, remember
from relay.htmlfacts import CSS_URL, Length, StyleDecl, css_declarations
from relay.textscan import squeeze

_HTML_BLANKS = " \t\n\r\f"  # HTML's whitespace; other blanks (NBSP, \\v) are text
_EVENTS = ("start", "end", "comment", "pi")
Context = tuple[bool, bool, bool, int]  # quoted, hidden, skip text, index of the open link

try:  # the element loop in C; absent when built without a C compiler
    from relay import _htmlwalk

    # It reads libxml2 2's node structs (relay/_htmlwalk.c says which fields).
    HAS_C_WALK = lxml.etree.LIBXML_VERSION[0] == 2
except ImportError:  # pragma: no cover - Walk.run does the same in Python
    HAS_C_WALK = False


def element_count(root: Any) -> int:
    """len(list(root.iter())), read from libxml2's nodes where the C loop was built (8 us
    of lxml proxies on the 18 KB benchmark reply, 68 elements)."""
    if HAS_C_WALK:
        counted = _htmlwalk.count(root)
        if counted >= 0:
            return counted
    return sum(1 for _ in root.iter())


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
                facts = ELEMENTS.get(key) or remember(key, el.tag, items)
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
        done = _htmlwalk.walk(root, ELEMENTS, RAW_ELEMENTS, remember, enter, self.styles)
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
