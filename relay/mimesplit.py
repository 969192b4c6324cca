"""Well-formed MIME split by string search into the email package's own compat32 tree.

The email package's feed parser reads a message line by line, each line tried against the
header pattern and every enclosing boundary: ~0.5 ms for the 18 KB benchmark reply, ~30 ms
for a 2 MB attachment. Most mail a helpdesk sends is simple: CRLF line ends, header lines
of the plain form, multiparts with one boundary each and a closing delimiter. For such a
message `split_mime` finds the header blocks and boundary lines with str.find and builds
the very tree the feed parser builds: `email.message.Message` objects (compat32) with the
same raw header values, payload strings, default types, preambles and epilogues, so every
method the model builder calls (content type, charset, filename, decoded payload with its
defects) is the email package's own.

Anything else returns None and the feed parser reads the message: a bare CR or LF, a header
line the feed parser would treat as body (or a defect), a first-line continuation, a Unix
From line, message/* and multipart/digest parts, a multipart without boundary, with a
transfer encoding other than 7bit/8bit/binary, without a closing delimiter, with two
delimiters in a row or with a delimiter of an enclosing multipart inside it.
tests/unit/test_mime_split.py compares both trees on every test message and on generated
ones.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from email.message import Message
from email.policy import Policy, compat32

from relay.textscan import crlf_only

CRLF = "\r\n"
# The feed parser's header line: a field name (printable ASCII but ":") and a colon.
_FIELD = re.compile(r"[\041-\071\073-\176]+:")
# A header block of such lines and their continuations only: one match checks it, one split
# cuts it into fields (the line loop below costs ~1 us a field).
_PLAIN_FIELDS = re.compile(r"(?:[\041-\071\073-\176]+:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*)+")
_FIELD_BREAK = re.compile(r"\r\n(?![ \t])")
_MULTIPART_CTE = ("7bit", "8bit", "binary")

# The parameter grammar both email policies read alike (relay.mimefast): RFC 2045 tokens
# without * and ' (RFC 2231 syntax), quoted strings without escapes or line breaks.
TOKEN = r"[!#$%&+.^_`|~0-9A-Za-z-]+"
PARAM = rf"""\s*;\s*([A-Za-z0-9._-]+)=({TOKEN}|"[^"\\\r\n]*")"""  # name, value
PLAIN_CONTENT_TYPE = re.compile(rf"\s*{TOKEN}/{TOKEN}(?:{PARAM})*\s*;?\s*")
PARAMETER = re.compile(PARAM)


def plain_parameter(value: str, name: str) -> str | None:
    """The first parameter `name` (lower case) of a header value that follows the plain
    grammar, its quotes taken off; None when it has none."""
    for m in PARAMETER.finditer(value):  # the grammar matched: parameter after parameter
        if m.group(1).lower() == name:
            found = m.group(2)
            return found[1:-1] if found.startswith('"') else found
    return None


class _Irregular(Exception):
    """The message is not of the simple form: the feed parser reads it."""


def split_mime(raw: bytes, policy: Policy = compat32) -> Message | None:
    """The tree the feed parser builds of `raw` under `policy` (compat32 for the model,
    policy.default for the fixers) when `raw` is well-formed and simple, else None. Every
    decision on the tree's shape is taken by the same Message methods the feed parser asks."""
    if b"\n" not in raw or not crlf_only(raw):
        return None
    # The feed parser reads the bytes as ASCII with surrogate escapes: one character per
    # byte, so offsets in `text` are offsets in `raw`.
    text = raw.decode("ascii", "surrogateescape")
    if text.startswith("From "):
        return None
    factory: Callable[..., Message] = policy.message_factory or Message
    try:
        msg = _part(text, 0, len(text), (), _Build(factory, policy))
    except (_Irregular, RecursionError):  # nesting past the stack: the feed parser's problem
        return None
    return msg


class _Build:
    """How a part's Message is made: the policy's message class, with that policy."""

    def __init__(self, factory: Callable[..., Message], policy: Policy) -> None:
        self.factory, self.policy = factory, policy

    def message(self) -> Message:
        return self.factory(policy=self.policy)


def _headers(text: str, start: int, stop: int, build: _Build) -> tuple[Message, int]:
    """The part's Message with its header fields, and where its body starts."""
    msg = build.message()
    if text.startswith(CRLF, start):  # no header fields: the body follows the empty line
        return msg, start + 2
    end = text.find(CRLF + CRLF, start, stop)
    if end < 0:
        raise _Irregular("no empty line after the header fields")
    if _PLAIN_FIELDS.fullmatch(text, start, end + 2):
        for whole in _FIELD_BREAK.split(text[start:end]):
            name, value = whole.split(":", 1)
            msg.set_raw(name, value.lstrip(" \t"))  # what _field makes of the field's lines
        return msg, end + 4
    lines = text[start : end + 2].split(CRLF)[:-1]
    field: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not field:
                raise _Irregular("first header line is a continuation")
            field.append(line + CRLF)
            continue
        if line.startswith("From ") or not _FIELD.match(line):
            raise _Irregular("not a header line of the plain form")
        if field:
            msg.set_raw(*_field(field))
        field = [line + CRLF]
    if field:
        msg.set_raw(*_field(field))
    return msg, end + 4


def _field(lines: list[str]) -> tuple[str, str]:
    """compat32's header_source_parse: name, then the value with its folding kept."""
    name, value = lines[0].split(":", 1)
    value = value.lstrip(" \t") + "".join(lines[1:])
    return name, value.rstrip("\r\n")


def _part(
    text: str, start: int, stop: int, enclosing: tuple[str, ...], build: _Build,
    inner: bool = False,
) -> Message:  # fmt: skip
    """The part in text[start:stop]; `inner`: a part of a multipart, whose payload loses the
    line break before the next delimiter (RFC 2046: it belongs to the delimiter)."""
    msg, body = _headers(text, start, stop, build)
    maintype = msg.get_content_maintype()
    if maintype == "message":
        raise _Irregular("an attached message")
    if maintype != "multipart":
        end = stop - 2 if inner and stop - body >= 2 and text.startswith(CRLF, stop - 2) else stop
        msg.set_payload(text[body:end])
        return msg
    if msg.get_content_type() == "multipart/digest":
        raise _Irregular("a digest (its parts default to message/rfc822)")
    boundary = _boundary(msg)
    if not boundary or str(msg.get("content-transfer-encoding", "8bit")).lower() not in (
        _MULTIPART_CTE
    ):
        raise _Irregular("a multipart without a boundary or with a transfer encoding")
    _multipart(msg, text, body, stop, "--" + boundary, enclosing, build)
    return msg


def _boundary(msg: Message) -> str | None:
    """msg.get_boundary(), by one pattern where the Content-Type is a compat32 string of the
    plain grammar (the email package's parameter parser takes ~20 us a multipart)."""
    value = msg.get("content-type")
    if not (isinstance(value, str) and value.isascii() and PLAIN_CONTENT_TYPE.fullmatch(value)):
        return msg.get_boundary()
    found = plain_parameter(value, "boundary")
    if found is None:
        return None
    # get_boundary unquotes once more (collapse_rfc2231_value): <...> loses its brackets.
    if len(found) > 1 and found.startswith("<") and found.endswith(">"):
        found = found[1:-1]
    return found.rstrip()


def _delimiters(text: str, body: int, stop: int, separator: str) -> list[tuple[int, int, bool]]:
    """(line start, line end, closing) of every delimiter line up to the closing one."""
    found: list[tuple[int, int, bool]] = []
    at = body if text.startswith(separator, body) else text.find(CRLF + separator, body, stop)
    while 0 <= at < stop:
        line = at if at == body and text.startswith(separator, body) else at + 2
        end = text.find(CRLF, line, stop)
        end = stop if end < 0 else end + 2
        # The feed parser's delimiter pattern: the separator, "--" when closing, blanks.
        tail = text[line + len(separator) : end]
        closing = tail.startswith("--")
        if (tail[2:] if closing else tail).rstrip("\r\n").strip(" \t") == "":
            found.append((line, end, closing))
            if closing:
                return found
        at = text.find(CRLF + separator, end - 2, stop)
    raise _Irregular("no closing delimiter")


def _multipart(
    msg: Message, text: str, body: int, stop: int, separator: str, enclosing: tuple[str, ...],
    build: _Build,
) -> None:  # fmt: skip
    for outer in enclosing:  # the feed parser would end this multipart at that line
        if text.startswith(outer, body) or text.find(CRLF + outer, body, stop) >= 0:
            raise _Irregular("a delimiter of an enclosing multipart inside")
    delimiters = _delimiters(text, body, stop, separator)
    if delimiters[0][2]:
        raise _Irregular("a closing delimiter before any part")
    first = delimiters[0][0]
    if first > body:  # the newline before the first delimiter belongs to it
        msg.preamble = text[body : first - 2]
    within = (*enclosing, separator)
    for (_, part_start, _), (next_line, _, _) in itertools.pairwise(delimiters):
        if part_start == next_line:
            raise _Irregular("two delimiters in a row")
        child = _part(text, part_start, next_line, within, build, inner=True)
        if child.is_multipart():  # its epilogue loses the line break instead
            epilogue = child.epilogue
            if epilogue == "":
                child.epilogue = None
            elif epilogue is not None and epilogue.endswith(CRLF):
                child.epilogue = epilogue[:-2]
        msg.attach(child)
    msg.epilogue = text[delimiters[-1][1] : stop]  # all after the closing delimiter line
