"""The content the relay writes upstream is what aiosmtplib would have written.

relay.upstream prepares DATA content with two bytes.replace calls when every line already
ends in CRLF and hands anything else to aiosmtplib's own normaliser; both ways must give
aiosmtplib's bytes (its line-ending and dot-stuffing passes plus the final <CRLF>.<CRLF>)
and the SIZE aiosmtplib would announce, for any content.
"""

from __future__ import annotations

from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.transaction import wire_format


def aiosmtplib_wire(data: bytes) -> tuple[bytes, int]:
    """What aiosmtplib 5 sends for DATA (execute_data_command) and its SIZE (sendmail)."""
    normal = normalize_message_line_endings(data)
    return PERIOD_REGEX.sub(b"..", normal) + b".\r\n", len(normal)


PIECES = [b"\r\n", b"\r\n", b"\n", b"\r", b".", b"..", b"\r\n.", b"\r\n..", b"x", b"Subject: a",
          b" ", b"\r\r\n", b"\n\r", b"=2E"]  # fmt: skip
contents = st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join)
crlf_lines = st.lists(
    st.sampled_from([b"", b".", b"..", b".x", b"x.", b"Subject: y", b"  "]), max_size=20
).map(lambda lines: b"".join(line + b"\r\n" for line in lines))


@settings(max_examples=2000, deadline=None)
@given(st.one_of(contents, crlf_lines))
def test_wire_format_equals_aiosmtplib(data: bytes) -> None:
    """Same bytes on the wire and same SIZE as aiosmtplib, bare CR/LF or not."""
    assert aiosmtplib_wire(data) == wire_format(data)


def test_bare_line_ends_become_crlf() -> None:
    """A bare LF (the smuggling probes' fake end of data) is sent as CRLF, then stuffed."""
    assert (b"a\r\n..\r\nb\r\n.\r\n", 9) == wire_format(b"a\n.\nb")
