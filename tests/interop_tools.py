"""Interop helpers: a relay running as its own process, and Postfix's smtp-sink."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mail import OTHER_SELLER, SELLER
from peers import free_port, relay_toml, wait_port


@dataclass
class SmtpSink:
    """Postfix's smtp-sink, dumping each transaction into `folder`."""

    port: int
    folder: Path
    proc: subprocess.Popen[bytes]

    def messages(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.folder.glob("*")) if p.is_file()]

    def wait_for(self, count: int, seconds: float = 20) -> list[bytes]:
        deadline = time.monotonic() + seconds
        while len(self.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.messages()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    # smtp-sink drops root for "nobody", who cannot enter pytest's private tmp_path.
    root = Path(tempfile.mkdtemp(prefix="bsm-smtp-sink-"))
    os.chmod(root, 0o777)
    port = free_port()
    proc = subprocess.Popen(
        [
            "/usr/sbin/smtp-sink",
            "-u",
            "nobody",
            "-d",
            f"{root}/dump/%H%M%S.",
            f"127.0.0.1:{port}",
            "64",
        ]
    )
    wait_port(port, proc)
    yield SmtpSink(port, root / "dump", proc)
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class RelayProcess:
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        return (self.workdir / "relay.log").read_text()

    def log_holding(self, needle: str, count: int = 1, seconds: float = 10.0) -> str:
        """The log once it holds `needle` `count` times (or at the deadline): the relay's
        writer thread puts a line in the file a moment after the SMTP reply went out."""
        deadline = time.monotonic() + seconds
        text = self.log
        while text.count(needle) < count and time.monotonic() < deadline:
            time.sleep(0.02)
            text = self.log
        return text


def start_relay_process(workdir: Path, upstream_port: int, extra: str = "") -> RelayProcess:
    port = free_port()
    config = relay_toml(port, upstream_port, senders=(SELLER, OTHER_SELLER),
                        server='workers = 1\nhostname = "bsm-relay.test"',
                        log=workdir / "relay.log", sections=extra)  # fmt: skip
    (workdir / "relay.toml").write_text(config)
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay", "serve", "--config", str(workdir / "relay.toml")],
        cwd=workdir,
    )
    wait_port(port, proc)
    return RelayProcess(port, workdir, proc)


@pytest.fixture
def relay_process(tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[RelayProcess]:
    """The relay as users run it, delivering to Postfix's smtp-sink."""
    workdir = tmp_path / "relay"
    workdir.mkdir()
    relay = start_relay_process(workdir, smtp_sink.port)
    yield relay
    relay.proc.send_signal(signal.SIGTERM)
    relay.proc.wait(15)


@pytest.fixture
def postfix_root() -> Iterator[Path]:
    """A folder Postfix's unprivileged daemons can enter (pytest's tmp_path is root-only)."""
    root = Path(tempfile.mkdtemp(prefix="bsm-postfix-"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server (Debian's) on a free loopback port, no persistence."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(port, proc)
    yield RedisServer(port, proc)
    proc.terminate()
    proc.wait(10)
