"""`make bench`: bsm-relay against real SMTP peers, side by side, in one run on one machine.

Load: Postfix's smtp-source, 20 concurrent sessions, connections reused (-d), the same
pre-formatted message over and over. Paths, each ending in Postfix's smtp-sink:

  direct       smtp-source -> smtp-sink                         (the limit)
  passthrough  smtp-source -> bench/passthrough.py -> smtp-sink  (aiosmtpd+aiosmtplib, no policy)
  postfix      smtp-source -> Postfix (relayhost) -> smtp-sink   (what a seller would run)
  bsm-relay    smtp-source -> bsm-relay -> smtp-sink             (full policy)

Throughput is end to end: the clock stops when smtp-sink has counted every message. Then, for
bsm-relay: added latency at a steady 50 msg/s (its own client, p50/p99 against the direct
path), RSS per worker with 500 open sessions, time against message size up to 15 MB, and the
policy engine's own rate (in-process, no SMTP).

Needs root (Postfix) and the Debian peers (`make peers`). Prints a report; `--out FILE` also
writes it.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import aiosmtplib  # noqa: E402
from engine import measure  # noqa: E402
from messages import BUYER, SELLER, html_reply, pdf_reply, plain_reply  # noqa: E402
from peers import PostfixInstance, free_port, relay_toml, wait_port  # noqa: E402

from relay.message import Envelope  # noqa: E402

SESSIONS = 20


# ---------------------------------------------------------------- peers
class SmtpSink:
    """Postfix's smtp-sink with running counters (-c) on stdout."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        # Counters go to a file: a pipe nobody reads while smtp-source runs would fill up
        # and stall smtp-sink.
        self.out = folder / "smtp-sink.out"
        self._fh = open(self.out, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["/usr/sbin/smtp-sink", "-c", "-u", "nobody", f"127.0.0.1:{self.port}", "1024"],
            stdout=self._fh, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.count = 0
        wait_port(self.port)

    def messages(self) -> int:
        with open(self.out, "rb") as fh:
            fh.seek(max(0, fh.seek(0, 2) - 256))
            found = re.findall(rb"mesg=(\d+)", fh.read())
        if found:
            self.count = int(found[-1])
        return self.count

    def wait_for(self, total: int, seconds: float = 600) -> float:
        deadline = time.monotonic() + seconds
        while self.messages() < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"smtp-sink saw {self.count} of {total} messages")
            time.sleep(0.005)
        return time.monotonic()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._fh.close()


@contextmanager
def relay_process(
    workdir: Path, upstream: int, workers: int, level: str = "info"
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    # No limits in the way of the load generator. As deployed, one JSON line per message
    # (Postfix, its counterpart, writes its maillog too).
    sections = (
        "[access]\nmax_connections = 2000\nmax_connections_per_ip = 2000\n"
        "messages_per_minute_per_ip = 10000000\nmax_transfers = 512\n"
        f'[log]\nfile = "{workdir / "relay.log"}"\nformat = "json"\nlevel = "{level}"\n'
    )
    (workdir / "relay.toml").write_text(
        relay_toml(
            port, upstream, senders=(SELLER,), server=f"workers = {workers}", sections=sections
        )
    )
    proc = subprocess.Popen([sys.executable, "-m", "relay", "serve", "--config", "relay.toml"],
                            cwd=workdir)  # fmt: skip
    try:
        wait_port(port)
        time.sleep(1.0)  # every worker listening and warmed up
        yield port, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


@contextmanager
def passthrough(upstream: int, workers: int) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "passthrough.py"), str(port),
                             str(upstream), "--workers", str(workers)])  # fmt: skip
    try:
        wait_port(port)
        time.sleep(0.5)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


@contextmanager
def postfix(upstream: int) -> Iterator[int]:
    root = Path(tempfile.mkdtemp(prefix="bsm-bench-postfix-"))
    root.chmod(0o755)
    port = free_port()
    instance = PostfixInstance(root, relayhost=f"[127.0.0.1]:{upstream}", smtpd_port=port,
                               extra="default_process_limit = 100\nsmtpd_client_connection_count_limit = 0\n"
                               "smtp_destination_concurrency_limit = 20\nin_flow_delay = 0\n")  # fmt: skip
    instance.start()
    try:
        yield port
    finally:
        instance.stop()
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- measurements
def smtp_source(port: int, message: Path, count: int) -> None:
    subprocess.run(
        ["smtp-source", "-d", "-s", str(SESSIONS), "-m", str(count), "-f", SELLER, "-t", BUYER,
         "-F", str(message), f"127.0.0.1:{port}"],
        check=True, stdout=subprocess.DEVNULL, timeout=900,
    )  # fmt: skip


def throughput(sink: SmtpSink, port: int, message: Path, count: int) -> float:
    """msg/s from the first byte sent until smtp-sink has counted every message."""
    before = sink.messages()
    started = time.monotonic()
    smtp_source(port, message, count)
    done = sink.wait_for(before + count)
    return count / (done - started)


def path_throughput(
    path_name: str, sink: SmtpSink, tmp: Path, message: Path, count: int, workers: int
) -> float:
    """One round of one path: msg/s of `count` messages sent through it to the sink."""
    if path_name == "direct":
        return throughput(sink, sink.port, message, count)
    if path_name == "passthrough":
        with passthrough(sink.port, workers) as port:
            return throughput(sink, port, message, count)
    if path_name == "postfix":
        with postfix(sink.port) as port:
            return throughput(sink, port, message, count)
    with relay_process(tmp, sink.port, workers) as (port, _):
        return throughput(sink, port, message, count)


async def latencies(port: int, raw: bytes, rate: float, seconds: float) -> list[float]:
    """Open-loop load at `rate` msg/s over 10 kept-open connections; seconds per message."""
    clients = []
    for _ in range(10):
        c = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="bench.client",
                            start_tls=False, timeout=60)  # fmt: skip
        await c.connect()
        clients.append(c)
    free: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
    for c in clients:
        free.put_nowait(c)
    results: list[float] = []

    async def one(scheduled: float) -> None:
        client = await free.get()
        try:
            await client.sendmail(SELLER, [BUYER], raw)
        finally:
            free.put_nowait(client)
        results.append(time.perf_counter() - scheduled)

    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        at = start + i / rate
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        tasks.append(asyncio.create_task(one(at)))
    await asyncio.gather(*tasks)
    for c in clients:
        await c.quit()
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def memory_mb(pid: int) -> dict[str, float]:
    """A process's resident memory in MB from /proc: VmRSS and its parts (RssAnon, RssFile…)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "Rss")):
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) / 1024
    return fields


def rss_mb(pid: int) -> float:
    return memory_mb(pid).get("VmRSS", 0.0)


def worker_memory(pid: int) -> str:
    """A worker's RSS with its children's (the inspection process), split into anonymous
    memory and file pages (the mapped language tables and libraries, shared and droppable)."""
    each = [memory_mb(p) for p in (pid, *children(pid))]
    total, anon, file = (sum(m.get(f, 0.0) for m in each) for f in ("VmRSS", "RssAnon", "RssFile"))
    return f"{total:.0f} MB (anonymous {anon:.0f}, file pages {file:.0f}; {len(each)} processes)"


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


async def hold_sessions(
    port: int, count: int
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    sessions = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.readline()
        writer.write(b"EHLO idle.client\r\n")
        await writer.drain()
        sessions.append((reader, writer))
    return sessions


async def size_curve(port: int, sizes_mb: list[float]) -> list[tuple[float, float, int]]:
    out = []
    for mb in sizes_mb:
        raw = pdf_reply(0, size=int(mb * 1_000_000 * 0.98))  # raw size ~ mb
        times = []
        for _ in range(3):
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=120,
                                     local_hostname="bench.client")  # fmt: skip
            await client.connect()
            started = time.perf_counter()
            try:
                await client.sendmail(SELLER, [BUYER], raw)
                code = 250
            except aiosmtplib.SMTPResponseException as exc:
                code = exc.code  # past 10 MB of attachments the verdict is 552; still timed
            times.append(time.perf_counter() - started)
            await client.quit()
        out.append((len(raw) / 1e6, min(times), code))
    return out


# ---------------------------------------------------------------- report
def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; {platform.platform()}; "
            f"Python {platform.python_version()}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description="bsm-relay benchmark against real peers")
    parser.add_argument("--count", type=int, default=2000, help="messages per throughput run")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=5, help="turns each path takes")
    parser.add_argument("--out", help="also write the report here")
    args = parser.parse_args()
    # Two runs at once share the two cores and measure each other: refuse the second.
    lock = open(Path(tempfile.gettempdir()) / "bsm-bench.lock", "w")  # noqa: SIM115
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("error: another bench/run.py is running on this machine", file=sys.stderr)
        return 2
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    tmp = Path(tempfile.mkdtemp(prefix="bsm-bench-"))
    tmp.chmod(0o755)
    files = {}
    for name, raw in (
        ("html-18k", html_reply(0)),
        ("plain-3k", plain_reply(0)),
        ("pdf-2m", pdf_reply(0)),
    ):
        files[name] = tmp / f"{name}.eml"
        files[name].write_bytes(raw.replace(b"\r\n", b"\n"))  # smtp-source adds the CRs
    counts = {"html-18k": args.count, "plain-3k": args.count, "pdf-2m": max(50, args.count // 30)}
    say(f"# bsm-relay benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    say(f"machine: {machine()}")
    say(f"load: smtp-source, {SESSIONS} sessions, connections reused; bsm-relay and passthrough "
        f"with {args.workers} worker processes")  # fmt: skip
    sink = SmtpSink(tmp)
    # This machine's speed drifts by tens of percent within minutes: the paths take turns,
    # round after round, and each figure is the median of its rounds (a ratio: the median of
    # the rounds' ratios, each taken between runs a minute apart).
    runs: dict[tuple[str, str], list[float]] = {}
    paths = ("direct", "passthrough", "postfix", "bsm-relay")
    try:
        for name, path in files.items():
            n = counts[name]
            for turn in range(args.rounds):
                # Every other round goes backwards: a drift that slows the later paths of one
                # round slows the earlier ones of the next (ABBA).
                for path_name in paths if turn % 2 == 0 else paths[::-1]:
                    rate = path_throughput(path_name, sink, tmp, path, n, args.workers)
                    runs.setdefault((path_name, name), []).append(rate)
        rates = {key: statistics.median(values) for key, values in runs.items()}

        def ratio(a: str, b: str, name: str) -> float:
            return statistics.median(
                x / y for x, y in zip(runs[(a, name)], runs[(b, name)], strict=True)
            )

        say()
        say(f"{'throughput (msg/s)':<20}" + "".join(f"{n:>12}" for n in files)
            + f"   (median of {args.rounds} rounds)")  # fmt: skip
        for path_name in paths:
            say(f"{path_name:<20}" + "".join(f"{rates[(path_name, n)]:>12.0f}" for n in files))
        say(f"{'bsm-relay/postfix':<20}" + "".join(
            f"{ratio('bsm-relay', 'postfix', n):>12.2f}" for n in files))  # fmt: skip
        say(f"{'bsm-relay/passthru':<20}" + "".join(
            f"{ratio('bsm-relay', 'passthrough', n):>12.2f}" for n in files))  # fmt: skip
        say("rounds (msg/s):")
        for name in files:
            say(f"  {name:<10}" + "; ".join(
                f"{p} " + " ".join(f"{v:.0f}" for v in runs[(p, name)]) for p in paths))  # fmt: skip

        raw = html_reply(1)
        direct = asyncio.run(latencies(sink.port, raw, 50, 10))
        say()
        say("latency at a steady 50 msg/s, html-18k, 500 messages (ms)")
        say(f"{'':<28}{'p50':>10}{'p99':>10}{'added p50':>11}{'added p99':>11}")
        say(
            f"{'direct':<28}{percentile(direct, 0.5) * 1000:>10.2f}{percentile(direct, 0.99) * 1000:>10.2f}"
        )
        for workers in sorted({1, args.workers}):
            with relay_process(tmp, sink.port, workers) as (port, _):
                relayed = asyncio.run(latencies(port, raw, 50, 10))
            label = f"bsm-relay, {workers} worker{'s' if workers > 1 else ''}"
            p50, p99 = percentile(relayed, 0.5) * 1000, percentile(relayed, 0.99) * 1000
            say(
                f"{label:<28}{p50:>10.2f}{p99:>10.2f}"
                f"{p50 - percentile(direct, 0.5) * 1000:>11.2f}{p99 - percentile(direct, 0.99) * 1000:>11.2f}"
            )
        with relay_process(tmp, sink.port, args.workers) as (port, proc):

            async def with_sessions() -> list[tuple[int, str]]:
                sessions = await hold_sessions(port, 500)
                await asyncio.sleep(1.0)
                workers = children(proc.pid) or [proc.pid]
                report = [(pid, worker_memory(pid)) for pid in workers]
                for _, writer in sessions:
                    writer.close()
                return report

            say()
            say("RSS per worker (relay process + its inspection process), 500 open sessions")
            for pid, memory in asyncio.run(with_sessions()):
                say(f"  worker pid {pid}: {memory}")
            curve = asyncio.run(size_curve(port, [0.5, 1, 2, 4, 8, 15]))
            say()
            say("time per message against size (pdf attachment, best of 3)")
            say(f"{'MB':>8}{'seconds':>10}{'s/MB':>10}{'reply':>8}")
            for mb, seconds, code in curve:
                say(f"{mb:>8.2f}{seconds:>10.3f}{seconds / mb:>10.3f}{code:>8}")
    finally:
        sink.stop()
    say()
    say("policy engine alone (in-process, one core)")
    envelope = Envelope(SELLER, (BUYER,))
    for name, make in (("html-18k", html_reply), ("plain-3k", plain_reply)):
        rate, p50, p99, verdict = measure([make(i) for i in range(8)], envelope, 3.0)
        say(f"  {name:<12}{rate:>8.0f} msg/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms  ({verdict})")
    corpus = sorted((HERE.parent.parent / "shared/eval/corpus").glob("*.eml"))
    if corpus:
        rate, p50, p99, _ = measure([p.read_bytes() for p in corpus], envelope, 3.0)
        say(
            f"  {'corpus':<12}{rate:>8.0f} msg/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms  ({len(corpus)} messages)"
        )
    shutil.rmtree(tmp, ignore_errors=True)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
