"""The string-search MIME split builds the feed parser's own tree, or stands aside.

For every message it accepts, relay.mimesplit must give the tree that the email package's
compat32 feed parser gives: the same header fields (raw values, folding kept), payload
strings, default types, defects, preambles and epilogues, part by part. Checked on every
message of the suite (legitimate replies, the malformed corpus, the benchmark messages,
the public corpus) and on generated multiparts with nested boundaries, delimiter look-alikes,
blanks after delimiters, preambles and epilogues; the common cases must be accepted.
"""

from __future__ import annotations

import email.parser
import email.policy
import sys
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from data.legit import LEGIT, message
from data.malformed import cases
from hypothesis import example, given, settings
from hypothesis import strategies as st

from relay.mimesplit import _boundary, split_mime

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from messages import MESSAGES

FEED = email.parser.BytesParser(policy=email.policy.compat32)
FEED_DEFAULT = email.parser.BytesParser(policy=email.policy.default)
CORPUS = sorted((Path(__file__).parents[3] / "shared" / "eval" / "corpus").glob("*.eml"))


def shape(msg: Message) -> Any:
    """Everything of a compat32 tree that a reader of it can see."""
    payload = msg._payload  # the stored payload (get_payload would decode 8-bit text)
    body = [shape(p) for p in payload] if isinstance(payload, list) else payload
    return (list(msg.raw_items()), msg.get_default_type(), [type(d).__name__ for d in msg.defects],
            msg.preamble, msg.epilogue, msg.get_unixfrom(), body)  # fmt: skip


def same_or_declined(raw: bytes) -> bool | None:
    """True: accepted and equal; None: declined; a failed assertion: accepted and different.
    Both policies, each on its own: compat32 (the model's tree) and policy.default (the
    fixers' tree); they may disagree on odd parameters (then one of them declines)."""
    fast_default = split_mime(raw, email.policy.default)
    if fast_default is not None:
        expected = FEED_DEFAULT.parsebytes(raw)
        assert (shape(expected), type(expected)) == (shape(fast_default), type(fast_default))
    fast = split_mime(raw)
    if fast is None:
        return None
    assert shape(FEED.parsebytes(raw)) == shape(fast)
    return True


SUITE = (
    [message(c) for c in LEGIT]  # type: ignore[arg-type]
    + [raw for _, raw in cases()]
    + [make(i) for make in MESSAGES.values() for i in range(3)]
    + [p.read_bytes() for p in CORPUS]
)


def test_every_suite_message_splits_to_the_feed_parsers_tree() -> None:
    """Accepted messages equal the feed parser's tree; every legitimate reply and benchmark
    message is accepted (they are what a helpdesk sends)."""
    outcomes = [same_or_declined(raw) for raw in SUITE]
    legit_and_bench = outcomes[: len(LEGIT)] + outcomes[len(LEGIT) + len(cases()) :][:12]
    assert all(o is True for o in legit_and_bench)
    assert outcomes.count(True) > len(SUITE) // 2


BOUNDARIES = ["B", "==_x1", "----=_Part_0_1.2", "b'(+_,-./:=?", "B2", "BB"]
LINE = st.sampled_from(["Hallo", "", ".", "--", "--B", "--Bx", "--B--x", "--B-- ", "--B ",
                        "--==_x1", " folded", "\tx", "=C3=BC", "From here", "--BB--",
                        "--B2", "x--B"])  # fmt: skip


@st.composite
def parts(draw: st.DrawFn, depth: int = 0) -> str:
    """A part: header fields, then a leaf body or (up to two levels) a nested multipart."""
    if depth < 2 and draw(st.booleans()):
        boundary = draw(st.sampled_from(BOUNDARIES))
        quoted = draw(st.booleans())
        head = f"Content-Type: multipart/{draw(st.sampled_from(['mixed', 'alternative']))};"
        head += f"\r\n boundary={chr(34) + boundary + chr(34) if quoted else boundary}"
        children = draw(st.lists(parts(depth + 1), min_size=0, max_size=3))
        preamble = draw(st.sampled_from(["", "This is a multi-part message.\r\n", "\r\n"]))
        close = draw(st.sampled_from(["--", "-- ", "--\t", "", "--x"]))
        epilogue = draw(st.sampled_from(["", "\r\n", "tail\r\n", "\r\n\r\nend"]))
        body = preamble + "".join(f"--{boundary}\r\n{c}\r\n" for c in children)
        return f"{head}\r\n\r\n{body}--{boundary}{close}\r\n{epilogue}"
    head = draw(st.sampled_from(["Content-Type: text/plain; charset=utf-8",
                                 "Content-Type: text/html\r\nContent-Transfer-Encoding: base64",
                                 "Content-Type: message/rfc822", "X-A: 1\r\n  2", ""]))  # fmt: skip
    lines = draw(st.lists(LINE, max_size=5))
    return (head + "\r\n" if head else "") + "\r\n" + "\r\n".join(lines)


@settings(max_examples=1500, deadline=None)
@given(parts(), st.sampled_from(["", "\r\n", "\n", "\r"]))
def test_generated_multiparts_split_to_the_feed_parsers_tree(part: str, tail: str) -> None:
    """Any accepted generated message equals the feed parser's tree."""
    raw = ("From: a@b.example\r\nSubject: x\r\n" + part + tail).encode("utf-8")
    same_or_declined(raw)


HEADER_LINE = st.sampled_from(["Subject: a", "X-Y:b", "X-Y:", "X-Y:  ", "A:\t x ", " folded",
                               "\tx", "  ", " ", "B: c: d", "From: a@b", "Q:=?utf-8?q?x?="])  # fmt: skip


@settings(max_examples=800, deadline=None)
@given(st.lists(HEADER_LINE, min_size=1, max_size=8))
def test_generated_header_blocks_split_to_the_feed_parsers_fields(lines: list[str]) -> None:
    """Header fields of one line or folded over several, empty or blank values, blanks after
    the colon, a continuation first: the fields (names and raw values) the feed parser
    reads, or declined."""
    raw = ("\r\n".join(lines) + "\r\n\r\nbody\r\n").encode("utf-8")
    same_or_declined(raw)


@pytest.mark.parametrize(
    "raw",
    [b"Subject: a\nb\n\nc\n", b"From x@y Mon\r\nSubject: a\r\n\r\nb", b"Subject: a\r\n",
     b" cont\r\nSubject: a\r\n\r\nb", b"Subject a\r\n\r\nb",
     b"Content-Type: multipart/mixed\r\n\r\n--B\r\n\r\nx\r\n--B--\r\n",
     b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\nx\r\n",
     b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n--B\r\n\r\nx\r\n--B--\r\n",
     b"Content-Type: multipart/digest; boundary=B\r\n\r\n--B\r\n\r\nx\r\n--B--\r\n"],
)  # fmt: skip
def test_irregular_messages_are_left_to_the_feed_parser(raw: bytes) -> None:
    """Bare LF, a Unix From line, no empty line, a continuation first, a non-header line, a
    multipart without boundary or closing delimiter, two delimiters in a row, a digest."""
    assert split_mime(raw) is None


boundary_value = st.one_of(
    st.text("abcXYZ019!#$%&+.^_`|~-", min_size=1, max_size=8),
    st.text("abc XYZ019;=/-_.:()<>@,'?+", max_size=10).map('"{}"'.format),
)
other_param = st.builds(
    "{}={}".format, st.sampled_from(["charset", "Boundary", "BOUNDARY", "xboundary", "type"]),
    boundary_value,
)  # fmt: skip
around = st.sampled_from([" ", "", "\r\n ", "\t", "  "])


@settings(max_examples=600, deadline=None)
@given(
    st.lists(st.tuples(around, st.one_of(other_param, boundary_value.map("boundary={}".format)),
                       around), max_size=4),
    st.sampled_from(["", ";", "; ", " (comment)", "; boundary*=utf-8''x"]),
)  # fmt: skip
@example([(" ", 'boundary="<B>"', "")], "")  # get_boundary takes the brackets off
@example([(" ", 'boundary="B  "', "")], "")  # and the blanks at the end
def test_boundary_reads_what_the_email_package_reads(
    params: list[tuple[str, str, str]], end: str
) -> None:
    """A multipart's boundary, read by one pattern for the plain grammar (quoted or not,
    repeated, angle brackets, trailing blanks inside the quotes), is get_boundary()'s;
    anything else is read by get_boundary() itself."""
    value = "multipart/mixed" + "".join(f"{a};{b}{p}" for a, p, b in params) + end
    msg = Message()
    msg.set_raw("Content-Type", value)
    assert msg.get_boundary() == _boundary(msg)


def test_boundary_of_a_policy_default_header_is_get_boundarys() -> None:
    """Under policy.default the header is an object, not a string: get_boundary() reads it."""
    raw = b'Content-Type: multipart/mixed; boundary="<B> "\r\n\r\n--<B>\r\n\r\nx\r\n--<B>--\r\n'
    msg = FEED_DEFAULT.parsebytes(raw)
    assert ("<B>", "<B>") == (msg.get_boundary(), _boundary(msg))
