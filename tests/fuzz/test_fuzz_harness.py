"""The atheris harness runs for a bounded time (CI: 10 s) and finds no crash.

A longer campaign is `python tests/fuzz/fuzz_message.py -max_total_time=3600 DIR`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from data.malformed import cases

HARNESS = Path(__file__).with_name("fuzz_message.py")


def test_fuzzer_runs_bounded_without_findings(tmp_path: Path) -> None:
    """libFuzzer exits 0 after max_total_time when no input crashed the target; it starts
    from the malformed corpus so it begins deep inside the parser."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for i, (_, raw) in enumerate(cases()):
        if len(raw) < 64 * 1024:
            (seeds / f"seed-{i}").write_bytes(raw)
    result = subprocess.run(
        [sys.executable, str(HARNESS), "-max_total_time=10", "-max_len=65536",
         "-rss_limit_mb=2048", "-timeout=10", f"-artifact_prefix={tmp_path}/", str(seeds)],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )  # fmt: skip
    tail = result.stderr[-2000:]
    crashes = sorted(p.name for p in tmp_path.glob("crash-*")) + sorted(
        p.name for p in tmp_path.glob("timeout-*")
    )
    assert (result.returncode, crashes) == (0, []), tail
    assert "Done" in result.stderr, tail
