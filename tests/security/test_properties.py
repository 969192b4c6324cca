"""Property tests: whatever bytes arrive, the policy gives a verdict and never raises.

Runs the same code the inspection workers run (parse, rules, fixers), in-process, on
arbitrary bytes and on message-shaped bytes (headers, MIME parts, HTML fragments).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.config import Config
from relay.inspect import build_settings
from relay.message import Envelope
from relay.policy.engine import evaluate
from relay.policy.model import Action

SETTINGS = build_settings(Config())
ENVELOPE = Envelope("support@nordlicht-home.example", ("kc9o3rt5g88dt@marketplace.amazon.de",))

header_names = st.sampled_from([b"Subject", b"From", b"To", b"Content-Type", b"MIME-Version",
                                b"Content-Transfer-Encoding", b"In-Reply-To", b"X-Any"])  # fmt: skip
header_values = st.one_of(
    st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from([b"multipart/mixed; boundary=B", b"text/html; charset=utf-8",
                     b"text/plain; charset=x-bogus", b"base64", b"quoted-printable",
                     b"=?utf-8?b?w7w=?=", b"1.0"]),
)  # fmt: skip
html_bits = st.lists(
    st.sampled_from(["<a href='https://x.example/'>", "</a>", "<img src='http://t.example/p.gif'>",
                     "<div>", "</div>", "<style>p{font-family:x}</style>", "5 Sterne", "review",
                     "+49 30 1234567", "gift card", "&#0;", "\x00", "🎁", "<!--", "-->"]),
    max_size=30,
).map("".join)  # fmt: skip
parts = st.lists(
    st.tuples(header_values, st.one_of(st.binary(max_size=200), html_bits.map(str.encode))),
    max_size=4,
)


@st.composite
def message_like(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(header_names, header_values), max_size=8))
    head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    body = b"".join(
        b"--B\r\nContent-Type: " + ctype + b"\r\n\r\n" + content + b"\r\n"
        for ctype, content in draw(parts)
    )
    return head + b"\r\n" + body + draw(st.sampled_from([b"--B--\r\n", b"", b"--B\r\n"]))


def check(raw: bytes) -> None:
    ev = evaluate(raw, ENVELOPE, SETTINGS.ctx, SETTINGS.limits)
    assert ev.verdict.action in set(Action) - {Action.OFF, Action.LOG}
    if ev.verdict.action is Action.STRIP:
        assert ev.forward is not None
        assert b"X-BSM-Relay-Stripped" in ev.forward
    else:
        assert ev.forward is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_any_bytes_get_a_verdict(raw: bytes) -> None:
    """Arbitrary bytes: a verdict, never an exception; strip always comes with new bytes."""
    check(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message_like())
def test_message_shaped_bytes_get_a_verdict(raw: bytes) -> None:
    """Header and MIME shaped input (bad charsets, encodings, HTML shards): a verdict."""
    check(raw)
