"""The cheap (compat32) and the exact (policy.default) way through the email package agree.

relay.mimefast reads plain MIME from the compat32 tree and everything else from a
policy.default tree; these tests hold the two ways to the same model on every message the
suite has (legitimate replies, the malformed corpus, the benchmark messages) and the
address fast path to policy.default's address parser.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import sys
from pathlib import Path

import pytest
from data.legit import LEGIT, message
from data.malformed import cases
from hypothesis import given, settings
from hypothesis import strategies as st
from mail import build, html_reply

from relay import rewrite
from relay.config import Config
from relay.inspect import build_settings
from relay.limits import Limits, scan_structure
from relay.message import Envelope, parse_message
from relay.mimefast import decoded_payload, parse_addresses, parse_tree, plain_charset
from relay.policy.engine import evaluate

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from messages import MESSAGES

ENVELOPE = Envelope("support@nordlicht-home.example", ("kc9o3rt5g88dt@marketplace.amazon.de",))
MALFORMED = cases()
BENCH = [(name, make(3)) for name, make in MESSAGES.items()]


@pytest.mark.parametrize("case", LEGIT, ids=[c.id for c in LEGIT])
def test_legitimate_mail_takes_the_cheap_way_to_the_same_model(case: object) -> None:
    """Every legitimate reply is plain MIME, and its model equals the exact parse's."""
    raw = message(case)  # type: ignore[arg-type]
    assert (True, parse_message(raw, ENVELOPE, exact=True)) == (
        parse_tree(raw)[1],
        parse_message(raw, ENVELOPE),
    )


@pytest.mark.parametrize(("name", "raw"), BENCH, ids=[n for n, _ in BENCH])
def test_benchmark_messages_take_the_cheap_way_to_the_same_model(name: str, raw: bytes) -> None:
    """The benchmark messages are plain MIME and read the same both ways."""
    assert (True, parse_message(raw, ENVELOPE, exact=True)) == (
        parse_tree(raw)[1],
        parse_message(raw, ENVELOPE),
    )


@pytest.mark.parametrize(("name", "raw"), MALFORMED, ids=[n for n, _ in MALFORMED])
def test_malformed_mail_gives_the_same_model_either_way(name: str, raw: bytes) -> None:
    """Broken and hostile messages get the model the exact parse gives them."""
    assert parse_message(raw, ENVELOPE, exact=True) == parse_message(raw, ENVELOPE)


def _trees(raw: bytes) -> list[email.message.Message]:
    """Both trees of `raw`; none where the model never reads a payload (a structure limit,
    or a message past the parser's recursion: the model records the problem instead)."""
    if scan_structure(raw, Limits()).problem:
        return []
    try:
        return [parse_tree(raw, exact=exact)[0] for exact in (False, True)]
    except RecursionError:
        return []


ALL = [*((c.id, message(c)) for c in LEGIT), *MALFORMED, *BENCH]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("name", "raw"), ALL, ids=[n for n, _ in ALL])
def test_decoded_payloads_are_the_email_packages(name: str, raw: bytes) -> None:
    """Every leaf part of both trees: the C quoted-printable decoding gives the bytes
    get_payload(decode=True) gives (soft breaks, bad escapes, 8-bit bytes, base64...)."""
    for tree in _trees(raw):
        parts = [p for p in tree.walk() if not p.is_multipart()]
        expected = [p.get_payload(decode=True) for p in parts]
        assert expected == [decoded_payload(p) for p in parts]
        assert expected == [decoded_payload(p, compiled=False) for p in parts]


def test_decoded_payload_of_a_multipart_is_none() -> None:
    """A multipart has no payload of its own to decode, as get_payload(decode=True) says."""
    raw = BENCH[0][1]
    tree, _ = parse_tree(raw)
    assert (True, None) == (tree.is_multipart(), decoded_payload(tree))


def test_odd_parameter_grammar_takes_the_exact_way() -> None:
    """Comments, RFC 2231 and encoded-word file names, duplicate parameters: policy.default."""
    head = b"From: a@b.example\r\nMIME-Version: 1.0\r\n"
    odd = [
        b"Content-Type: text/html (comment); charset=utf-8",
        b"Content-Type: text/plain; charset*=utf-8''x",
        b'Content-Type: application/pdf; name="=?utf-8?q?Rechnung?=.pdf"',
        b"Content-Type: text/plain; charset=utf-8; charset=latin-1",
        b"Content-Transfer-Encoding: x-uuencode",
    ]
    plain = b"Content-Type: text/plain; charset=utf-8"
    assert [False] * len(odd) + [True] == [
        parse_tree(head + h + b"\r\n\r\nHallo\r\n")[1] for h in [*odd, plain]
    ]


atom = st.text("abcXYZ019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=8)
dot_atom = st.lists(atom, min_size=1, max_size=3).map(".".join)
address = st.builds("{}@{}".format, dot_atom, dot_atom)
display = st.lists(atom, min_size=1, max_size=3).map(" ".join)
mailbox = st.one_of(address, st.builds("{} <{}>".format, display, address))


@settings(max_examples=300, deadline=None)
@given(st.lists(mailbox, min_size=1, max_size=3).map(", ".join))
def test_plain_addresses_read_as_policy_default_reads_them(value: str) -> None:
    """The address fast path gives what policy.default's address parser gives."""
    header = email.policy.default.header_factory("To", value)
    expected = [(a.display_name, a.addr_spec) for a in header.addresses]
    assert expected == parse_addresses("To", value)


token = st.text("abcXYZ019!#$%&+.^_`|~-", min_size=1, max_size=10)
quoted = st.text("abc XYZ019;=/-_.:()<>@,", max_size=10).map('"{}"'.format)
param = st.builds(
    "{}={}".format,
    st.sampled_from(["charset", "CharSet", "name", "format", "xcharset", "charset_"]),
    st.one_of(token, quoted),
)
blank = st.sampled_from([" ", "", "\r\n ", "  ", "\t"])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(blank, param, blank), max_size=4, unique_by=lambda t: t[1].split("=")[0].lower()
    ),
    st.sampled_from(["", ";", "; "]),
)
def test_plain_charset_reads_what_the_email_package_reads(
    params: list[tuple[str, str, str]], end: str
) -> None:
    """On every Content-Type the cheap way accepts, the charset is the email package's."""
    value = "text/plain" + "".join(f"{a};{b}{p}" for a, p, b in params) + end
    raw = f"From: a@b.example\r\nContent-Type: {value}\r\n\r\nHallo\r\n".encode()
    tree, cheap = parse_tree(raw)
    assert (True, tree.get_content_charset("us-ascii")) == (cheap, plain_charset(tree, "us-ascii"))


def _headers_read(tree: email.message.Message) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    """Every header of every part as a reader sees it: name, class, text, defects."""
    return [
        (
            name,
            value.name,
            type(value).__name__,
            str(value),
            tuple(type(d).__name__ for d in value.defects),
        )
        for part in tree.walk()
        for name, value in part.items()
    ]


# A Subject of 1,600 characters: past the 998 the shared headers keep.
READ = [*ALL, ("long-subject", build(subject="Teekanne " * 180))]


@pytest.mark.parametrize(("name", "raw"), READ, ids=[n for n, _ in READ])
def test_the_fixers_policy_reads_headers_as_policy_default_does(name: str, raw: bytes) -> None:
    """The fixers' policy shares one header object per (name, value): every header of every
    part reads as policy.default reads it (class, text, defects), the second time too."""
    if _trees(raw) == []:  # past the structure limits: no fixer ever parses it
        return
    default = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    shared = email.parser.BytesParser(policy=rewrite.EDIT_POLICY).parsebytes(raw)
    expected = _headers_read(default)
    assert expected == _headers_read(shared)
    assert expected == _headers_read(shared)


SETTINGS = build_settings(Config())
STRIPPED = [
    ("font", build(html=html_reply('<span style="font-family:Comic Sans MS">Text</span>'))),
    (
        "pixel",
        build(html=html_reply('Text<img src="https://t.example/o.gif" width="1" height="1">')),
    ),
    ("breaks", build(html=html_reply("Text<br><br><br><br>Gru\u00df"))),
    ("align", build(html=html_reply('<div align="right">Text</div>'))),
    ("emoji", build(body="Danke f\u00fcr Ihre Nachricht \U0001f600\n\nLukas")),
    *((f"styled-{i}", MESSAGES["html-18k-styled"](i)) for i in range(3)),
]


@pytest.mark.parametrize(("name", "raw"), STRIPPED, ids=[n for n, _ in STRIPPED])
def test_fixers_write_under_the_shared_headers_what_policy_default_writes(
    name: str, raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rewritten message is byte for byte the one the fixers wrote on policy.default."""
    actual = evaluate(raw, ENVELOPE, SETTINGS.ctx, SETTINGS.limits)
    monkeypatch.setattr(rewrite, "EDIT_POLICY", email.policy.default)
    expected = evaluate(raw, ENVELOPE, SETTINGS.ctx, SETTINGS.limits)
    assert ("strip", expected.forward) == (actual.verdict.action, actual.forward)
