"""The policy engine alone: parse + every rule, in-process, no SMTP, one core.

    .venv/bin/python bench/engine.py [--seconds 3] [--corpus ../shared/eval/corpus]

Prints msg/s and per-message latency for each benchmark message and over the public corpus.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from messages import BUYER, MESSAGES, SELLER

from relay.config import Config
from relay.inspect import build_settings
from relay.message import Envelope
from relay.policy.engine import evaluate


def measure(
    raws: list[bytes], envelope: Envelope, seconds: float
) -> tuple[float, float, float, str]:
    """(msg/s, median ms, p99 ms, verdict of the first) evaluating `raws` round-robin."""
    settings = build_settings(Config())
    first = evaluate(raws[0], envelope, settings.ctx, settings.limits)  # warm up
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline or len(times) < 20:
        raw = raws[i % len(raws)]
        start = time.perf_counter()
        evaluate(raw, envelope, settings.ctx, settings.limits)
        times.append(time.perf_counter() - start)
        i += 1
    times.sort()
    rate = len(times) / sum(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return rate, statistics.median(times) * 1000, p99 * 1000, str(first.verdict.action)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--corpus", default=str(Path(__file__).parent.parent.parent / "shared/eval/corpus")
    )
    args = parser.parse_args()
    envelope = Envelope(SELLER, (BUYER,))
    print(f"{'message':<14}{'size':>10}{'msg/s':>10}{'p50 ms':>9}{'p99 ms':>9}  verdict")
    for name, make in MESSAGES.items():
        raws = [make(i) for i in range(8)]
        rate, p50, p99, verdict = measure(raws, envelope, args.seconds)
        print(f"{name:<14}{len(raws[0]):>10}{rate:>10.0f}{p50:>9.2f}{p99:>9.2f}  {verdict}")
    corpus = sorted(Path(args.corpus).glob("*.eml"))
    if corpus:
        raws = [p.read_bytes() for p in corpus]
        rate, p50, p99, _ = measure(raws, envelope, args.seconds)
        size = sum(map(len, raws)) // len(raws)
        print(
            f"{'corpus':<14}{size:>10}{rate:>10.0f}{p50:>9.2f}{p99:>9.2f}  ({len(raws)} messages)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
