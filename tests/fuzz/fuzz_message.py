"""Coverage-guided fuzzing of the message parser and the policy with atheris (libFuzzer).

    .venv/bin/python tests/fuzz/fuzz_message.py -max_total_time=60 [corpus-dir]

The target is what an inspection worker runs on every message: `evaluate` (structure scan,
email parse, HTML scan, every rule, the fixers). Any exception is a finding. The seed corpus
is the public evaluation corpus and the malformed-input corpus, when given as directories.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["relay"]):
    from relay.config import Config
    from relay.inspect import build_settings
    from relay.message import Envelope
    from relay.policy.engine import evaluate
    from relay.policy.model import Action

SETTINGS = build_settings(Config())
ENVELOPE = Envelope("support@nordlicht-home.example", ("kc9o3rt5g88dt@marketplace.amazon.de",))
VERDICTS = {Action.DELIVER, Action.STRIP, Action.QUARANTINE, Action.REJECT}


def test_one_input(data: bytes) -> None:
    ev = evaluate(data, ENVELOPE, SETTINGS.ctx, SETTINGS.limits)
    if ev.verdict.action not in VERDICTS:
        raise AssertionError(f"no verdict: {ev.verdict.action}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
