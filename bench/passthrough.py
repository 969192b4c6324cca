"""The baseline: a bare aiosmtpd + aiosmtplib pass-through, no parsing, no policy.

    python bench/passthrough.py LISTEN_PORT UPSTREAM_PORT [--workers N]

The same shape as bsm-relay (250 only after the upstream accepted, upstream connections
kept open and reused, N SO_REUSEPORT processes), minus everything that makes it a
compliance filter; the gap between the two is the price of the policy.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP


class Forward:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.idle: list[aiosmtplib.SMTP] = []

    async def client(self) -> aiosmtplib.SMTP:
        while self.idle:
            client = self.idle.pop()
            if client.is_connected:
                try:
                    await client.rset()
                    return client
                except aiosmtplib.SMTPException:
                    client.close()
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.upstream_port,
                                 local_hostname="passthrough.bench", start_tls=False)  # fmt: skip
        await client.connect()
        return client

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        try:
            client = await self.client()
            _, reply = await client.sendmail(envelope.mail_from, envelope.rcpt_tos,
                                             envelope.original_content)  # fmt: skip
        except (aiosmtplib.SMTPException, OSError) as exc:
            return f"451 4.4.1 upstream: {exc}"[:200]
        self.idle.append(client)
        return f"250 2.0.0 {reply}"[:200]


async def serve(port: int, upstream_port: int) -> None:
    loop = asyncio.get_running_loop()
    handler = Forward(upstream_port)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="passthrough.bench", data_size_limit=32 * 2**20,
                     enable_SMTPUTF8=True),
        "127.0.0.1", port, reuse_port=True,
    )  # fmt: skip
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.close()


def run(port: int, upstream_port: int) -> None:
    asyncio.run(serve(port, upstream_port))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("upstream_port", type=int)
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args()
    procs = [multiprocessing.Process(target=run, args=(args.port, args.upstream_port))
             for _ in range(args.workers)]  # fmt: skip
    for p in procs:
        p.start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(10)


if __name__ == "__main__":
    main()
