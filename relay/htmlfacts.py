"""What the HTML scan reports, as frozen facts, and the small parsers that the scan and the
rules share (lengths, CSS declarations). Pure: HTML itself is parsed in relay.htmlscan.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

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
URL_ATTRS = frozenset(
    ("href", "src", "action", "formaction", "background", "poster", "data", "xlink:href")
)
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.I | re.S)
HIDDEN = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$)"
    r"|(?:max-)?(?:height|width)\s*:\s*0(?:px)?\s*(?:;|$)|font-size\s*:\s*0",
    re.I,
)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CSS_DECL = re.compile(r"([a-zA-Z-]+)\s*:\s*([^;{}]+)")
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

    @cached_property
    def distinct_styles(self) -> tuple[StyleDecl, ...]:
        """Each declaration once, in order: a template repeats the same inline style on
        every element, and rules that only ask which declarations occur need each once.
        The walk gives every element with one style the same objects: those are merged by
        identity first, which costs no call to the dataclass's hash."""
        shared = {id(d): d for d in self.styles}
        return tuple(dict.fromkeys(shared.values()))


def parse_length(value: str | None) -> Length | None:
    if not value:
        return None
    m = _LENGTH.match(value)
    return Length(float(m.group(1)), (m.group(2) or "px").lower()) if m else None


def css_declarations(css: str) -> list[tuple[str, str]]:
    if "/*" in css:
        css = _CSS_COMMENT.sub("", css)
    return [(p.strip().lower(), v.strip()) for p, v in _CSS_DECL.findall(css)]


def style_length(decls: Sequence[tuple[str, str]], prop: str) -> Length | None:
    """The last declaration of `prop` as a length (an inline width or height)."""
    for p, v in reversed(decls):
        if p == prop:
            return parse_length(v.replace("!important", ""))
    return None


def is_aligned(value: str) -> bool:
    """A text-align value that is not the default (left, start, inherit)."""
    words = value.lower().split()
    return bool(words) and words[0] not in ("left", "start", "inherit")
