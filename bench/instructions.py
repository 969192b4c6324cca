"""Instructions per evaluation of one benchmark message, counted by valgrind's callgrind.

    .venv/bin/python bench/instructions.py [--message html-18k] [--count 100]

This machine's speed drifts by tens of percent; instruction counts do not. Two runs under
callgrind, one evaluating `count` messages after the warm-up and one evaluating none; the
difference divided by `count` is the engine's cost per message, start-up left out. The
collector is run and frozen after the warm-up: a full collection of the start-up objects
otherwise falls inside or outside the counted window at random (0.1 M an evaluation).
Hash seeds are fixed (PYTHONHASHSEED=0): set and dict orders move the count by up to 2%.
Compare counts taken with the same --count only: the per-message figure shifts with it
(html-18k on one commit: 7.49 M with 30, 7.21 M with 100).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def evaluate_loop(message: str, count: int) -> None:
    """The counted program: warm up on 8 variants, freeze the collector, evaluate `count`."""
    import gc

    sys.path.insert(0, str(HERE))
    from messages import BUYER, MESSAGES, SELLER

    from relay.config import Config
    from relay.inspect import build_settings
    from relay.message import Envelope
    from relay.policy.engine import evaluate

    settings = build_settings(Config())
    envelope = Envelope(SELLER, (BUYER,))
    raws = [MESSAGES[message](i) for i in range(8)]
    for i in range(16):
        evaluate(raws[i % 8], envelope, settings.ctx, settings.limits)
    gc.collect()
    gc.freeze()
    for i in range(count):
        evaluate(raws[i % 8], envelope, settings.ctx, settings.limits)


def counted(message: str, count: int) -> int:
    """Instructions callgrind counts for the whole program evaluating `count` messages."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out",
             sys.executable, __file__, "--run", "--message", message, "--count", str(count)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    m = re.search(r"Collected : (\d+)", out.stderr)
    if m is None:
        raise SystemExit(f"error: no instruction count in valgrind's output: {out.stderr[-300:]}")
    return int(m.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--message", default="html-18k")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        evaluate_loop(args.message, args.count)
        return 0
    per_message = (counted(args.message, args.count) - counted(args.message, 0)) / args.count
    print(f"{args.message}: {per_message / 1e6:.3f} M instructions an evaluation")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
