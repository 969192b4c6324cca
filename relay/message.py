"""Parse once into a frozen model: the only view of a message that rules ever see.

`parse_message(raw, envelope, limits)` never raises for bad mail. It checks the raw structure
first (relay.limits), parses with the email package (relay.mimefast: compat32 for plain MIME,
policy.default for the rest), decodes headers, walks the MIME tree iteratively, scans every
HTML part once (relay.htmlscan) and splits new text from quoted history (relay.textscan).
Whatever stops full inspection (a limit, a parser crash, HTML libxml2 could not finish) is
recorded in `Message.problem`; defects the email package noticed are recorded in
`Message.defects`. No I/O, no logging, no asyncio here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message as MimePart
from functools import cached_property
from typing import Any

from relay.htmlfacts import HtmlScan, Image, Link
from relay.htmlscan import scan_html
from relay.limits import Limits, Structure, scan_structure
from relay.mimefast import (
    decode_header,
    decoded_payload,
    header_values,
    parse_addresses,
    parse_tree,
    plain_charset,
    unfold,
)
from relay.textscan import find_order_ids, find_urls, split_quoted

REPLY_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)*(?:re|aw|antw|antwort|r|rv|réf|ref|sv|vs|wg|fw|fwd|tr)\s*(?:\[\d+\])?\s*:",
    re.I,
)
BODY_TYPES = ("text/plain", "text/html")
_UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


@dataclass(frozen=True)
class Envelope:
    mail_from: str  # "" for the null sender <>
    rcpt_tos: tuple[str, ...]
    mail_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Address:
    name: str
    addr: str

    @property
    def domain(self) -> str:
        return self.addr.rpartition("@")[2].lower()


@dataclass(frozen=True)
class TextPart:
    index: int
    subtype: str  # "plain" or "html"
    charset: str
    new_text: str
    quoted_text: str


@dataclass(frozen=True)
class Attachment:
    index: int
    filename: str
    content_type: str
    disposition: str  # "attachment", "inline" or ""
    size: int  # decoded bytes
    content_id: str = ""
    magic: bytes = b""  # the first bytes of the decoded content, for type sniffing
    gif_frames: int | None = None


@dataclass(frozen=True)
class Message:
    """A parsed message: headers decoded, bodies split, links and images collected."""

    envelope: Envelope
    size: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    subject: str = ""
    from_: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    message_id: str = ""
    in_reply_to: str = ""
    references: str = ""
    parts: tuple[TextPart, ...] = ()
    html: tuple[HtmlScan, ...] = ()
    links: tuple[Link, ...] = ()
    images: tuple[Image, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    defects: tuple[str, ...] = ()
    structure: Structure | None = None
    problem: str = ""  # why the message cannot be fully inspected; "" when it can
    eight_bit_headers: bool = field(default=False)
    # Filled in once by relay.policy.analysis (text analysis needs the lexicon from the policy).
    analysis: Any = field(default=None, compare=False, repr=False)

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for n, v in self.headers if n.lower() == low), None)

    def header_all(self, name: str) -> tuple[str, ...]:
        low = name.lower()
        return tuple(v for n, v in self.headers if n.lower() == low)

    @cached_property
    def is_reply(self) -> bool:
        """A reply to a buyer (In-Reply-To, References or a reply prefix on the subject)."""
        return bool(self.in_reply_to or self.references or REPLY_PREFIX.match(self.subject))

    @cached_property
    def new_texts(self) -> tuple[str, ...]:
        """The sender's own text of each body part, quoted history removed."""
        return tuple(p.new_text for p in self.parts)

    @cached_property
    def new_text(self) -> str:
        """The main body's own text: the plain part if there is one, else the HTML's."""
        plain = [p.new_text for p in self.parts if p.subtype == "plain"]
        return (plain or [p.new_text for p in self.parts] or [""])[0]

    @cached_property
    def quoted_text(self) -> str:
        return "\n".join(p.quoted_text for p in self.parts if p.quoted_text)

    @cached_property
    def order_ids(self) -> tuple[str, ...]:
        """17-digit order ids in the subject and the sender's own text."""
        return tuple(find_order_ids("\n".join((self.subject, *self.new_texts))))


ADDRESS_FIELDS = ("From", "To", "Cc", "Bcc")


def _addresses(msg: MimePart) -> dict[str, tuple[Address, ...]]:
    """The mailboxes of each address field (lower-case name), its headers found in one pass."""
    raws: dict[str, list[str]] = {name.lower(): [] for name in ADDRESS_FIELDS}
    for name, raw in msg.raw_items():
        values = raws.get(name.lower())
        if values is not None:
            values.append(raw)
    return {
        name.lower(): tuple(
            Address(display, addr)
            for raw in raws[name.lower()]
            for display, addr in parse_addresses(name, raw)
        )
        for name in ADDRESS_FIELDS
    }


def _headers(msg: MimePart, defects: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for name, raw in msg.raw_items():
        try:
            value = decode_header(name, raw)
        except Exception as exc:  # noqa: BLE001 -- the stdlib raises many kinds on bad headers
            defects.append(f"{name}: header could not be decoded ({type(exc).__name__})")
            value = unfold(raw).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        out.append((name, value))
    return tuple(out)


def _text_of(
    part: MimePart, ctype: str, charset: str, defects: list[str], want_bytes: bool = False
) -> tuple[str, bytes | None]:
    """The part's text; with `want_bytes`, also its bytes when they are exactly that text in
    UTF-8 (the HTML parser reads those as they are instead of the text encoded again)."""
    data = decoded_payload(part) or b""
    try:
        text = data.decode(charset, "replace")
    except (LookupError, UnicodeError, ValueError) as exc:
        # An unknown or unusable charset (x-unknown, idna...): read it as UTF-8 and say so.
        defects.append(f"part {ctype}: {type(exc).__name__}: {exc}")
        charset = "utf-8"
        text = data.decode("utf-8", "replace")
    # Without a replacement character every byte was decoded, and these codecs map UTF-8
    # (ASCII is part of it) one to one: the text's UTF-8 is the bytes themselves.
    exact = want_bytes and charset in _UTF8_CHARSETS and "\ufffd" not in text
    return text, data if exact else None


def _walk(msg: MimePart) -> list[tuple[int, MimePart]]:
    """Leaf parts in document order, without recursion (attached messages are leaves)."""
    leaves: list[tuple[int, MimePart]] = []
    stack: list[MimePart] = [msg]
    while stack:
        part = stack.pop()
        if part.is_multipart() and not part.get_content_type().startswith("message/"):
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend(reversed(children))  # type: ignore[arg-type]
            continue
        leaves.append((len(leaves), part))
    return leaves


def _attachment(index: int, part: MimePart, defects: list[str]) -> Attachment:
    ctype = part.get_content_type()
    try:
        filename = part.get_filename() or ""
    except (ValueError, TypeError, IndexError):
        filename = ""
    data = b""
    if not part.is_multipart():
        data = decoded_payload(part) or b""
    if ctype.startswith("message/") and not filename:
        filename = "attached-message.eml"
    for d in part.defects:
        defects.append(f"attachment {filename or ctype}: {type(d).__name__}")
    return Attachment(
        index=index,
        filename=filename,
        content_type=ctype,
        disposition=(part.get_content_disposition() or ""),
        size=len(data),
        content_id=unfold(next(iter(header_values(part, "Content-ID")), "")).strip().strip("<>"),
        magic=data[:16],
        gif_frames=count_gif_frames(data) if data[:4] == b"GIF8" else None,
    )


def count_gif_frames(data: bytes, limit: int = 2) -> int:
    """Frames in a GIF, counted from its blocks (stops at `limit`: >1 is all rules need)."""
    from relay.gif import gif_frames

    return gif_frames(data, limit)


# A buyer reply is a few thousand characters; megabytes of text are not a reply a person
# wrote, and checking them would outlast the time budget anyway.
MAX_TEXT_CHARS = 1_000_000


def parse_message(
    raw: bytes, envelope: Envelope, limits: Limits | None = None, *, exact: bool = False
) -> Message:
    """Parse `raw` into a Message; never raises for bad mail (see Message.problem).

    `exact=True` reads every message with policy.default (relay.mimefast explains why the
    default is cheaper; both give the same model)."""
    limits = limits or Limits()
    structure = scan_structure(raw, limits)
    if structure.problem:
        return Message(envelope, size=len(raw), structure=structure, problem=structure.problem)
    try:
        tree, plain = parse_tree(raw, exact=exact)
        return _model(tree, raw, envelope, structure, plain)
    except RecursionError:
        problem = "MIME structure too deep for the parser"
    except MemoryError:
        problem = "message needs more memory to parse than the relay allows"
    except Exception as exc:  # noqa: BLE001 -- any parser crash means: not inspected
        problem = f"parser failed: {type(exc).__name__}: {str(exc)[:120]}"
    return Message(envelope, size=len(raw), structure=structure, problem=problem)


def _model(
    msg: MimePart, raw: bytes, envelope: Envelope, structure: Structure, plain: bool = False
) -> Message:
    """The model of a parsed tree; `plain`: relay.mimefast.is_plain_mime holds for it."""
    defects: list[str] = [f"{type(d).__name__}" for d in msg.defects]
    headers = _headers(msg, defects)
    parts: list[TextPart] = []
    scans: list[HtmlScan] = []
    links: list[Link] = []
    images: list[Image] = []
    attachments: list[Attachment] = []
    problem = ""
    for index, part in _walk(msg):
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        if ctype in BODY_TYPES and disposition != "attachment":
            for d in part.defects:
                defects.append(f"{ctype} part: {type(d).__name__}")
            # Each parameter lookup parses the header again: read the charset once.
            declared = (
                plain_charset(part, "us-ascii") if plain else part.get_content_charset("us-ascii")
            )
            html = ctype == "text/html"
            text, utf8 = _text_of(part, ctype, declared, defects, want_bytes=html)
            charset = declared or "us-ascii"
            if html:
                scan = scan_html(text, index, utf8=utf8)
                scans.append(scan)
                problem = problem or scan.incomplete
                parts.append(TextPart(index, "html", charset, scan.new_text, scan.quoted_text))
                links += scan.links
                images += scan.images
            else:
                split = split_quoted(text)
                parts.append(TextPart(index, "plain", charset, split.new, split.quoted))
                links += [
                    Link(u, u, False, source="text", part=index) for u in find_urls(split.new)
                ]
                links += [
                    Link(u, u, True, source="text", part=index) for u in find_urls(split.quoted)
                ]
        else:
            attachments.append(_attachment(index, part, defects))
    # The header block ends at the first blank line (found, not split: no copy of the body).
    end = raw.find(b"\r\n\r\n")
    header_block = raw[: end if end >= 0 else len(raw)]
    end = header_block.find(b"\n\n")
    if end >= 0:
        header_block = header_block[:end]
    addresses = _addresses(msg)
    text_chars = sum(len(p.new_text) + len(p.quoted_text) for p in parts)
    if text_chars > MAX_TEXT_CHARS and not problem:
        problem = f"{text_chars} characters of text, more than the relay checks ({MAX_TEXT_CHARS})"
    return Message(
        envelope=envelope,
        size=len(raw),
        headers=headers,
        subject=next((v for n, v in headers if n.lower() == "subject"), ""),
        from_=addresses["from"],
        to=addresses["to"],
        cc=addresses["cc"],
        bcc=addresses["bcc"],
        message_id=next((v.strip() for n, v in headers if n.lower() == "message-id"), ""),
        in_reply_to=next((v.strip() for n, v in headers if n.lower() == "in-reply-to"), ""),
        references=next((v.strip() for n, v in headers if n.lower() == "references"), ""),
        parts=tuple(parts),
        html=tuple(scans),
        links=tuple(links),
        images=tuple(images),
        attachments=tuple(attachments),
        defects=tuple(dict.fromkeys(defects)),
        structure=structure,
        problem=problem,
        eight_bit_headers=not header_block.isascii(),
    )
