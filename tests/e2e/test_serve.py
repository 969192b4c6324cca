"""`bsm-relay serve` as a process: start-up, the per-message JSON log line, clean shutdown."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from client import send
from harness import Sink
from mail import BUYER, SELLER, build
from peers import free_port, relay_toml


async def wait_listening(port: int, proc: asyncio.subprocess.Process) -> None:
    for _ in range(200):
        if proc.returncode is not None:
            raise AssertionError(f"relay exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError("relay did not listen")


async def test_serve_logs_one_json_line_per_message(tmp_path: Path, sink: Sink) -> None:
    """Each message gives one JSON line with id, peer, envelope, action, rules, sizes and timings."""
    port = free_port()
    log = tmp_path / "relay.log"
    (tmp_path / "relay.toml").write_text(relay_toml(port, sink.port, senders=(SELLER,), log=log))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relay",
        "serve",
        "--config",
        str(tmp_path / "relay.toml"),
        cwd=tmp_path,
    )
    try:
        await wait_listening(port, proc)
        ok = await send(port, SELLER, [BUYER], build(message_id="<ok-1@x>"))
        bad = await send(
            port, SELLER, [BUYER], build(subject="Adresse", reply=False, message_id="<bad-1@x>")
        )
        refused = await send(port, SELLER, ["someone@gmail.com"], build())
        assert (ok.code, bad.code, refused.code) == (250, 550, 550)
    finally:
        proc.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(proc.wait(), 15)
    assert status == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    messages = {line["message_id"]: line for line in lines if line["event"] == "message"}
    assert set(messages) == {"<ok-1@x>", "<bad-1@x>"}
    good = messages["<ok-1@x>"]
    assert (good["action"], good["mail_from"], good["rcpt_to"], good["rules"]) == (
        "deliver",
        SELLER,
        [BUYER],
        [],
    )
    assert good["upstream"].startswith("2.0.0 Ok: queued")
    for key in (
        "peer",
        "session",
        "txn",
        "size",
        "size_out",
        "inspect_ms",
        "total_ms",
        "timestamp",
        "quarantine_id",
    ):
        assert key in good
    rejected = messages["<bad-1@x>"]
    assert (rejected["action"], rejected["rules"]) == ("reject", ["order_id_missing"])
    assert rejected["findings"][0]["reason"].startswith("add the 17-digit order id")
    envelope = [line for line in lines if line["event"] == "envelope"]
    assert [(e["stage"], e["rules"]) for e in envelope] == [("RCPT", ["recipient_not_marketplace"])]
    assert lines[-1]["event"] == "stopped"
