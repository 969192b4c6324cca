"""Rewriting a message for the strip rules, changing as few bytes as possible.

Header edits (dropping List-Unsubscribe, cleaning the Subject) work on the raw header block:
every other header line and the whole body stay byte for byte as received. Body edits parse
the message with the email package, rewrite the affected text/plain or text/html parts (HTML
through lxml) and regenerate the body; the top-level header block is still the received one,
apart from its Content-* lines when the top-level part itself was rewritten.

Pure: bytes in, bytes out. Fixers run inside the inspection worker, under its time budget,
because regenerating crafted mail can hang the email package (gh-138223).
"""

from __future__ import annotations

import email.parser
import email.policy
import functools
import re
from collections.abc import Callable
from email.headerregistry import BaseHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any

import lxml.etree
import lxml.html

from relay.htmlfacts import QUOTE_CLASSES
from relay.htmlscan import parse_html
from relay.mimesplit import split_mime

SMTP_POLICY = email.policy.default.clone(linesep="\r\n", max_line_length=78)


@functools.lru_cache(maxsize=1024)
def _shared_header(name: str, value: str) -> BaseHeader:
    return email.policy.default.header_factory(name, value)  # type: ignore[no-any-return]


class _ParsedOnce(EmailPolicy):
    """policy.default, but a header read again is the header object made the first time.

    policy.default builds a header object from the stored string at every read: the
    generator and the parameter look-ups read each part's Content-Type a dozen times, at
    40-90 us a parse on the benchmark machine. Header objects are never changed in place
    (setting a header stores a new one), so one per (name, value) can be shared. Values
    past a line's 998 characters are parsed each time: the memo stays under a megabyte."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        value = value.replace("\r", "").replace("\n", "")  # what policy.default does first
        if len(value) > 998:
            return _shared_header.__wrapped__(name, value)  # the same factory, not kept
        return _shared_header(name, value)


EDIT_POLICY = _ParsedOnce()

_HEADER_START = re.compile(rb"^([!-9;-~]+)[ \t]*:")
_META_CHARSET = re.compile(r"charset\s*=", re.I)

HtmlEdit = Callable[[lxml.html.HtmlElement], bool]
TextEdit = Callable[[str], str]


def split_raw(raw: bytes) -> tuple[list[bytes], bytes, bytes]:
    """(header fields with their folded lines, the blank separator line, the body)."""
    m = re.search(rb"\r?\n(\r?\n)", raw)
    if m is None:
        head, sep, body = raw, b"", b""
    else:
        head, sep, body = raw[: m.start(1)], m.group(1), raw[m.end() :]
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    if fields and not fields[-1].endswith(b"\n"):
        fields[-1] += b"\r\n"
    return fields, sep, body


def field_name(line: bytes) -> str:
    m = _HEADER_START.match(line)
    return m.group(1).decode("ascii").lower() if m else ""


def in_quote(el: lxml.html.HtmlElement) -> bool:
    """Whether the element sits inside a quoted-history container."""
    for anc in el.iterancestors():
        names = f" {anc.get('class', '')} {anc.get('id', '')} "
        if anc.tag == "blockquote" and (anc.get("type", "").lower() == "cite" or "quote" in names):
            return True
        if any(c in names for c in QUOTE_CLASSES):
            return True
    return False


def unwrap(el: lxml.html.HtmlElement) -> None:
    """Replace an element by its children and text (lxml's drop_tag)."""
    el.drop_tag()


def remove(el: lxml.html.HtmlElement) -> None:
    """Remove an element and its content, keeping the text that follows it."""
    el.drop_tree()


class Editor:
    """Collects the fixers' edits and produces the rewritten message."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._msg: EmailMessage | None = None
        self._drop: set[str] = set()
        self._replace: dict[str, str] = {}
        self.body_changed = False
        self.changes: list[str] = []
        # Each HTML part is parsed once, every fixer edits that tree, and it is written back
        # once (at result()); each body-part lookup parses Content-Type headers again.
        self._parts: dict[str, list[EmailMessage]] = {}
        self._trees: dict[int, tuple[EmailMessage, Any]] = {}
        self._edited: set[int] = set()

    # ------------------------------------------------------------ headers
    def drop_headers(self, names: set[str] | frozenset[str]) -> None:
        self._drop |= {n.lower() for n in names}

    def replace_header(self, name: str, value: str) -> None:
        """Replace every occurrence of `name` by one field with `value` (RFC 2047 as needed)."""
        header = SMTP_POLICY.header_factory(name, value)
        self._replace[name.lower()] = header.fold(policy=SMTP_POLICY)

    # ------------------------------------------------------------ bodies
    @property
    def message(self) -> EmailMessage:
        if self._msg is None:
            # The feed parser's tree under EDIT_POLICY (policy.default, each header parsed
            # once), built by string search when it can be.
            parsed = split_mime(self.raw, EDIT_POLICY)
            if parsed is None:
                parsed = email.parser.BytesParser(policy=EDIT_POLICY).parsebytes(self.raw)
            assert isinstance(parsed, EmailMessage)
            self._msg = parsed
        return self._msg

    def _body_parts(self, subtype: str) -> list[EmailMessage]:
        known = self._parts.get(subtype)
        if known is not None:
            return known
        found, stack = [], [self.message]
        while stack:
            part = stack.pop()
            ctype = part.get_content_type()
            if part.is_multipart() and not ctype.startswith("message/"):
                stack.extend(reversed(part.get_payload()))  # type: ignore[arg-type]
            elif ctype == f"text/{subtype}" and part.get_content_disposition() != "attachment":
                found.append(part)
        self._parts[subtype] = found
        return found

    def edit_text(self, edit: TextEdit) -> None:
        """Apply `edit` to every text/plain body part; rewrite the parts it changed."""
        for part in self._body_parts("plain"):
            before = _content(part)
            after = edit(before)
            if after != before:
                _set_text(part, after, "plain", part is self.message)
                self.body_changed = True

    def edit_html(self, edit: HtmlEdit) -> None:
        """Apply `edit` to the parsed tree of every text/html body part."""
        for part in self._body_parts("html"):
            known = self._trees.get(id(part))
            if known is None:
                root, problem = parse_html(_content(part))
                if root is None or problem:
                    raise ValueError(f"HTML part cannot be rewritten: {problem or 'empty'}")
                self._trees[id(part)] = known = (part, root)
            if edit(known[1]):
                self._edited.add(id(part))
                self.body_changed = True

    def _write_trees(self) -> None:
        """Put every edited HTML tree back into its part, re-encoded as UTF-8."""
        for key in sorted(self._edited):
            part, root = self._trees[key]
            for meta in root.iter("meta"):
                if _META_CHARSET.search(meta.get("content", "")) or meta.get("charset"):
                    meta.drop_tree()  # the part is re-encoded as UTF-8 below
            html = lxml.html.tostring(root, encoding="unicode", method="html")
            doctype = root.getroottree().docinfo.doctype
            text = (doctype + "\n" if doctype else "") + html
            _set_text(part, text, "html", part is self.message)
        self._edited.clear()

    def remove_parts(self, keep: Callable[[EmailMessage], bool]) -> int:
        """Remove leaf parts for which `keep` is false; returns how many went."""
        removed = 0
        stack: list[Any] = [self.message]
        while stack:
            part = stack.pop()
            if not part.is_multipart() or part.get_content_type().startswith("message/"):
                continue
            children = part.get_payload()
            kept = [c for c in children if c.is_multipart() or keep(c)]
            removed += len(children) - len(kept)
            part.set_payload(kept)
            stack.extend(kept)
        if removed:
            self._parts.clear()  # the tree changed: look the body parts up again
        self.body_changed = self.body_changed or removed > 0
        return removed

    # ------------------------------------------------------------ result
    def result(self) -> bytes:
        self._write_trees()
        fields, sep, body = split_raw(self.raw)
        if self.body_changed:
            generated = self.message.as_bytes(policy=SMTP_POLICY)
            gen_fields, gen_sep, body = split_raw(generated)
            sep = gen_sep or b"\r\n"
            content = [f for f in gen_fields if field_name(f).startswith("content-")]
            fields = [f for f in fields if not field_name(f).startswith("content-")] + content
        out: list[bytes] = []
        replaced: set[str] = set()
        for f in fields:
            name = field_name(f)
            if name in self._drop:
                continue
            if name in self._replace:
                if name not in replaced:
                    out.append(self._replace[name].encode("utf-8"))
                    replaced.add(name)
                continue
            out.append(f)
        for name, folded in self._replace.items():
            if name not in replaced:
                out.append(folded.encode("utf-8"))
        return b"".join(out) + (sep or b"\r\n") + body


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError):
        pass
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _set_text(part: EmailMessage, text: str, subtype: str, top: bool) -> None:
    disposition = part.get("Content-Disposition")
    content_id = part.get("Content-ID")
    part.set_content(text, subtype=subtype, charset="utf-8", cte="quoted-printable")
    if not top:
        del part["MIME-Version"]  # set_content adds one; it belongs on the message only
    if disposition is not None:
        part["Content-Disposition"] = str(disposition)
    if content_id is not None:
        part["Content-ID"] = str(content_id)
