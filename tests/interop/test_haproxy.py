"""HAProxy (Debian's) in front, speaking PROXY protocol v1 and v2: the relay sees, logs and
applies its network allow-list to the real client address, not the balancer's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from harness import Sink
from mail import BUYER, SELLER, build
from peers import free_port, relay_toml, wait_port
from rawsmtp import RawSMTP

ALLOWED, STRANGER = "127.0.0.2", "127.0.0.3"  # loopback aliases as two client hosts
BEHIND_HAPROXY = 'workers = 1\nproxy_protocol = true\nproxy_networks = ["127.0.0.1/32"]'


def haproxy_config(front: int, relay: int, send_proxy: str) -> str:
    return f"""\
global
    maxconn 200
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend smtp
    bind 127.0.0.1:{front}
    default_backend relays
backend relays
    server relay1 127.0.0.1:{relay} {send_proxy}
"""


async def transaction(port: int, source: str) -> list[int]:
    client, banner = await RawSMTP.connect(port, source=source)
    codes = [banner.code]
    for line in ("EHLO client.test", f"MAIL FROM:<{SELLER}>", f"RCPT TO:<{BUYER}>", "DATA"):
        codes.append((await client.command(line)).code)
        if codes[-1] >= 400:
            break
    if codes[-1] == 354:
        await client.send(build() + b".\r\n")
        codes.append((await client.reply()).code)
    await client.command("QUIT")
    await client.close()
    return codes


@pytest.mark.parametrize("send_proxy", ["send-proxy", "send-proxy-v2"])
async def test_real_client_address_through_haproxy(send_proxy: str, tmp_path: Path, sink: Sink):
    """Through HAProxy, a client on 127.0.0.2 (in the networks) relays and is logged with its
    own address; one on 127.0.0.3 is outside the networks and gets 530 at MAIL FROM."""
    relay_port, front = free_port(), free_port()
    log = tmp_path / "relay.log"
    (tmp_path / "relay.toml").write_text(
        relay_toml(relay_port, sink.port, senders=(SELLER,), server=BEHIND_HAPROXY, log=log,
                   sections=f'[access]\nnetworks = ["{ALLOWED}/32"]\n')
    )  # fmt: skip
    (tmp_path / "haproxy.cfg").write_text(haproxy_config(front, relay_port, send_proxy))
    relay = subprocess.Popen([sys.executable, "-m", "relay", "serve", "--config", "relay.toml"],
                             cwd=tmp_path)  # fmt: skip
    balancer = subprocess.Popen(["haproxy", "-f", str(tmp_path / "haproxy.cfg"), "-db"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_port(relay_port, relay)
        wait_port(front, balancer)
        allowed = await transaction(front, ALLOWED)
        stranger = await transaction(front, STRANGER)
    finally:
        balancer.terminate()
        relay.terminate()
        balancer.wait(10)
        relay.wait(20)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    peers = [e["peer"].rsplit(":", 1)[0] for e in events if e.get("event") == "message"]
    refused = [e for e in events if e.get("event") == "envelope" and e.get("stage") == "MAIL"]
    assert (allowed, stranger) == ([220, 250, 250, 250, 354, 250], [220, 250, 530])
    assert (peers, len(sink.messages), refused[0]["peer"].rsplit(":", 1)[0]) == (
        [ALLOWED], 1, STRANGER,
    )  # fmt: skip


async def test_proxy_header_from_an_untrusted_host_is_refused(tmp_path: Path, sink: Sink):
    """A client that is not a trusted balancer cannot claim another address with a PROXY
    header: the connection is closed before the greeting."""
    relay_port = free_port()
    (tmp_path / "relay.toml").write_text(relay_toml(relay_port, sink.port, server=BEHIND_HAPROXY))
    relay = subprocess.Popen([sys.executable, "-m", "relay", "serve", "--config", "relay.toml"],
                             cwd=tmp_path)  # fmt: skip
    try:
        wait_port(relay_port, relay)
        client, _ = await RawSMTP.connect(relay_port, greet=False, source=STRANGER)
        await client.send(b"PROXY TCP4 10.9.9.9 127.0.0.1 40000 25\r\n")
        reply = await client.reply()
        await client.close()
    finally:
        relay.terminate()
        relay.wait(20)
    assert reply.code == 0  # closed without a greeting


def test_deploy_example_is_a_valid_haproxy_configuration() -> None:
    """deploy/haproxy/haproxy.cfg passes `haproxy -c`."""
    path = Path(__file__).resolve().parents[2] / "deploy" / "haproxy" / "haproxy.cfg"
    result = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True,
                            timeout=30)  # fmt: skip
    assert (result.returncode, "valid" in result.stdout + result.stderr) == (0, True)
