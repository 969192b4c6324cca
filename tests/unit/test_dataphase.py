"""The bulk DATA reader gives what aiosmtpd's line loop gives, however the bytes arrive.

`aiosmtpd_data` below transcribes aiosmtpd 1.4.6's `smtp_DATA` loop over an asyncio
StreamReader with limit 1001 (CPython 3.11's `readuntil` and `read`), fed one chunk per
wait. Hypothesis builds streams from the pieces that matter (dots at line starts, bare CR and
LF, lines around the 1,000-byte limit, the end marker inside and across chunks, bytes after
it) and cuts them at random places; the collector must end in the same state, with the same
content and the same bytes left for the next command.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from relay.dataphase import DataCollector, DataState

LIMIT = 1001  # aiosmtpd's line_length_limit, also its StreamReader's limit


class _Overrun(Exception):
    def __init__(self, consumed: int) -> None:
        self.consumed = consumed


class _Reader:
    """asyncio.StreamReader(limit=LIMIT) of CPython 3.11, without the event loop."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.pending = list(chunks)
        self.buffer = bytearray()

    def wait(self) -> None:
        if not self.pending:
            raise EOFError
        self.buffer += self.pending.pop(0)

    def readuntil(self, sep: bytes = b"\r\n") -> bytes:
        offset = 0
        while True:
            buflen = len(self.buffer)
            if buflen - offset >= len(sep):
                isep = self.buffer.find(sep, offset)
                if isep != -1:
                    break
                offset = buflen + 1 - len(sep)
                if offset > LIMIT:
                    raise _Overrun(offset)
            self.wait()
        if isep > LIMIT:
            raise _Overrun(isep)
        chunk = bytes(self.buffer[: isep + len(sep)])
        del self.buffer[: isep + len(sep)]
        return chunk

    def read(self, n: int) -> bytes:
        if not self.buffer:
            self.wait()
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data


def aiosmtpd_data(chunks: list[bytes], size_limit: int | None) -> tuple[str, bytes, bytes] | None:
    """(state, content, rest) as aiosmtpd 1.4.6 ends DATA; None when the data never ends."""
    reader = _Reader(chunks)
    data: list[bytearray] = []
    num_bytes = 0
    fragments: list[bytes] = []
    state = "nominal"
    try:
        while True:
            try:
                line = reader.readuntil()
            except _Overrun as e:
                if state == "nominal":
                    state = "too long"
                data *= 0
                line = reader.read(e.consumed)
            if not fragments and line == b".\r\n":
                break
            num_bytes += len(line)
            if state == "nominal" and size_limit and num_bytes > size_limit:
                state = "too much"
                data *= 0
            fragments.append(line)
            if line.endswith(b"\r\n"):
                if state == "nominal":
                    joined = b"".join(fragments)
                    if len(joined) > LIMIT:
                        state = "too long"
                        data *= 0
                    else:
                        data.append(bytearray(joined))
                fragments *= 0
    except EOFError:
        return None
    for text in data:
        if text.startswith(b"."):
            del text[0]
    content = b"".join(data) if state == "nominal" else b""
    return state, content, bytes(reader.buffer) + b"".join(reader.pending)


def collected(chunks: list[bytes], size_limit: int | None) -> tuple[str, bytes, bytes] | None:
    collector = DataCollector(size_limit, LIMIT)
    for i, chunk in enumerate(chunks):
        if collector.feed(chunk):
            rest = collector.rest + b"".join(chunks[i + 1 :])
            return collector.state.value, collector.content, rest
    return None


PIECES = [b".", b"..", b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"\r\n.\r\n", b"\n.\n", b"\r\n.\n",
          b"x", b"Subject: hi", b"=2E", b" ", b"QUIT\r\n", b"MAIL FROM:<a@b>\r\n"]  # fmt: skip
long_lines = st.integers(995, 1010).map(lambda n: b"y" * n)
pieces = st.one_of(st.sampled_from(PIECES), long_lines, st.binary(max_size=6))


@st.composite
def chunked_streams(draw: st.DrawFn) -> tuple[list[bytes], int | None]:
    stream = b"".join(draw(st.lists(pieces, max_size=40)))
    if draw(st.booleans()):
        stream += b"\r\n.\r\n" + draw(st.sampled_from([b"", b"QUIT\r\n", b"RSET\r\nNOOP\r\n"]))
    cuts = sorted(draw(st.sets(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    limit = draw(st.one_of(st.none(), st.integers(1, 3000)))
    return [c for c in chunks if c], limit


@settings(max_examples=1500, deadline=None)
@given(chunked_streams())
def test_same_outcome_as_aiosmtpd_line_loop(case: tuple[list[bytes], int | None]) -> None:
    """State, content and leftover bytes equal aiosmtpd's for any stream and any chunking."""
    chunks, limit = case
    assert aiosmtpd_data(chunks, limit) == collected(chunks, limit)


def test_dot_stuffing_removed() -> None:
    """A stuffed leading dot is removed on every line, the first one included."""
    c = DataCollector(None)
    assert c.feed(b"..first\r\nmid\r\n..\r\n.x\r\n.\r\n")
    assert (DataState.NOMINAL, b".first\r\nmid\r\n.\r\nx\r\n") == (c.state, c.content)


def test_bare_lf_never_ends_data() -> None:
    """<LF>.<LF> and <LF>.<CRLF> are content (SMTP smuggling), only <CRLF>.<CRLF> ends it."""
    c = DataCollector(None)
    assert not c.feed(b"a\n.\nMAIL FROM:<x@y>\r\nb\n.\r\n")
    assert c.feed(b"\r\n.\r\nNOOP\r\n")
    assert (b"a\n.\nMAIL FROM:<x@y>\r\nb\n.\r\n\r\n", b"NOOP\r\n") == (c.content, c.rest)


def test_empty_data_and_marker_split_over_chunks() -> None:
    """The end marker right away is an empty message; split over three chunks it still ends."""
    empty = DataCollector(None)
    assert empty.feed(b".\r\nQUIT\r\n")
    assert (b"", b"QUIT\r\n") == (empty.content, empty.rest)
    split = DataCollector(None)
    assert [False, False, True] == [split.feed(b"hi\r"), split.feed(b"\n."), split.feed(b"\r\n")]
    assert b"hi\r\n" == split.content


def test_over_the_size_limit_keeps_nothing() -> None:
    """Past the limit the state is TOO_MUCH and the buffer holds only the marker's tail."""
    c = DataCollector(100)
    for _ in range(1000):
        assert not c.feed(b"z" * 70 + b"\r\n")
    assert DataState.TOO_MUCH == c.state
    assert len(c._buf) < 5
    assert c.feed(b".\r\n")
    assert b"" == c.content


def test_endless_line_decided_early() -> None:
    """A line that never ends is TOO_LONG once it passes the limit, and is not kept."""
    c = DataCollector(None)
    for _ in range(100):
        assert not c.feed(b"w" * 4096)
    assert DataState.TOO_LONG == c.state
    assert len(c._buf) < 5
