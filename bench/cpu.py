"""Where the CPU goes per message: bsm-relay under smtp-source load, process by process.

    .venv/bin/python bench/cpu.py [--count 3000] [--workers 2] [--message html-18k]

The same load as `make bench` (smtp-source, 20 sessions, connections reused, into smtp-sink)
through bsm-relay; the CPU time (user + system, from /proc) that each kind of process spent
over the run, divided by the messages: the SMTP worker processes, their inspection
processes, smtp-sink and smtp-source. On 2 cores the sum bounds the throughput: 2 / (CPU
seconds per message). Needs the Debian peers (`make peers`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from messages import MESSAGES  # noqa: E402
from run import SmtpSink, children, relay_process, smtp_source  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--message", choices=sorted(MESSAGES), default="html-18k")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bsm-bench-cpu-") as tmp:
        folder = Path(tmp)
        message = folder / "message.eml"
        message.write_bytes(MESSAGES[args.message](0).replace(b"\r\n", b"\n"))
        sink = SmtpSink(folder)
        try:
            with relay_process(folder, sink.port, args.workers) as (port, proc):
                # One worker runs in the relay process itself; more, under a supervisor.
                workers = children(proc.pid) if args.workers > 1 else [proc.pid]
                groups = {
                    "SMTP workers": workers,
                    "inspection processes": [c for w in workers for c in children(w)],
                    "smtp-sink": [sink.proc.pid],
                }
                before = {k: sum(map(cpu_seconds, pids)) for k, pids in groups.items()}
                received = sink.messages()
                mine = os.times()
                started = time.monotonic()
                smtp_source(port, message, args.count)  # smtp-source: a child of this process
                sink.wait_for(received + args.count)
                elapsed = time.monotonic() - started
                after = {k: sum(map(cpu_seconds, pids)) for k, pids in groups.items()}
                done = os.times()
        finally:
            sink.stop()
    spent = {k: after[k] - before[k] for k in groups}
    spent["smtp-source"] = (done.children_user + done.children_system) - (
        mine.children_user + mine.children_system
    )
    total = sum(spent.values())
    print(f"{args.count} x {args.message} through bsm-relay ({args.workers} workers): "
          f"{args.count / elapsed:.0f} msg/s, {total / elapsed:.2f} cores busy")  # fmt: skip
    print("CPU per message (ms)")
    for name, seconds in spent.items():
        print(f"  {name:<22}{seconds / args.count * 1000:>7.3f}")
    print(f"  {'all':<22}{total / args.count * 1000:>7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
