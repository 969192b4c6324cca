"""The fast path for MAIL/RCPT addresses gives what aiosmtpd's own parser gives.

RelaySMTP reads `<local@domain> PARAMS` with a regular expression and leaves every other
form to aiosmtpd (the email package's header parser). Hypothesis builds paths from the pieces
that make parsers disagree (quotes, comments, brackets, dots, blanks, non-ASCII) and both
ways must return the same (address, rest). Where aiosmtpd's parser crashes (IndexError on a
lone "<", AttributeError on ".@[", which aiosmtpd answers with a 451 internal error) the
relay says (None, None): a "malformed address" reply (553).
"""

from __future__ import annotations

import asyncio

from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.smtp import RelaySMTP

PIECES = ["<", ">", "@", ".", "..", "a", "Z9", "x-y", "+tag", "'", '"', "\\", "(", ")", "(c)",
          " ", "\t", "  ", "[", "]", "[1.2.3.4]", "ü", "SIZE=1234", "BODY=8BITMIME", "=", ",",
          ":", ";", "kc9o3rt5g88dt", "marketplace.amazon.de"]  # fmt: skip
paths = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
plain = st.builds(
    lambda local, domain, rest: f"<{local}@{domain}>{rest}",
    st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,20}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,10}(\.[a-z0-9-]{1,10}){0,3}", fullmatch=True),
    st.sampled_from(["", " SIZE=1", "  BODY=8BITMIME SMTPUTF8", "SIZE=2", " (note)", "\t"]),
)


class _Handler:
    users = None


def _server() -> RelaySMTP:
    loop = asyncio.new_event_loop()
    server = RelaySMTP(_Handler(), hostname="t.example", loop=loop)  # type: ignore[arg-type]
    loop.close()
    return server


SERVER = _server()


@settings(max_examples=2000, deadline=None)
@given(st.one_of(paths, plain))
def test_fast_path_agrees_with_aiosmtpd(arg: str) -> None:
    """(address, rest) of the relay equals aiosmtpd's for any argument it can parse."""
    try:
        expected = SMTP._getaddr(SERVER, arg)
    except Exception:  # noqa: BLE001 -- whatever the email package raises
        expected = (None, None)
    assert expected == SERVER._getaddr(arg)


def test_local_part_limit_still_applies() -> None:
    """A local part over aiosmtpd's limit is refused on the fast path too."""
    server = _server()
    server.local_part_limit = 5
    assert (None, None) == server._getaddr("<toolong@b.example>")
    assert ("short@b.example", "SIZE=1") == server._getaddr("<short@b.example> SIZE=1")
