"""The running relay: metrics and health, SIGHUP reload mid-traffic, SIGTERM drain, log review."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import signal
import sys
from pathlib import Path

import aiosmtplib
from client import send
from harness import Sink, make_config
from mail import BUYER, SELLER, build, html_reply
from peers import free_port, relay_toml

from relay.config import MetricsConfig

RELAY = [sys.executable, "-m", "relay"]


async def http_get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))  # exposition sorts labels
    pattern = rf"^{name}{{{want}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else 0.0


async def test_metrics_move_with_traffic(tmp_path: Path, sink: Sink, start_relay) -> None:
    """After traffic, /metrics shows messages by action, findings by rule, upstream classes,
    latencies, refusals and the quarantine size; /healthz says ok."""
    cfg = dataclasses.replace(
        make_config(tmp_path, sink.port), metrics=MetricsConfig("127.0.0.1:0")
    )
    relay = await start_relay(cfg)
    status, before = await http_get(relay.metrics_port, "/metrics")
    assert status == 200
    await send(relay.port, SELLER, [BUYER], build())
    await send(relay.port, SELLER, [BUYER], build(subject="Adresse", reply=False))
    await send(relay.port, SELLER, [BUYER], build(html=html_reply('<img src="cid:x">')))
    await send(relay.port, SELLER, ["x@gmail.com"], build())
    _, after = await http_get(relay.metrics_port, "/metrics")
    assert metric(after, "bsm_messages_total", action="deliver") == 1
    assert metric(after, "bsm_messages_total", action="reject") == 1
    assert metric(after, "bsm_messages_total", action="quarantine") == 1
    assert metric(after, "bsm_findings_total", rule="order_id_missing", action="reject") == 1
    assert metric(after, "bsm_upstream_replies_total", **{"class": "2xx"}) == 1
    assert (
        metric(after, "bsm_envelope_rejects_total", stage="RCPT", rule="recipient_not_marketplace")
        == 1
    )
    assert metric(after, "bsm_message_seconds_count") == 3
    assert metric(after, "bsm_quarantine_messages") == 1
    assert metric(before, "bsm_messages_total", action="deliver") == 0
    status, health = await http_get(relay.metrics_port, "/healthz")
    assert (status, json.loads(health)["status"]) == (200, "ok")


async def serve(tmp_path: Path, sink: Sink) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    (tmp_path / "relay.toml").write_text(
        relay_toml(port, sink.port, senders=(SELLER,), server="workers = 1\nshutdown_grace = 10.0",
                   sections=f'[policy]\nfile = "{tmp_path / "policy.toml"}"\n',
                   log=tmp_path / "relay.log")
    )  # fmt: skip
    (tmp_path / "policy.toml").touch()
    proc = await asyncio.create_subprocess_exec(
        *RELAY, "serve", "--config", str(tmp_path / "relay.toml"), cwd=tmp_path
    )
    for _ in range(300):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return proc, port
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError("relay did not start")


async def test_sighup_changes_a_rule_mid_traffic(tmp_path: Path, sink: Sink) -> None:
    """A client keeps one session open and sends all along; SIGHUP turns order_id_missing to
    log: later messages pass, no session fails; an invalid policy keeps the running one."""
    proc, port = await serve(tmp_path, sink)
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30)
    await client.connect()
    codes = []
    try:
        for i in range(30):
            if i == 10:
                (tmp_path / "policy.toml").write_text('[rules.order_id_missing]\naction = "log"\n')
                proc.send_signal(signal.SIGHUP)
                await asyncio.sleep(1.0)
            if i == 20:
                (tmp_path / "policy.toml").write_text("[rules.order_id_missing\n")
                proc.send_signal(signal.SIGHUP)
                await asyncio.sleep(1.0)
            try:
                await client.sendmail(SELLER, [BUYER], build(subject="Adresse", reply=False))
                codes.append(250)
            except aiosmtplib.SMTPResponseException as exc:
                codes.append(exc.code)
        await client.quit()
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    assert codes == [550] * 10 + [250] * 20
    log = [json.loads(line) for line in (tmp_path / "relay.log").read_text().splitlines()]
    events = [e["event"] for e in log if e["event"] in ("reloaded", "reload-refused")]
    assert events == ["reloaded", "reload-refused"]


async def test_sigterm_lets_the_open_transaction_finish(tmp_path: Path, sink: Sink) -> None:
    """SIGTERM during a slow delivery: that message still gets its 250, then 421; idle
    sessions get 421 at once; the process exits 0 and accepts no new connection."""
    sink.delay = 1.5
    proc, port = await serve(tmp_path, sink)
    idle = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30)
    await idle.connect()
    busy = asyncio.create_task(send(port, SELLER, [BUYER], build()))
    await asyncio.sleep(0.7)  # the message is now with the slow upstream
    proc.send_signal(signal.SIGTERM)
    reply = await busy
    assert reply.code == 250
    assert len(sink.messages) == 1
    try:
        await idle.noop()
        idle_code = 250
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPResponseException) as exc:
        idle_code = getattr(exc, "code", 421)
    assert idle_code == 421
    assert await asyncio.wait_for(proc.wait(), 15) == 0
    try:
        await asyncio.open_connection("127.0.0.1", port)
        refused = False
    except OSError:
        refused = True
    assert refused


async def test_log_finds_a_rejected_message(tmp_path: Path, sink: Sink) -> None:
    """`bsm-relay log` finds the rejected message by message-id and by order id, and sums up."""
    proc, port = await serve(tmp_path, sink)
    order = "305-1111111-2222222"
    try:
        await send(port, SELLER, [BUYER], build(message_id="<ok@x>"))
        bad = build(subject=f"Bestellung {order}", body="Folgen Sie uns auf Instagram!", reply=False,
                    message_id="<bad@x>")  # fmt: skip
        assert (await send(port, SELLER, [BUYER], bad)).code == 550
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    config = ["--config", str(tmp_path / "relay.toml")]

    async def log(*args: str) -> tuple[int, str]:
        p = await asyncio.create_subprocess_exec(
            *RELAY, "log", *args, *config, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await p.communicate()
        return p.returncode or 0, out.decode()

    status, by_id = await log("--message-id", "bad@x")
    assert status == 0
    assert by_id.count("\n") == 1
    assert "reject" in by_id
    assert "marketing" in by_id
    status, by_order = await log("--order", order, "--json")
    assert [json.loads(line)["message_id"] for line in by_order.splitlines()] == ["<bad@x>"]
    status, summary = await log("--summary")
    assert "deliver" in summary
    assert "marketing" in summary
    assert (await log("--message-id", "nothing@x"))[0] == 1
