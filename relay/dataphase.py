"""The DATA phase read in bulk: the end of the message found with one search per chunk.

aiosmtpd reads DATA one line at a time (`readuntil(b"\\r\\n")`, then per-line bookkeeping)
from a StreamReader whose limit of 1,001 bytes also pauses the socket every 2 KB: on the
18 KB benchmark reply that is ~250 awaits and most of the relay process's time for the
message. RelaySMTP (relay.smtp) hands the bytes that arrive during DATA to a
`DataCollector` instead, which keeps aiosmtpd 1.4.6's rules exactly:

- the data ends at a line that is exactly "." between CRLFs (`<CRLF>.<CRLF>`); a bare LF
  or CR never ends a line, so no "end of data" can be smuggled with them;
- every line counts towards the size limit with its CRLF and its stuffed dot, and the first
  line over it (or the first line longer than the line limit) decides the reply: 552 or
  500, in the order aiosmtpd meets them; what follows is read and thrown away up to the end;
- a line starting with "." loses that dot (RFC 5321 4.5.2).

Pure: bytes in, content or a state out (the longest line is found in C where built).
tests/unit/test_dataphase.py holds it to a transcription of aiosmtpd's line loop on
generated streams cut into random chunks.
"""

from __future__ import annotations

from enum import Enum

from relay.textscan import longest_line

TERMINATOR = b"\r\n.\r\n"
CRLF = b"\r\n"


class DataState(Enum):
    NOMINAL = "nominal"
    TOO_LONG = "too long"  # a line over the line limit: 500
    TOO_MUCH = "too much"  # over the size limit: 552


class DataCollector:
    """Collects one message's DATA content from received chunks.

    `feed` returns True once the end of data was seen; then `state`, `content` (the
    un-stuffed message, only when NOMINAL) and `rest` (bytes the client sent after the end
    of data: its next commands) are final.
    """

    __slots__ = ("_buf", "_count", "_line_limit", "_scanned", "_size_limit", "content", "rest",
                 "state")  # fmt: skip

    def __init__(self, size_limit: int | None, line_limit: int = 1001) -> None:
        # A CRLF before the data makes the end marker <CRLF>.<CRLF> even for empty content.
        self._buf = bytearray(CRLF)
        self._scanned = len(CRLF)  # where the first line not yet counted starts
        self._count = 0  # bytes of counted lines, CRLFs included (aiosmtpd's num_bytes)
        self._size_limit = size_limit or 0
        self._line_limit = line_limit  # longest line aiosmtpd accepts, CRLF included
        self.state = DataState.NOMINAL
        self.content = b""
        self.rest = b""

    def feed(self, data: bytes) -> bool:
        buf = self._buf
        search_from = max(0, len(buf) - (len(TERMINATOR) - 1))
        buf += data
        end = buf.find(TERMINATOR, search_from)
        if self.state is DataState.NOMINAL:
            self._count_lines(len(buf) if end < 0 else end + len(CRLF))
        if end < 0:
            if self.state is not DataState.NOMINAL:
                # Nothing more is kept: only the end marker is still looked for.
                del buf[: -(len(TERMINATOR) - 1)]
                self._scanned = len(buf)
            return False
        self.rest = bytes(buf[end + len(TERMINATOR) :])
        if self.state is DataState.NOMINAL:
            body = bytes(buf[len(CRLF) : end + len(CRLF)])
            content = body.replace(b"\r\n.", CRLF) if b"\r\n." in body else body
            self.content = content[1:] if content[:1] == b"." else content
        buf.clear()
        return True

    def _count_lines(self, stop: int) -> None:
        """Count the complete lines in buf[_scanned:stop]; decide 500 or 552 on the way."""
        buf = self._buf
        last = buf.rfind(CRLF, self._scanned, stop)
        if last >= 0:
            region = buf[self._scanned : last + len(CRLF)]
            total = self._count + len(region)
            fits = self._size_limit == 0 or total <= self._size_limit
            if fits and (
                len(region) <= self._line_limit or self._longest(region) <= self._line_limit
            ):
                self._count = total  # the common case: every line fine, no limit reached
            else:
                self._count_each(region)
            self._scanned = last + len(CRLF)
        # aiosmtpd's reader (limit = the line limit) refuses a line whose CRLF lies beyond the
        # limit. A line still without its CRLF that has limit + 2 bytes is such a line
        # whatever arrives next: decide now, keep nothing.
        if self.state is DataState.NOMINAL and stop - self._scanned >= self._line_limit + 2:
            self.state = DataState.TOO_LONG

    @staticmethod
    def _longest(region: bytearray) -> int:
        return longest_line(region) + len(CRLF)

    def _count_each(self, region: bytearray) -> None:
        """aiosmtpd's order, line by line: a line its reader refuses (CRLF beyond the limit)
        is refused before it is counted; any other line is counted, then measured."""
        for content in region.split(CRLF)[:-1]:
            if len(content) > self._line_limit:
                self.state = DataState.TOO_LONG
                return
            size = len(content) + len(CRLF)
            self._count += size
            if self._size_limit and self._count > self._size_limit:
                self.state = DataState.TOO_MUCH
                return
            if size > self._line_limit:
                self.state = DataState.TOO_LONG
                return
