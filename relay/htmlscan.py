"""HTML scanning: one lxml parse per HTML part, one walk, every fact the rules need.

The walk collects links, images (also CSS and attribute backgrounds), active content, style
declarations and alignment, renders visible text (block elements and <br> become line breaks)
and splits it into the sender's new text and quoted history. lxml.html is used rather than
BeautifulSoup on this hot path: the same libxml2 parser, without bs4's tree-building cost
(see bench/README.md for the numbers). libxml2 stops at nesting depth 256 without
`huge_tree` and at 2048 with it, dropping what lies below: a parse that logged a fatal error
is reported as `incomplete`, and the message becomes uninspectable instead of hiding content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import lxml.etree
import lxml.html

from relay.textscan import normalize_space, quote_start

BLOCK_TAGS = frozenset(
    (
        "address article aside blockquote center dd details dialog div dl dt fieldset figcaption "
        "figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table "
        "tbody thead tfoot tr ul caption"
    ).split()
)
SKIP_TEXT_TAGS = frozenset(["script", "style", "head", "title", "template", "noscript", "xml"])
ACTIVE_TAGS = frozenset(
    (
        "script iframe frame frameset object embed applet form input button select textarea portal "
        "base"
    ).split()
)
QUOTE_CLASSES = (
    "gmail_quote", "yahoo_quoted", "freshdesk_quote", "protonmail_quote", "zd-quoted",
    "moz-cite-prefix", "OutlookMessageHeader", "divRplyFwdMsg", "ms-outlook-quote",
)  # fmt: skip
_URL_ATTRS = ("href", "src", "action", "formaction", "background", "poster", "data", "xlink:href")
_URL_ATTR_SET = frozenset(_URL_ATTRS)
_URL_NOISE = re.compile(r"[\s\x00-\x1f]")
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.I | re.S)
_LINE_BLANKS = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CSS_DECL = re.compile(r"([a-zA-Z-]+)\s*:\s*([^;{}]+)")
_HIDDEN = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$)"
    r"|(?:max-)?(?:height|width)\s*:\s*0(?:px)?\s*(?:;|$)|font-size\s*:\s*0",
    re.I,
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_WS = re.compile(r"[ \t\n\r\f]+")
_LENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(px|%)?\s*$", re.I)


@dataclass(frozen=True)
class Length:
    value: float
    unit: str  # "px" or "%"


@dataclass(frozen=True)
class Link:
    url: str
    text: str
    quoted: bool
    hidden: bool = False
    source: str = "html"  # "html" (an <a>) or "text" (written out in a text part)
    images: tuple[str, ...] = ()  # src of images inside the link
    part: int = 0
    context: str = ""  # text of the enclosing block, when short (for "to unsubscribe, <a>…")


@dataclass(frozen=True)
class Image:
    src: str
    alt: str | None
    width: Length | None
    height: Length | None
    hidden: bool
    quoted: bool
    link: str | None  # href of the enclosing link
    kind: str = "img"  # img, background, css
    part: int = 0


@dataclass(frozen=True)
class StyleDecl:
    prop: str
    value: str
    where: str  # the element's tag, "style-block", or "font-tag" for <font> attributes


@dataclass(frozen=True)
class HtmlScan:
    links: tuple[Link, ...] = ()
    images: tuple[Image, ...] = ()
    active: tuple[str, ...] = ()
    styles: tuple[StyleDecl, ...] = ()
    alignments: tuple[str, ...] = ()
    max_breaks: int = 0
    new_text: str = ""
    quoted_text: str = ""
    elements: int = 0
    depth: int = 0
    incomplete: str = ""  # why the parse cannot be trusted to have seen everything
    heading_tags: tuple[str, ...] = field(default=())


def parse_length(value: str | None) -> Length | None:
    if not value:
        return None
    m = _LENGTH.match(value)
    return Length(float(m.group(1)), (m.group(2) or "px").lower()) if m else None


def css_declarations(css: str) -> list[tuple[str, str]]:
    if "/*" in css:
        css = _CSS_COMMENT.sub("", css)
    return [(p.strip().lower(), v.strip()) for p, v in _CSS_DECL.findall(css)]


def _classes(el: Any) -> str:
    return f" {el.get('class', '')} {el.get('id', '')} "


def _is_quote_container(el: Any) -> bool:
    if el.tag != "blockquote" and not el.get("class") and not el.get("id"):
        return False  # most elements: no class or id to look at
    if el.tag == "blockquote" and (el.get("type", "").lower() == "cite" or "quote" in _classes(el)):
        return True
    names = _classes(el)
    return any(f" {c} " in names or c in names for c in QUOTE_CLASSES)


def _style_length(decls: list[tuple[str, str]], prop: str) -> Length | None:
    for p, v in reversed(decls):
        if p == prop:
            return parse_length(v.replace("!important", ""))
    return None


MAX_ELEMENTS = 20_000


def parse_html(source: str) -> tuple[Any, str]:
    """Parse one HTML part; returns the root and, when libxml2 gave up on part of it, why."""
    parser = lxml.html.HTMLParser(huge_tree=True, remove_comments=False, default_doctype=False)  # type: ignore[call-arg]
    # libxml2 refuses str input that declares an encoding, and NUL ends its input early.
    cleaned = _XML_DECL.sub("", source.replace("\x00", "\ufffd"), count=1)
    if not cleaned.strip():
        return None, ""
    try:
        root = lxml.html.document_fromstring(cleaned, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        return None, f"HTML could not be parsed: {exc}"
    fatal = [e for e in parser.error_log if e.level_name == "FATAL"]
    if fatal:
        return root, f"HTML parser stopped early: {fatal[0].message}"
    # Mail HTML has hundreds of elements, large newsletters a few thousand; tens of thousands
    # (50,000 nested anchors) only make the walk slow enough to run out the time budget.
    elements = sum(1 for _ in root.iter())
    if elements > MAX_ELEMENTS:
        return None, f"HTML has {elements} elements, more than the relay checks ({MAX_ELEMENTS})"
    return root, ""


@dataclass
class _LinkDraft:
    url: str
    quoted: bool
    hidden: bool
    offset: int  # position in the new-text rendering, for quote splitting
    start: int  # position in its own buffer where the anchor's text begins
    end: int = -1
    context: str = ""
    images: list[str] = field(default_factory=list)


@dataclass
class _ImageDraft:
    src: str
    kind: str
    offset: int
    alt: str | None = None
    width: Length | None = None
    height: Length | None = None
    hidden: bool = False
    quoted: bool = False
    link: str | None = None


@dataclass
class _Frame:
    """One element to enter (or, with `closing`, to leave) during the walk."""

    el: Any
    quoted: bool
    hidden: bool
    skip: bool  # inside script/style/head: no visible text
    link: int  # index of the enclosing link, -1 for none
    depth: int
    closing: bool = False
    is_block: bool = False
    opened: int = -1  # the link this element opened


class _Walk:
    """State of one walk over a parsed document: two text buffers and the drafts."""

    def __init__(self, part: int) -> None:
        self.part = part
        self.buffers: dict[bool, list[str]] = {False: [], True: []}  # keyed by "quoted"
        self.lengths = {False: 0, True: 0}
        self.line_start = {False: True, True: True}
        self.links: list[_LinkDraft] = []
        self.images: list[_ImageDraft] = []
        self.active: list[str] = []
        self.styles: list[StyleDecl] = []
        self.alignments: list[str] = []
        self.headings: list[str] = []
        self.elements = 0
        self.depth = 0

    def emit(self, text: str, quoted: bool) -> None:
        self.buffers[quoted].append(text)
        self.lengths[quoted] += len(text)
        stripped = text.rstrip(" \t")
        if stripped:
            self.line_start[quoted] = stripped.endswith("\n")

    def text(self, text: str, quoted: bool) -> None:
        """Emit a text node: HTML whitespace, source line breaks included, is one space."""
        self.emit(_WS.sub(" ", text), quoted)

    def block_edge(self, quoted: bool) -> None:
        """A block starts or ends: begin a new line unless one was just begun."""
        if not self.line_start[quoted]:
            self.emit("\n", quoted)


def _check_urls(el: Any, tag: str, walk: _Walk) -> None:
    for attr, raw in el.attrib.items():  # one pass over the attributes the element has
        name = attr.lower()
        if name.startswith("on"):
            walk.active.append(f'<{tag} {attr}="{(raw or "")[:60]}">')
        elif name in _URL_ATTR_SET and ":" in raw:
            value = raw.strip()
            low = _URL_NOISE.sub("", value).lower()
            if low.startswith(("javascript:", "vbscript:", "data:text/html", "livescript:")):
                walk.active.append(f'{low.split(":")[0]}: URL in <{tag} {attr}="{value[:60]}">')
    if tag == "meta" and (el.get("http-equiv") or "").lower() == "refresh":
        walk.active.append(f'<meta http-equiv="refresh" content="{el.get("content", "")[:60]}">')
    if tag == "link" and el.get("href") and "stylesheet" in (el.get("rel") or "").lower():
        # A remote stylesheet is loaded when the mail is opened, like a pixel.
        walk.images.append(_ImageDraft(el.get("href", ""), "css", walk.lengths[False]))


def _styles(el: Any, tag: str, decls: list[tuple[str, str]], walk: _Walk, attrs: bool) -> None:
    offset = walk.lengths[False]
    for prop, value in decls:
        walk.styles.append(StyleDecl(prop, value, tag))
        if prop == "text-align" and value.lower().split()[0] not in ("left", "start", "inherit"):
            walk.alignments.append(f'<{tag} style="text-align:{value}">')
        if "(" in value:
            for _, url in _CSS_URL.findall(value):
                walk.images.append(_ImageDraft(url, "css", offset))
    align = (el.get("align") or "").lower() if attrs else ""
    if align and align not in ("left", "start") and tag != "img":
        walk.alignments.append(f'<{tag} align="{align}">')
    if tag == "center":
        walk.alignments.append("<center>")
    if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
        walk.headings.append(tag)
    if tag == "font" and attrs:
        for attr in ("face", "color", "size"):
            if el.get(attr):
                walk.styles.append(StyleDecl(f"font-{attr}", el.get(attr, ""), "font-tag"))
    if tag == "style":
        css = el.text_content()
        for prop, value in css_declarations(css):
            walk.styles.append(StyleDecl(prop, value, "style-block"))
            if prop == "text-align" and value.lower() not in ("left", "start"):
                walk.alignments.append(f"<style> text-align:{value}")
        for _, url in _CSS_URL.findall(css):
            walk.images.append(_ImageDraft(url, "css", offset))
    if attrs and el.get("background"):
        walk.images.append(_ImageDraft(el.get("background", ""), "background", offset))


def _enter(frame: _Frame, walk: _Walk, stack: list[_Frame]) -> None:
    el = frame.el
    walk.elements += 1
    walk.depth = max(walk.depth, frame.depth)
    tag = el.tag.lower()
    # Many elements (<br>, bare <p>, <b>) have no attributes: skip every attribute lookup.
    attrs = len(el.attrib) > 0
    style = (el.get("style") or "") if attrs else ""
    decls = css_declarations(style) if style else []
    hidden = frame.hidden or (
        attrs and (bool(_HIDDEN.search(style)) or el.get("hidden") is not None)
    )
    quoted = frame.quoted or ((attrs or tag == "blockquote") and _is_quote_container(el))
    _styles(el, tag, decls, walk, attrs)
    if tag in ACTIVE_TAGS and not (tag == "input" and el.get("type", "").lower() == "hidden"):
        walk.active.append(f"<{tag}>")
    if attrs:
        _check_urls(el, tag, walk)
    link, opened = frame.link, -1
    if tag == "a" and el.get("href") is not None:
        # The anchor's text is read off the rendered buffer when the walk leaves it: linear
        # even for 50,000 nested anchors, where text_content() per anchor is quadratic.
        walk.links.append(
            _LinkDraft(el.get("href", "").strip(), quoted, hidden, walk.lengths[False],
                       walk.lengths[quoted], context=shallow_text(el.getparent()))
        )  # fmt: skip
        link = opened = len(walk.links) - 1
    if tag in ("img", "image") or (tag == "input" and el.get("type", "").lower() == "image"):
        src = (el.get("src") or el.get("href") or el.get("xlink:href") or "").strip()
        width = parse_length(el.get("width")) or _style_length(decls, "width")
        height = parse_length(el.get("height")) or _style_length(decls, "height")
        enclosing = walk.links[link] if link >= 0 else None
        walk.images.append(
            _ImageDraft(src, "img", walk.lengths[False], el.get("alt"), width, height, hidden,
                        quoted, enclosing.url if enclosing else None)
        )  # fmt: skip
        if enclosing:
            enclosing.images.append(src)
    skip = frame.skip or tag in SKIP_TEXT_TAGS
    is_block = tag in BLOCK_TAGS
    if is_block and not skip:
        walk.block_edge(quoted)
    if tag == "br" and not skip:
        walk.emit("\n", quoted)
    stack.append(_Frame(el, quoted, hidden, frame.skip, link, frame.depth, True, is_block, opened))
    for child in reversed(el):
        stack.append(_Frame(child, quoted, hidden, skip, link, frame.depth + 1))
    if el.text and not skip:
        walk.text(el.text, quoted)


def scan_html(source: str, part: int = 0) -> HtmlScan:
    """Scan one HTML part. Pure: the input string in, frozen facts out."""
    root, incomplete = parse_html(source)
    if root is None:
        return HtmlScan(incomplete=incomplete)
    walk = _Walk(part)
    stack = [_Frame(root, False, False, False, -1, 1)]
    while stack:
        frame = stack.pop()
        el = frame.el
        if frame.closing:
            if frame.opened >= 0:
                walk.links[frame.opened].end = walk.lengths[frame.quoted]
            if frame.is_block and not frame.skip:
                walk.block_edge(frame.quoted)
        elif isinstance(el.tag, str):
            _enter(frame, walk, stack)
            continue
        # After an element (or a comment or processing instruction): the text that follows.
        if el.tail and not frame.skip:
            walk.text(el.tail, frame.quoted)
    return _finish(walk, incomplete)


def shallow_text(el: Any) -> str:
    """The element's own text and its children's text and tails, one level deep, short."""
    if el is None:
        return ""
    pieces = [el.text or ""]
    for child in el[:50]:
        pieces += [child.text or "", child.tail or ""]
    text = normalize_space(" ".join(pieces))
    return text if len(text) <= 300 else ""


def _finish(walk: _Walk, incomplete: str) -> HtmlScan:
    rendered = "".join(walk.buffers[False])
    quoted_rendered = "".join(walk.buffers[True])
    lines = rendered.split("\n")
    start_line = quote_start(lines)
    quote_offset = sum(len(ln) + 1 for ln in lines[:start_line])
    if start_line < len(lines):  # what sits before the separator's first letter is not quoted
        quote_offset += len(lines[start_line]) - len(lines[start_line].lstrip()) + 1
    runs = re.findall(r"\n(?:[ \t\u00a0]*\n)*", rendered + "\n" + quoted_rendered)
    links = tuple(
        Link(
            url=d.url,
            text=normalize_space(
                (quoted_rendered if d.quoted else rendered)[d.start : min(d.end, d.start + 300)]
            ),
            quoted=d.quoted or d.offset >= quote_offset,
            hidden=d.hidden,
            images=tuple(d.images),
            part=walk.part,
            context=d.context,
        )
        for d in walk.links
    )
    images = tuple(
        Image(
            src=d.src.strip(),
            alt=d.alt,
            width=d.width,
            height=d.height,
            hidden=d.hidden,
            quoted=d.quoted or d.offset >= quote_offset,
            link=d.link,
            kind=d.kind,
            part=walk.part,
        )
        for d in walk.images
    )
    return HtmlScan(
        links=links,
        images=images,
        active=tuple(dict.fromkeys(walk.active)),
        styles=tuple(walk.styles),
        alignments=tuple(dict.fromkeys(walk.alignments)),
        max_breaks=max((run.count("\n") for run in runs), default=0),
        new_text=_tidy("\n".join(lines[:start_line])),
        quoted_text=_tidy("\n".join(lines[start_line:]) + "\n" + quoted_rendered),
        elements=walk.elements,
        depth=walk.depth,
        incomplete=incomplete,
        heading_tags=tuple(walk.headings),
    )


def _tidy(text: str) -> str:
    """Collapse runs of spaces per line (HTML whitespace), keep line structure."""
    lines = [_LINE_BLANKS.sub(" ", ln).strip() for ln in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
