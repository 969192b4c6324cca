"""Test harness: an aiosmtpd sink as the upstream and relay configurations for tests."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP
from mail import OTHER_SELLER, SELLER

from relay.config import Config, ServerConfig, UpstreamConfig
from relay.policy.settings import PolicySettings


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]
    tls: bool
    peer: Any = None  # the relay's end of the connection: equal for a reused connection


@dataclass
class Sink:
    """An upstream SMTP server that records messages; `data_reply` sets its DATA answer."""

    messages: list[Received] = field(default_factory=list)
    data_reply: str = "250 2.0.0 Ok: queued as SINK1"
    rcpt_reply: str | None = None
    mail_replies: list[str] = field(default_factory=list)  # answers to the next MAIL commands
    delay: float = 0.0
    drop_in_data: bool = False
    server: asyncio.AbstractServer | None = None
    tls_context: Any = None
    protocols: list[Any] = field(default_factory=list)
    pipelining: bool = False  # offer PIPELINING (aiosmtpd reads pipelined commands anyway)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            return [responses[0], "250-PIPELINING", *responses[1:]]
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.mail_replies:
            return self.mail_replies.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.drop_in_data:
            server.transport.close()
            return "421 closing"
        if self.data_reply.startswith("250"):
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                         list(envelope.mail_options), session.ssl is not None, session.peer)
            )  # fmt: skip
        return self.data_reply

    def factory(self) -> SMTP:
        protocol = SMTP(self, hostname="sink.localdomain", enable_SMTPUTF8=True,
                        tls_context=self.tls_context, data_size_limit=64 * 2**20)  # fmt: skip
        self.protocols.append(protocol)
        return protocol

    @property
    def transports(self) -> list[Any]:
        return [p.transport for p in self.protocols if p.transport is not None]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self.factory, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


def make_config(tmp_path: Path, upstream_port: int = 0, **changes: Any) -> Config:
    """A relay on 127.0.0.1:0 delivering to the sink, state and quarantine under tmp_path."""
    server = dataclasses.replace(
        ServerConfig(port=0, time_budget=10.0), **changes.pop("server", {})
    )
    upstream = dataclasses.replace(
        UpstreamConfig(mode="smarthost", host="127.0.0.1", port=upstream_port, starttls="off",
                       timeout=10.0, outbox_dir=tmp_path / "outbox"),
        **changes.pop("upstream", {}),
    )  # fmt: skip
    policy = changes.pop("policy", PolicySettings(link_allow=("design.casa-verde.example",)))
    return Config(
        server=server,
        upstream=upstream,
        approved_senders=changes.pop("approved_senders", (SELLER, OTHER_SELLER)),
        quarantine_dir=changes.pop("quarantine_dir", tmp_path / "quarantine"),
        state_url=changes.pop("state_url", f"sqlite:///{tmp_path / 'state.sqlite3'}"),
        policy=policy,
        **changes,
    )
