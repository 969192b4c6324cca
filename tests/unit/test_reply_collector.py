"""relay.pipelined: a command group's replies, however they arrive, and the router that
sends them to the group's collector and everything else to aiosmtplib's protocol."""

from __future__ import annotations

import asyncio

import aiosmtplib
import pytest

from relay.pipelined import GroupRouter, ReplyCollector

REPLIES = b"250-first line\r\n250 2.1.0 Sender ok\r\n250 2.1.5 Ok\r\n354 End data with .\r\n"


class Owner:
    """Stands in for aiosmtplib's protocol: records what the collector passes on."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def data_received(self, data: bytes) -> None:
        self.calls.append(f"data {data!r}")

    def eof_received(self) -> bool:
        self.calls.append("eof")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.calls.append("connection_lost")

    def pause_writing(self) -> None:
        self.calls.append("pause")

    def resume_writing(self) -> None:
        self.calls.append("resume")


def collector(count: int = 3) -> ReplyCollector:
    return ReplyCollector(count, asyncio.get_running_loop())


async def test_replies_in_one_piece() -> None:
    """Three replies in one chunk, the first of two lines: codes and texts in order."""
    c = collector()
    c.data_received(REPLIES)
    replies = await c.done
    expected = [(250, "first line\n2.1.0 Sender ok"), (250, "2.1.5 Ok"), (354, "End data with .")]
    assert expected == [(r.code, r.message) for r in replies]


async def test_replies_byte_by_byte() -> None:
    """The same replies one byte at a time: the same result, complete only at the end."""
    c = collector()
    states = []
    for i in range(len(REPLIES)):
        c.data_received(REPLIES[i : i + 1])
        states.append(c.done.done())
    replies = await c.done
    expected = ([False] * (len(REPLIES) - 1) + [True], [250, 250, 354])
    assert expected == (states, [r.code for r in replies])


# commands in the group, what arrives, the error, and how many replies were whole before it
FAILURES = {
    "malformed line": (
        3,
        [b"250 ok\r\nhello there\r\n"],
        "Malformed SMTP response: hello there",
        1,
    ),
    "more than asked for": (1, [b"250 ok\r\n250 surprise\r\n"], "Unexpected data after replies", 1),
    "endless line": (3, [b"2" * 1024] * 9, "Response too long", 0),  # past 8 KiB, no line end
    "endless reply": (3, [b"250-" + b"x" * 96 + b"\r\n"] * 700, "Response too long", 0),
}


@pytest.mark.parametrize(("count", "chunks", "message", "whole"), FAILURES.values(), ids=FAILURES)
async def test_bad_replies_fail_the_group(
    count: int, chunks: list[bytes], message: str, whole: int
) -> None:
    """A line without a reply code, bytes after the last expected reply (the session is out
    of step), a line past 8 KiB, or continuation lines past 64 KiB in all: the group fails
    with aiosmtplib's response error instead of waiting or growing."""
    c = collector(count)
    for chunk in chunks:
        c.data_received(chunk)
    with pytest.raises(aiosmtplib.SMTPResponseException) as failed:
        await c.done
    assert (message, whole) == (failed.value.message, len(c.replies))


async def test_router_passes_everything_outside_a_group() -> None:
    """No group open: data, EOF and flow control go to aiosmtplib's protocol unchanged."""
    owner = Owner()
    router = GroupRouter(owner)
    router.data_received(b"221 bye\r\n")
    router.pause_writing()
    router.resume_writing()
    closes = router.eof_received()
    expected = (["data b'221 bye\\r\\n'", "pause", "resume", "eof"], False)
    assert expected == (owner.calls, closes)


async def test_router_sends_a_groups_replies_to_its_collector() -> None:
    """While a group is open its replies go to the collector, not to aiosmtplib."""
    owner = Owner()
    router = GroupRouter(owner)
    router.collector = c = collector()
    router.data_received(REPLIES)
    replies = await c.done
    assert ([], [250, 250, 354]) == (owner.calls, [r.code for r in replies])


async def test_lost_connection_reaches_both() -> None:
    """The connection lost before all replies: the group fails as disconnected, and
    aiosmtplib's protocol hears of it too."""
    owner = Owner()
    router = GroupRouter(owner)
    router.collector = c = collector()
    router.data_received(b"250 ok\r\n")
    router.connection_lost(ConnectionResetError("reset"))
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await c.done
    assert ["connection_lost"] == owner.calls


async def test_eof_fails_the_group_and_closes() -> None:
    """EOF from the server during a group fails it, and aiosmtplib's answer (close the
    transport) stands."""
    owner = Owner()
    router = GroupRouter(owner)
    router.collector = c = collector()
    closes = router.eof_received()
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await c.done
    assert (["eof"], False) == (owner.calls, closes)
