"""Memory with many large messages in flight: peak RSS of one relay worker (and its
inspection process) while N clients send ~13 MB messages at once.

    .venv/bin/python bench/memory.py [--clients 32] [--max-transfers 64]

Needs Postfix's smtp-sink (`make peers`). The bound the relay enforces: at most
`[access] max_transfers` DATA phases at once per worker (451 beyond), each at most
`max_message_size`; inspection runs in a process under `inspect_memory_mb`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import aiosmtplib  # noqa: E402
from messages import BUYER, SELLER, pdf_reply  # noqa: E402
from run import SmtpSink, children, relay_process, rss_mb  # noqa: E402


async def main_async(clients: int, port: int, pids: list[int]) -> tuple[float, dict[int, int]]:
    raw = pdf_reply(0, size=9_500_000)
    codes: dict[int, int] = {}
    peak = 0.0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, sum(rss_mb(p) for p in pids))
            await asyncio.sleep(0.05)

    async def one() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=300,
                                 local_hostname="bench.client")  # fmt: skip
        await client.connect()
        try:
            await client.sendmail(SELLER, [BUYER], raw)
            code = 250
        except aiosmtplib.SMTPResponseException as exc:
            code = exc.code
        codes[code] = codes.get(code, 0) + 1
        await client.quit()

    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(one() for _ in range(clients)))
    done.set()
    await sampler
    return peak, codes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bsm-mem-"))
    tmp.chmod(0o755)
    sink = SmtpSink(tmp)
    try:
        with relay_process(tmp, sink.port, 1) as (port, proc):
            pids = [proc.pid, *children(proc.pid)]
            idle = sum(rss_mb(p) for p in pids)
            started = time.monotonic()
            peak, codes = asyncio.run(main_async(args.clients, port, pids))
            took = time.monotonic() - started
    finally:
        sink.stop()
    print(
        f"{args.clients} clients x 13 MB at once, one worker: idle {idle:.0f} MB, "
        f"peak {peak:.0f} MB (relay + inspection process), {took:.1f} s, replies {codes}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
