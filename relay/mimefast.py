"""The cheap way through the email package for plain MIME, and the exact way for the rest.

The email package's `policy.default` builds a header object (a small parse tree) every time
a header is read: on the 18 KB benchmark reply that is ~110 header parses and 3-4 ms of a
policy check whose rules need a handful of values. `policy.compat32` parses the same MIME tree
with the same feedparser four times faster and hands back header strings (for simple
well-formed mail relay.mimesplit builds that compat32 tree by string search, faster again).
Where the two can disagree is the grammar of parameters (comments, RFC 2231 continuations,
encoded words in file names, duplicate parameters): a message whose Content-* headers all
follow the plain grammar (defined in relay.mimesplit) is read from the compat32 tree; any other
message is parsed again with `policy.default` and read from that. Both trees go through the
same model builder, and tests/unit/test_mime_paths.py checks that both ways give equal models.

Header values are decoded the same way on both paths: unfolded, RFC 2047 encoded words
decoded as unstructured text. Addresses of plain forms (`a@b`, `Name <a@b>`) are read with a
regular expression; every other form goes to `policy.default`'s address parser.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from email.headerregistry import HeaderRegistry
from email.message import Message

from relay.mimesplit import PARAM, PARAMETER, PLAIN_CONTENT_TYPE, TOKEN, plain_parameter, split_mime

try:
    from relay import _linemarks

    HAS_C_QP = True
except ImportError:  # built without a C compiler: the email package decodes
    HAS_C_QP = False

_PLAIN_HEADERS = {
    "content-type": PLAIN_CONTENT_TYPE,
    "content-disposition": re.compile(rf"\s*{TOKEN}(?:{PARAM})*\s*;?\s*"),
    "content-transfer-encoding": re.compile(
        r"(?i)\s*(?:7bit|8bit|binary|base64|quoted-printable)\s*"
    ),
}

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
# An address alone, or a display name of atoms and the address in angle brackets. Neither
# form's characters include "<" but the second form's bracket: the item says which to try.
_PLAIN_ADDR_SPEC = re.compile(rf"\s*({_DOT_ATOM}@{_DOT_ATOM})\s*")
_PLAIN_NAME_ADDR = re.compile(rf"\s*((?:{_ATOM} )*{_ATOM}) <({_DOT_ATOM}@{_DOT_ATOM})>\s*")
_LOOSE_ADDRESS = re.compile(r"[^\s<>,;\"]+@[^\s<>,;\"]+")
_UNSTRUCTURED = HeaderRegistry(use_default_map=False)

# The parsers keep no state between messages; one of each is enough.
_FAST_PARSER = email.parser.BytesParser(policy=email.policy.compat32)
_EXACT_PARSER = email.parser.BytesParser(policy=email.policy.default)


def parse_tree(raw: bytes, *, exact: bool = False) -> tuple[Message, bool]:
    """The MIME tree of `raw` and whether the cheap (compat32) way read it.

    `exact=True` always takes policy.default (the tests compare both ways on one message)."""
    if not exact:
        # The feed parser's tree, built by string search where the message is simple.
        tree = split_mime(raw) or _FAST_PARSER.parsebytes(raw)
        if is_plain_mime(tree):
            return tree, True
    return _EXACT_PARSER.parsebytes(raw), False


def is_plain_mime(tree: Message) -> bool:
    """Every Content-* header of every part follows the grammar both policies agree on."""
    for part in tree.walk():
        seen: set[str] = set()
        for name, value in part.raw_items():
            low = name.lower()
            grammar = _PLAIN_HEADERS.get(low)
            if grammar is None:
                continue
            if low in seen or not value.isascii() or "=?" in value:
                return False
            seen.add(low)
            if grammar.fullmatch(value) is None:
                return False
            names = [name.lower() for name, _ in PARAMETER.findall(value)]
            if len(names) != len(set(names)):
                return False
    return True


def plain_charset(part: Message, failobj: str) -> str:
    """part.get_content_charset(failobj) for a part of a tree `is_plain_mime` accepted: its
    one Content-Type follows the plain grammar, so its parameters are read by one pattern
    instead of the email package's parameter parser (~5 us a part)."""
    value = part.get("content-type")
    if not isinstance(value, str):
        return failobj
    charset = plain_parameter(value, "charset")
    return failobj if charset is None else charset.lower()


def decoded_payload(part: Message, compiled: bool = True) -> bytes | None:
    """part.get_payload(decode=True), with a quoted-printable payload decoded in one memchr
    pass (relay/_linemarks.c) where built instead of binascii.a2b_qp's loop over every byte
    (~25 us of the 18 KB reply's ~1.2 ms).

    The payload is read where the email package keeps it: get_payload() without decoding
    would decode 8-bit text to str. Its bytes are the ones get_payload(decode=True) makes
    (ASCII, with surrogate escapes for the 8-bit bytes); anything else goes the stdlib way."""
    payload = getattr(part, "_payload", None)
    cte = part.get("content-transfer-encoding", "")
    if (
        compiled
        and HAS_C_QP
        and isinstance(payload, str)
        and isinstance(cte, str)
        and cte.lower() == "quoted-printable"
    ):
        try:
            return _linemarks.qp_decode(payload.encode("ascii", "surrogateescape"))
        except UnicodeEncodeError:
            pass  # characters the feed parser never gives: the stdlib's own fallback
    decoded = part.get_payload(decode=True)
    return decoded if isinstance(decoded, bytes) else None


def unfold(value: str) -> str:
    """A raw header value on one line (what policy.default does before parsing)."""
    return value.replace("\r", "").replace("\n", "")


def decode_header(name: str, raw: str) -> str:
    """The text of a header value: unfolded, encoded words decoded, 8-bit bytes as UTF-8."""
    value = unfold(raw)
    if "=?" in value:
        value = str(_UNSTRUCTURED(name, value))
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def header_values(part: Message, name: str) -> list[str]:
    """Every raw value of header `name` (case-insensitive), in order."""
    low = name.lower()
    return [value for n, value in part.raw_items() if n.lower() == low]


def parse_addresses(name: str, raw: str) -> list[tuple[str, str]]:
    """(display name, address) of every mailbox in one raw address header."""
    value = unfold(raw)
    plain = [
        (_PLAIN_NAME_ADDR if "<" in item else _PLAIN_ADDR_SPEC).fullmatch(item)
        for item in value.split(",")
    ]
    if all(plain):
        return [
            ("", m.group(1)) if m.lastindex == 1 else (m.group(1), m.group(2))
            for m in plain
            if m is not None
        ]
    try:
        header = email.policy.default.header_factory(name, value)
        return [(a.display_name, a.addr_spec) for a in header.addresses]
    except (AttributeError, IndexError, TypeError, ValueError):
        # policy.default gives up on some broken lists: fall back to a plain scan.
        return [("", a) for a in _LOOSE_ADDRESS.findall(value)]
