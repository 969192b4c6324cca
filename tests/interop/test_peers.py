"""Interop with real MTAs from Debian: swaks, Postfix (relayhost, smtp-source, smtp-sink)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from interop_tools import RelayProcess, SmtpSink, start_relay_process
from mail import BUYER, SELLER, build
from peers import PostfixInstance, free_port

pytestmark = pytest.mark.interop


def swaks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["swaks", "--hide-informational", *args], capture_output=True, text=True, timeout=60
    )


def test_swaks_pipelining_8bit_compliant_reply(
    relay_process: RelayProcess, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """swaks pipelines its commands with an 8-bit UTF-8 body; the message reaches smtp-sink intact."""
    data = tmp_path / "m.eml"
    data.write_bytes(build(body="Die Teekanne ist spülmaschinenfest. Grüße"))
    out = swaks("--server", f"127.0.0.1:{relay_process.port}", "--pipeline", "--from", SELLER,
                "--to", BUYER, "--data", f"@{data}")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PIPELINING" in out.stdout
    assert "250 2.0.0 Ok: delivered" in out.stdout
    [dump] = smtp_sink.wait_for(1)
    assert "spülmaschinenfest".encode() in dump
    assert f"X-Rcpt-Args: <{BUYER}>".encode() in dump


def test_swaks_foreign_recipient_refused(relay_process: RelayProcess) -> None:
    """swaks to a gmail address is refused at RCPT with 550 5.7.1."""
    out = swaks(
        "--server", f"127.0.0.1:{relay_process.port}", "--from", SELLER, "--to", "someone@gmail.com"
    )
    assert out.returncode != 0
    assert "550-5.7.1" in out.stdout or "550 5.7.1" in out.stdout


def test_smtp_source_sessions_through_relay(
    relay_process: RelayProcess, smtp_sink: SmtpSink
) -> None:
    """Postfix's smtp-source: 40 replies in 4 parallel sessions all reach smtp-sink."""
    result = subprocess.run(
        ["/usr/sbin/smtp-source", "-s", "4", "-m", "40", "-f", SELLER, "-t", BUYER, "-S", "Re: Lieferzeit",
         "-M", "client.test", f"127.0.0.1:{relay_process.port}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(smtp_sink.wait_for(40)) == 40
    log = relay_process.log_holding('"event": "message"', 40)
    actions = [json.loads(line)["action"] for line in log.splitlines() if '"message"' in line]
    assert actions == ["deliver"] * 40


def test_postfix_relayhost_through_relay(
    tmp_path: Path, smtp_sink: SmtpSink, postfix_root: Path
) -> None:
    """A Postfix instance with the relay as relayhost: sendmail -> Postfix -> relay -> smtp-sink."""
    workdir = tmp_path / "relay"
    workdir.mkdir()
    relay = start_relay_process(workdir, smtp_sink.port)
    postfix = PostfixInstance(
        postfix_root, relayhost=f"[127.0.0.1]:{relay.port}", smtpd_port=free_port()
    )
    try:
        postfix.start()
        good = build(body="Die Teekanne ist spülmaschinenfest.", message_id="<pf-good@x>")
        bad = build(subject="Adresse", reply=False, message_id="<pf-bad@x>")
        postfix.sendmail(SELLER, [BUYER], good)
        postfix.sendmail(SELLER, [BUYER], bad)
        dumps = smtp_sink.wait_for(1)
        deadline = time.monotonic() + 20
        while "<pf-bad@x>" not in relay.log and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(dumps) == 1, postfix.log()
        assert b"<pf-good@x>" in dumps[0]
        assert "spülmaschinenfest".encode() in dumps[0]
        assert b"BODY=8BITMIME" in dumps[0]  # Postfix declared 8-bit, the relay passed it on
        # The policy reject became a bounce in Postfix: status=bounced with the relay's reason.
        deadline = time.monotonic() + 20
        while "status=bounced" not in postfix.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "order_id_missing" in postfix.log()
    finally:
        postfix.stop()
        relay.proc.terminate()
        relay.proc.wait(15)
