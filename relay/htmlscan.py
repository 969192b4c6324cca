"""HTML scanning: one libxml2 parse per HTML part, one walk, every fact the rules need.

The walk (relay.htmlwalk) collects links, images (also CSS and attribute backgrounds),
active content, style declarations and alignment, and renders visible text; here that text
is split into the sender's new text and quoted history and the facts are frozen. lxml is
used rather than BeautifulSoup on this hot path: the same libxml2 parser, without bs4's
tree-building cost (see bench/README.md for the numbers). libxml2 stops at nesting depth
256 without `huge_tree` and at 2048 with it, dropping what lies below: a parse that logged
a fatal error is reported as `incomplete`, and the message becomes uninspectable instead of
hiding content.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import lxml.etree
import lxml.html

from relay.htmlfacts import HtmlScan, Image, Link
from relay.htmlwalk import Walk, element_count
from relay.textscan import break_run, normalize_space, quote_start, tidy

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
MAX_ELEMENTS = 20_000
_REPLACEMENT = "\ufffd".encode()  # what a NUL becomes: U+FFFD in UTF-8


def _parse(source: str, parser: Any, utf8: bytes | None = None) -> tuple[Any, str]:
    """`utf8`: `source` in UTF-8 when the caller has it (the part's own bytes)."""
    # libxml2 refuses input that declares an encoding, and NUL ends its input early.
    declaration = _XML_DECL.match(source)
    cleaned = source[declaration.end() :] if declaration else source
    if not cleaned or cleaned.isspace():
        return None, ""
    try:
        # As UTF-8 bytes (the parser is told so): a str that is not Latin-1 reaches libxml2
        # as UTF-16 and is converted there, slower than Python's encoder (50 vs 61 us on the
        # benchmark's HTML part, one en dash in it). The part's own bytes need no encoding
        # at all (16 us on that part). NUL is replaced in the bytes, where the search is a
        # memchr (7 us on that part as a str of two-byte characters).
        if utf8 is None or declaration:
            utf8 = cleaned.encode("utf-8", "replace")
        data = utf8.replace(b"\x00", _REPLACEMENT)
        root = lxml.etree.fromstring(data, parser)
        if root is None:
            raise lxml.etree.ParserError("Document is empty")
    except (lxml.etree.ParserError, ValueError) as exc:
        return None, f"HTML could not be parsed: {exc}"
    fatal = [e for e in parser.error_log if e.level_name == "FATAL"]
    if fatal:
        return root, f"HTML parser stopped early: {fatal[0].message}"
    # Mail HTML has hundreds of elements, large newsletters a few thousand; tens of thousands
    # (50,000 nested anchors) only make the walk slow enough to run out the time budget.
    elements = element_count(root)
    if elements > MAX_ELEMENTS:
        return None, f"HTML has {elements} elements, more than the relay checks ({MAX_ELEMENTS})"
    return root, ""


def parse_html(source: str) -> tuple[Any, str]:
    """Parse one HTML part into lxml.html elements (for the fixers, which edit the tree);
    returns the root and, when libxml2 gave up on part of it, why."""
    return _parse(source, lxml.html.HTMLParser(**_PARSER_OPTIONS))


# The scan reads the same tree as plain etree elements: lxml.html's element classes are
# looked up by a Python function for every element the walk touches.
_PARSER_OPTIONS: dict[str, Any] = {"huge_tree": True, "remove_comments": False,
                                   "default_doctype": False, "encoding": "utf-8"}  # fmt: skip
_ScanParser: Callable[..., Any] = lxml.etree.HTMLParser


def scan_html(
    source: str, part: int = 0, *, compiled: bool = True, utf8: bytes | None = None
) -> HtmlScan:
    """Scan one HTML part. Pure: the input string in, frozen facts out. `compiled`: walk
    with the C element loop where it was built (the same facts, ~3x faster). `utf8`: the
    source's UTF-8, when the caller has it, for libxml2 to read without encoding again."""
    root, incomplete = _parse(source, _ScanParser(**_PARSER_OPTIONS), utf8)
    if root is None:
        return HtmlScan(incomplete=incomplete)
    walk = Walk(part)
    if not (compiled and walk.run_compiled(root, shallow_text)):
        walk.run(root, shallow_text)
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


def _finish(walk: Walk, incomplete: str) -> HtmlScan:
    rendered = "".join(walk.buffers[False])
    quoted_rendered = "".join(walk.buffers[True])
    lines = rendered.split("\n")
    start_line = quote_start(lines)
    head = rendered if start_line == len(lines) else "\n".join(lines[:start_line])
    quote_offset = len(head) + 1 if start_line else 0  # where line start_line begins
    if start_line < len(lines):  # what sits before the separator's first letter is not quoted
        quote_offset += len(lines[start_line]) - len(lines[start_line].lstrip()) + 1
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
        # The joining line break makes one break the least there is.
        max_breaks=break_run(rendered + "\n" + quoted_rendered),
        new_text=tidy(head),
        quoted_text=tidy("\n".join(lines[start_line:]) + "\n" + quoted_rendered),
        elements=walk.elements,
        depth=walk.depth,
        incomplete=incomplete,
        heading_tags=tuple(walk.headings),
    )
