"""A line-level SMTP client over a real socket: sends exactly the bytes a test gives it.

aiosmtplib and smtplib normalise line endings and dot-stuff; probes for smuggling, slow
clients and protocol abuse need the raw wire instead.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from dataclasses import dataclass


@dataclass
class RawReply:
    code: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class RawSMTP:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(
        cls, port: int, greet: bool = True, source: str | None = None
    ) -> tuple[RawSMTP, RawReply]:
        local = (source, 0) if source else None
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=local)
        client = cls(reader, writer)
        banner = await client.reply() if greet else RawReply(0, [])
        return client, banner

    async def reply(self, timeout: float = 15) -> RawReply:
        """One (multi-line) reply; code 0 when the server closed the connection."""
        lines: list[str] = []
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), timeout)
            if not raw:
                return RawReply(0, lines)
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return RawReply(int(line[:3]) if line[:3].isdigit() else 0, lines)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def command(self, line: str) -> RawReply:
        await self.send(line.encode("utf-8") + b"\r\n")
        return await self.reply()

    async def starttls(self, context: ssl.SSLContext, server_name: str) -> None:
        await self.writer.start_tls(context, server_hostname=server_name)

    async def auth_plain(self, user: str, password: str) -> RawReply:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return await self.command(f"AUTH PLAIN {token}")

    async def closed(self, timeout: float = 5) -> bool:
        """True when the server closes the connection (EOF) within `timeout`."""
        try:
            rest = await asyncio.wait_for(self.reader.read(), timeout)
        except (TimeoutError, ConnectionError):
            return False
        return rest == b"" or self.reader.at_eof()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()
